/**
 * Holding through the real activator process: per-model and global bounds (503 + Retry-After), cold-start
 * timeout (504 naming what was observed), a client leaving while held, and the per-replica concurrency cap.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import type { ClientRequest } from "node:http";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { TestBackend } from "../../testing/activator/backend";
import { config, model } from "../../testing/activator/config";
import { eventually, keepAliveAgent, send, sendJson, sendRaw, type HttpResult } from "../../testing/activator/http";
import { KedaClient } from "../../testing/activator/kedaClient";

type ErrorBody = { error: { code: string; message: string; model?: string; lastObserved?: string } };
type Queue = { held: number; inFlight: number; models: Record<string, { held: number; inFlight: number; ready: boolean }> };

describe("activator: holding", function () {
  this.timeout(30_000);
  const agent = keepAliveAgent();
  let act: ActivatorProcess;
  let keda: KedaClient;
  let down: TestBackend; // never started: every model behind it stays cold
  let late: TestBackend; // started only after its model's requests gave up
  let warm: TestBackend;

  before(async () => {
    down = await TestBackend.create();
    late = await TestBackend.create();
    warm = await TestBackend.create();
    await warm.start();
    act = await ActivatorProcess.start(
      config(
        [
          model("full", down.url, { maxPending: 2, coldStartTimeoutSeconds: 1.5 }),
          model("other", down.url, { coldStartTimeoutSeconds: 1.5 }),
          model("never", late.url, { coldStartTimeoutSeconds: 0.3 }),
          model("gone", down.url, { coldStartTimeoutSeconds: 30 }),
          model("warm", warm.url),
          model("capped", warm.url, { maxConcurrencyPerReplica: 2 }),
        ],
        { limits: { maxPendingTotal: 4 } },
      ),
    );
    keda = new KedaClient(act.scalerAddress);
  });
  after(async () => {
    keda.close();
    agent.destroy();
    await act.stop();
    await Promise.all([warm.stop(), late.stop()]);
  });

  const get = (name: string, extra: { onRequest?: (req: ClientRequest) => void; headers?: Record<string, string> } = {}) =>
    send(`${act.proxyUrl}/predict`, { headers: { host: `${name}.test`, ...extra.headers }, agent, ...(extra.onRequest ? { onRequest: extra.onRequest } : {}) });
  const queue = async () => (await sendJson<Queue>(`${act.adminUrl}/queue`)).json;
  const errorOf = (res: HttpResult) => (JSON.parse(res.body) as ErrorBody).error;

  it("rejects beyond maxPending and the global bound with 503, Retry-After and a JSON error; other models unaffected", async () => {
    const held = [get("full"), get("full")];
    await eventually(async () => (await queue()).models["test/full"]!.held === 2, "2 requests held for test/full");
    assert.equal(await keda.isActive("test/full"), true, "held requests make the model active for KEDA");
    assert.equal((await keda.getMetrics("test/full"))[0]!.metricValue, 2);

    const overflow = await get("full");
    assert.equal(overflow.status, 503);
    assert.equal(overflow.headers["retry-after"], "1");
    assert.match(String(overflow.headers["content-type"]), /application\/json/);
    assert.equal(errorOf(overflow).code, "model_queue_full");
    assert.match(errorOf(overflow).message, /test\/full/);

    const unaffected = await get("warm");
    assert.equal(unaffected.status, 200, "a warm model is served while another is full");

    held.push(get("other"), get("other"));
    await eventually(async () => (await queue()).held === 4, "4 requests held in total");
    const globalOverflow = await get("other");
    assert.equal(globalOverflow.status, 503);
    assert.equal(errorOf(globalOverflow).code, "global_queue_full");
    assert.equal(globalOverflow.headers["retry-after"], "1");

    // The backend never comes up: every held request ends with the cold-start 504.
    for (const res of await Promise.all(held)) assert.equal(res.status, 504);
    const metrics = (await send(`${act.adminUrl}/metrics`)).body;
    assert.match(metrics, /activator_rejections_total\{model="test\/full",reason="model_queue_full"\} 1/);
    assert.match(metrics, /activator_rejections_total\{model="test\/other",reason="global_queue_full"\} 1/);
  });

  it("answers 504 naming the model and what readiness last observed when no replica is ready in time", async () => {
    const started = performance.now();
    const res = await get("never");
    const waited = performance.now() - started;
    assert.equal(res.status, 504);
    const error = errorOf(res);
    assert.equal(error.code, "cold_start_timeout");
    assert.equal(error.model, "test/never");
    assert.match(error.message, /test\/never had no ready replica within 0\.3s/);
    assert.match(error.lastObserved ?? "", /GET http:\/\/127\.0\.0\.1:\d+\/health failed: ECONNREFUSED/);
    assert.ok(waited >= 290 && waited < 2000, `held for the cold-start timeout (${waited.toFixed(0)} ms)`);

    // The replica comes up after everyone gave up: no cold start is recorded for a wait nobody is in.
    await late.start();
    await eventually(async () => (await queue()).models["test/never"]!.ready, "test/never to become ready");
    assert.ok(!act.logs.some((l) => l.msg === "cold start" && l["model"] === "test/never"), "no cold start logged");
    assert.match((await send(`${act.adminUrl}/metrics`)).body, /activator_cold_starts_total\{model="test\/never",outcome="served",cause=""\} 0\n/);
  });

  it("stops counting a held request the moment its client disconnects", async () => {
    let request: ClientRequest | undefined;
    const pending = get("gone", { onRequest: (req) => (request = req) }).catch((err: Error) => err);
    await eventually(async () => (await queue()).models["test/gone"]!.held === 1, "the request to be held");
    assert.equal((await keda.getMetrics("test/gone"))[0]!.metricValue, 1);

    const leftAt = performance.now();
    request!.destroy();
    await eventually(async () => (await queue()).models["test/gone"]!.held === 0, "the held count to drop", 1000);
    const freedMs = performance.now() - leftAt;
    assert.ok((await pending) instanceof Error, "the client saw its own disconnect");
    assert.equal((await keda.getMetrics("test/gone"))[0]!.metricValue, 0, "KEDA's metric drops with it");
    assert.equal(await keda.isActive("test/gone"), true, "the request that just left is activity, told to the next poll once");
    assert.equal(await keda.isActive("test/gone"), false, "then the model is idle");
    const metrics = (await send(`${act.adminUrl}/metrics`)).body;
    assert.match(metrics, /activator_held_requests\{model="test\/gone"\} 0/);
    assert.match(metrics, /activator_requests_total\{model="test\/gone",status="499"\} 1/);
    console.log(`      held slot freed ${freedMs.toFixed(1)} ms after the client left`);
  });

  it("keeps a held client's connection alive at the TCP level, so a load balancer's idle timeout does not cut it", async () => {
    let request: ClientRequest | undefined;
    const pending = get("gone", { onRequest: (req) => (request = req) }).catch((err: Error) => err);
    await eventually(async () => (await queue()).models["test/gone"]!.held === 1, "the request to be held");
    try {
      // ss shows the kernel's keepalive timer on the activator's side of the held connection.
      const sockets = execFileSync("ss", ["-tnoH", "state", "established", `( sport = :${act.proxyPort} )`], { encoding: "utf8" });
      assert.match(sockets, /timer:\(keepalive,/, `no keepalive timer on the proxy's sockets:\n${sockets}`);
    } finally {
      request!.destroy();
      await pending;
      await eventually(async () => (await queue()).models["test/gone"]!.held === 0, "the held count to drop", 1000);
    }
  });

  it("stops counting pipelined requests, held or in flight, the moment their connection closes", async () => {
    // Three requests pipelined on one connection: the first in flight, the second queued behind it (its response
    // has no socket yet, so Node never reports its close), the third held for a cold model.
    const pipelined = [
      "GET /1 HTTP/1.1\r\nHost: warm.test\r\nx-backend-delay: 400\r\n\r\n",
      "GET /2 HTTP/1.1\r\nHost: warm.test\r\nx-backend-delay: 400\r\n\r\n",
      "GET /3 HTTP/1.1\r\nHost: gone.test\r\n\r\n",
    ].join("");
    const closing = sendRaw(act.proxyPort, pipelined, { closeAfterMs: 100 });
    await eventually(async () => {
      const q = await queue();
      return q.models["test/warm"]!.inFlight === 2 && q.models["test/gone"]!.held === 1;
    }, "2 in flight and 1 held");
    await closing;
    await eventually(async () => {
      const q = await queue();
      return q.held === 0 && q.inFlight === 0;
    }, "nothing counted any more", 300);
    // Requests that just left are activity, told to the next poll once; then KEDA may scale the model down.
    for (const key of ["test/warm", "test/gone"]) assert.equal(await keda.isActive(key), true, key);
    assert.equal(await keda.isActive("test/warm"), false, "KEDA may scale the model down");
    assert.equal(await keda.isActive("test/gone"), false);
  });

  it("meters release with the per-replica concurrency cap, in arrival order", async () => {
    warm.resetCounts();
    const sent: Promise<HttpResult>[] = [];
    for (let i = 0; i < 6; i++) {
      sent.push(get("capped", { headers: { "x-backend-delay": "150" } }));
      await new Promise((r) => setTimeout(r, 10)); // a known arrival order
    }
    const results = await Promise.all(sent);
    for (const res of results) assert.equal(res.status, 200);
    for (let i = 0; i + 2 < results.length; i++) {
      assert.ok(results[i + 2]!.firstByteAt > results[i]!.firstByteAt + 100, `request ${i + 2} was released after request ${i} finished`);
    }
    assert.equal(warm.maxActive, 2, "never more than maxConcurrencyPerReplica × 1 replica in flight");
    const waits = results.map((r) => (r.headers["x-activator-wait-ms"] === undefined ? 0 : Number(r.headers["x-activator-wait-ms"])));
    assert.ok(waits.filter((w) => w >= 100).length >= 2, `later requests waited for a slot (${waits.join(", ")} ms)`);
    for (const res of results) assert.equal(res.headers["x-activator-cold-start"], "false", "held for a slot, not a cold start");
  });
});
