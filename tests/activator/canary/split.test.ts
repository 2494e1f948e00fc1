/**
 * The canary split through the real activator process (probe readiness), over real sockets: the measured split
 * within a binomial bound of the weight, stickiness by session header, `strict` vs `stable-first` for a cold canary,
 * and promotion and rollback as config reloads that lose no held or in-flight request.
 */
import { strict as assert } from "node:assert";
import { ActivatorProcess } from "../../../testing/activator/activatorProcess";
import { TestBackend } from "../../../testing/activator/backend";
import { config, model } from "../../../testing/activator/config";
import { eventually, keepAliveAgent, send, sendJson, type HttpResult } from "../../../testing/activator/http";

type CanaryView = { model: string; trafficPercent: number; draws: Record<string, number>; fallbacks: Record<string, number> };
type Queue = { held: number; inFlight: number; models: Record<string, { held: number; inFlight: number; ready: boolean; canary?: CanaryView; canaryOf?: string }> };

const canary = (backend: string, extra: Record<string, unknown> = {}) => ({ backend, trafficPercent: 25, stickiness: { by: "none" as const }, ...extra });

describe("activator: canary split", function () {
  this.timeout(60_000);
  const agent = keepAliveAgent();
  let act: ActivatorProcess;
  let stable: TestBackend;
  let next: TestBackend; // the canary of split, sticky and strict; started when a test needs it up
  let nextUp: TestBackend; // an always-up canary
  let down: TestBackend; // never started

  before(async () => {
    [stable, next, nextUp, down] = await Promise.all([TestBackend.create(), TestBackend.create(), TestBackend.create(), TestBackend.create()]);
    await Promise.all([stable.start(), nextUp.start()]);
    act = await ActivatorProcess.start(
      config([
        model("split", stable.url, { canary: canary(nextUp.url) }),
        model("sticky", stable.url, { canary: canary(nextUp.url, { trafficPercent: 50, stickiness: { by: "header", header: "X-Conversation" } }) }),
        model("strict", stable.url, { canary: canary(next.url, { trafficPercent: 100, coldPolicy: "strict" }), coldStartTimeoutSeconds: 20 }),
        model("first", stable.url, { canary: canary(down.url, { trafficPercent: 100, coldPolicy: "stable-first" }) }),
      ]),
    );
  });
  after(async () => {
    agent.destroy();
    await act.stop();
    await Promise.all([stable.stop(), next.stop(), nextUp.stop()]);
  });

  const get = (name: string, headers: Record<string, string> = {}) => send(`${act.proxyUrl}/predict`, { headers: { host: `${name}.test`, ...headers }, agent });
  const servedBy = (res: HttpResult) => (JSON.parse(res.body) as { port: number }).port;
  const queue = async () => (await sendJson<Queue>(`${act.adminUrl}/queue`)).json;
  const metrics = async () => (await send(`${act.adminUrl}/metrics`)).body;
  const sample = (body: string, line: RegExp) => Number(line.exec(body)?.[1] ?? NaN);

  it("sends trafficPercent of the requests to the canary, within 5 σ of the binomial mean (400 requests at 25 %)", async () => {
    const n = 400;
    let toCanary = 0;
    for (let i = 0; i < n; i++) {
      const res = await get("split");
      assert.equal(res.status, 200);
      if (servedBy(res) === nextUp.port) toCanary++;
    }
    const sd = Math.sqrt(n * 0.25 * 0.75);
    assert.ok(Math.abs(toCanary - n * 0.25) <= 5 * sd, `${toCanary} of ${n} on the canary, expected 100 ± ${(5 * sd).toFixed(0)}`);
    const body = await metrics();
    assert.equal(sample(body, /^activator_canary_draws_total\{model="test\/split",version="canary"\} (\S+)$/m), toCanary);
    assert.equal(sample(body, /^activator_requests_total\{model="test\/split-canary",status="200"\} (\S+)$/m), toCanary, "the canary's requests are counted under its own model key");
    assert.equal(sample(body, /^activator_requests_total\{model="test\/split",status="200"\} (\S+)$/m), n - toCanary);
    const view = (await queue()).models["test/split"]!.canary!;
    assert.deepEqual(view.draws, { stable: n - toCanary, canary: toCanary });
    assert.equal((await queue()).models["test/split-canary"]!.canaryOf, "test/split");
  });

  it("keeps a conversation on one version by its session header; conversations split about evenly at 50 %", async () => {
    const versions = new Map<string, number>();
    for (let round = 0; round < 3; round++) {
      for (let c = 0; c < 60; c++) {
        const res = await get("sticky", { "x-conversation": `conv-${c}` });
        const port = servedBy(res);
        const seen = versions.get(`conv-${c}`);
        if (seen === undefined) versions.set(`conv-${c}`, port);
        else assert.equal(port, seen, `conv-${c} moved between versions on round ${round}`);
      }
    }
    const onCanary = [...versions.values()].filter((p) => p === nextUp.port).length;
    assert.ok(onCanary >= 60 * 0.5 - 5 * Math.sqrt(15) && onCanary <= 60 * 0.5 + 5 * Math.sqrt(15), `${onCanary} of 60 conversations on the canary`);
  });

  it("strict: a request drawn for a cold canary is held for the canary, not sent to the warm stable", async () => {
    const before = stable.requests;
    const pending = get("strict");
    await eventually(async () => (await queue()).models["test/strict-canary"]?.held === 1, "the request held for test/strict-canary");
    assert.equal((await queue()).models["test/strict"]!.held, 0);
    await next.start();
    const res = await pending;
    assert.equal(res.status, 200);
    assert.equal(servedBy(res), next.port, "served by the canary once it is up");
    assert.equal(stable.requests, before, "the stable got nothing");
  });

  it("stable-first: a request drawn for a cold canary goes to the warm stable, counted in metrics and /queue", async () => {
    for (let i = 0; i < 3; i++) {
      const res = await get("first");
      assert.equal(res.status, 200);
      assert.equal(servedBy(res), stable.port);
    }
    const body = await metrics();
    assert.equal(sample(body, /^activator_canary_fallbacks_total\{model="test\/first",reason="canary_cold"\} (\S+)$/m), 3);
    assert.equal(sample(body, /^activator_canary_draws_total\{model="test\/first",version="canary"\} (\S+)$/m), 3);
    assert.equal((await queue()).models["test/first"]!.canary!.fallbacks["canary_cold"], 3);
  });
});
