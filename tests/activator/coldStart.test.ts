/**
 * Cold starts through the real activator process: requests held while the model is at zero, activation pushed
 * on KEDA's StreamIsActive, the KEDA fake starting the backend when told active, everything answered.
 * Prints the measured push latency and cold-start overhead (first byte minus backend-ready instant).
 */
import { strict as assert } from "node:assert";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { TestBackend } from "../../testing/activator/backend";
import { config, model } from "../../testing/activator/config";
import { keepAliveAgent, percentile, send, sendJson, sseData } from "../../testing/activator/http";
import { KedaClient } from "../../testing/activator/kedaClient";

const BACKEND_BOOT_MS = 300;

describe("activator: cold start", function () {
  this.timeout(60_000);
  const agent = keepAliveAgent();
  let act: ActivatorProcess | undefined;
  let keda: KedaClient | undefined;
  const backends: TestBackend[] = [];

  afterEach(async () => {
    keda?.close();
    keda = undefined;
    await act?.stop();
    act = undefined;
    await Promise.all(backends.splice(0).map((b) => b.stop()));
  });
  after(() => agent.destroy());

  it("holds 500 concurrent mixed JSON/SSE requests through a cold start and answers every one correctly", async () => {
    const backend = await TestBackend.create();
    backends.push(backend);
    act = await ActivatorProcess.start(config([model("llm", backend.url, { openaiModels: ["llm-a"] })]));
    keda = new KedaClient(act.scalerAddress);
    const stream = keda.streamIsActive("test/llm");
    assert.equal((await stream.next()).result, false, "no demand yet: the stream opens with false");
    let pushAt: number | undefined;
    stream.onEvent((e) => {
      if (e.result && pushAt === undefined) {
        pushAt = e.at;
        // KEDA scales the Deployment up; the replica takes a while, and is up only once every request is held (on a
        // busy machine sending 500 requests can outlast a fixed boot delay, and late ones would find it warm).
        void allHeld(act!, 500).then(() => backend.startAfter(BACKEND_BOOT_MS));
      }
    });

    const results = await Promise.all(
      Array.from({ length: 500 }, async (_, i) => {
        const sse = i % 2 === 1;
        const body = JSON.stringify({ model: "llm-a", stream: sse, messages: [{ role: "user", content: `request ${i} é ✓` }] });
        const res = await send(`${act!.proxyUrl}/v1/chat/completions`, { body, headers: { "content-type": "application/json" }, agent });
        return { i, sse, body, res };
      }),
    );

    assert.ok(pushAt !== undefined && backend.listeningAt !== undefined);
    assert.ok(pushAt < backend.listeningAt, "activation was pushed before the backend started");
    for (const { i, sse, body, res } of results) {
      assert.equal(res.status, 200, `request ${i}: ${res.body}`);
      assert.equal(res.headers["x-activator-cold-start"], "true", `request ${i} was held for the cold start`);
      assert.ok(Number(res.headers["x-activator-wait-ms"]) > 0, `request ${i} reports its wait`);
      if (sse) {
        assert.match(String(res.headers["content-type"]), /text\/event-stream/);
        const events = sseData(res.body);
        assert.deepEqual(
          events.slice(0, -1).map((e) => (JSON.parse(e) as { index: number }).index),
          [0, 1, 2, 3, 4],
          `request ${i}: every SSE event relayed`,
        );
        assert.equal(events.at(-1), "[DONE]");
      } else {
        const echo = JSON.parse(res.body) as { body: string; bodyBytes: number; url: string };
        assert.equal(echo.body, body, `request ${i}: body forwarded byte for byte`);
        assert.equal(echo.bodyBytes, Buffer.byteLength(body));
        assert.equal(echo.url, "/v1/chat/completions");
      }
    }
    const firstByte = Math.min(...results.map((r) => r.res.firstByteAt));
    const lastByte = Math.max(...results.map((r) => r.res.chunks.at(-1)!.at));
    // 500 fresh connections at once on 2 cores (client and backend share this process): this measures the
    // machine as much as the activator; the sequential cold starts below measure the activator's overhead.
    console.log(
      `      500 held requests, after backend ready: ` +
        `first byte ${(firstByte - backend.listeningAt).toFixed(0)} ms, last byte ${(lastByte - backend.listeningAt).toFixed(0)} ms`,
    );
    assert.ok(lastByte - backend.listeningAt < 5000, "the burst is released and answered promptly");

    const queue = await sendJson<{ held: number; inFlight: number }>(`${act.adminUrl}/queue`);
    assert.deepEqual({ held: queue.json.held, inFlight: queue.json.inFlight }, { held: 0, inFlight: 0 });
    assert.ok(act.logs.some((l) => l.msg === "cold start" && l["model"] === "test/llm" && typeof l["durationMs"] === "number"));
  });

  it("pushes true once per cold start and serves every held request, over 20 cold starts (latency targets: bench/activationPush.ts, bench/coldPath.ts)", async () => {
    const count = 20;
    for (let i = 0; i < count; i++) backends.push(await TestBackend.create());
    act = await ActivatorProcess.start(config(backends.map((b, i) => model(`m${i}`, b.url))));
    const client = (keda = new KedaClient(act.scalerAddress));
    const pushLatencies: number[] = [];
    const overheads: number[] = [];
    for (let i = 0; i < count; i++) {
      const backend = backends[i]!;
      const stream = client.streamIsActive(`test/m${i}`);
      assert.equal((await stream.next()).result, false);
      let sentAt = 0;
      let pushed = false; // the first `true` only: the stream repeats it every heartbeat while the model is cold
      stream.onEvent((e) => {
        if (e.result && !pushed) {
          pushed = true;
          pushLatencies.push(e.at - sentAt);
          void backend.startAfter(100);
        }
      });
      sentAt = performance.now();
      const res = await send(`${act.proxyUrl}/cold`, { headers: { host: `m${i}.test` }, agent });
      assert.equal(res.status, 200, res.body);
      assert.equal(res.headers["x-activator-cold-start"], "true");
      overheads.push(res.firstByteAt - backend.listeningAt!);
      stream.cancel();
    }
    assert.equal(pushLatencies.length, count, "every cold start pushed true to the stream KEDA holds");
    const metrics = await send(`${act.adminUrl}/metrics`);
    const sum = Number(/^activator_activation_push_seconds_sum (\S+)$/m.exec(metrics.body)?.[1]);
    assert.equal(Number(/^activator_activation_push_seconds_count (\S+)$/m.exec(metrics.body)?.[1]), count, "one observation per cold start, over all models");
    assert.ok(sum > 0, "the activator measured its own push latency");
    const fmt = (v: number[]) => `p50 ${percentile(v, 50).toFixed(2)} ms, max ${Math.max(...v).toFixed(2)} ms`;
    console.log(`      push latency (request sent → true on StreamIsActive, ${count} cold starts): ${fmt(pushLatencies)}`);
    console.log(`      cold-start overhead (first byte − backend ready, ${count} cold starts): ${fmt(overheads)}`);
  });
});

/** Resolves once the activator's `/queue` shows `count` requests held. */
async function allHeld(act: ActivatorProcess, count: number): Promise<void> {
  for (;;) {
    const queue = await sendJson<{ held: number }>(`${act.adminUrl}/queue`);
    if (queue.json.held >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
