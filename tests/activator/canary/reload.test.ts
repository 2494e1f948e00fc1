/**
 * Promotion and rollback of a canary are config reloads (ConfigMap updates) that lose nothing, through the real
 * activator process over real sockets: requests held for a cold canary move to the stable when the canary is removed
 * (rollback), requests in flight on either version finish when the canary is promoted, and every client gets a 200.
 */
import { strict as assert } from "node:assert";
import { ActivatorProcess } from "../../../testing/activator/activatorProcess";
import { TestBackend } from "../../../testing/activator/backend";
import { config, model } from "../../../testing/activator/config";
import { eventually, keepAliveAgent, send, sendJson, type HttpResult } from "../../../testing/activator/http";

type Queue = { held: number; inFlight: number; models: Record<string, { held: number; inFlight: number }> };

describe("activator: canary promotion and rollback by config reload", function () {
  this.timeout(60_000);
  const agent = keepAliveAgent();
  let act: ActivatorProcess;
  let v1: TestBackend;
  let v2: TestBackend;
  let reloads = 0;

  const withCanary = (stableUrl: string, canaryUrl: string, trafficPercent: number) =>
    config([model("m", stableUrl, { coldStartTimeoutSeconds: 30, canary: { backend: canaryUrl, trafficPercent, stickiness: { by: "none" } } })]);
  const get = (headers: Record<string, string> = {}) => send(`${act.proxyUrl}/predict`, { headers: { host: "m.test", ...headers }, agent });
  const queue = async () => (await sendJson<Queue>(`${act.adminUrl}/queue`)).json;
  const servedBy = (res: HttpResult) => (JSON.parse(res.body) as { port: number }).port;
  async function reload(next: Record<string, unknown>): Promise<void> {
    reloads++;
    const seen = reloads;
    act.writeConfig(next);
    await eventually(() => act.logs.filter((l) => l.msg === "config reloaded").length >= seen, `config reload ${seen} applied`, 10_000);
  }

  before(async () => {
    [v1, v2] = await Promise.all([TestBackend.create(), TestBackend.create()]);
    await v1.start(); // v2, the canary, is down until the promotion test
    act = await ActivatorProcess.start(withCanary(v1.url, v2.url, 0));
  });
  after(async () => {
    agent.destroy();
    await act.stop();
    await Promise.all([v1.stop(), v2.stop()]);
  });

  it("rollback: removing a cold canary moves its held requests to the stable; in-flight stable requests finish", async () => {
    const inFlight = [get({ "x-backend-delay": "1500" }), get({ "x-backend-delay": "1500" })]; // 0 %: on the stable
    await eventually(async () => (await queue()).models["test/m"]!.inFlight === 2, "2 requests in flight on the stable");
    await reload(withCanary(v1.url, v2.url, 100));
    const held = Array.from({ length: 4 }, () => get());
    await eventually(async () => (await queue()).models["test/m-canary"]?.held === 4, "4 requests held for the cold canary");

    await reload(config([model("m", v1.url, { coldStartTimeoutSeconds: 30 })])); // rollback
    const answers = await Promise.all([...inFlight, ...held]);
    assert.deepEqual(answers.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
    for (const res of answers) assert.equal(servedBy(res), v1.port);
    const q = await queue();
    assert.equal(q.models["test/m-canary"], undefined, "the canary's state is gone");
    assert.equal(q.held + q.inFlight, 0);
    assert.ok(act.logs.some((l) => l.msg === "held requests moved to the stable" && l["held"] === 4 && l["cause"] === "canary_removed"));
  });

  it("promotion: the stable's backend becomes the canary's, the canary is removed; requests in flight on both versions finish", async () => {
    await v2.start();
    await reload(withCanary(v1.url, v2.url, 50));
    const slow = Array.from({ length: 16 }, () => get({ "x-backend-delay": "1500" }));
    await eventually(async () => (await queue()).inFlight === 16, "16 requests in flight");
    const q = await queue();
    assert.ok(q.models["test/m-canary"]!.inFlight > 0 && q.models["test/m"]!.inFlight > 0, `in flight on both versions: ${JSON.stringify(q.models)}`);

    await reload(config([model("m", v2.url, { coldStartTimeoutSeconds: 30 })])); // promote: v2 is the stable now
    const after = await get();
    assert.equal(servedBy(after), v2.port, "new requests go to the promoted version");
    const answers = await Promise.all(slow);
    assert.deepEqual(
      answers.map((r) => r.status),
      slow.map(() => 200),
    );
    const ports = new Set(answers.map(servedBy));
    assert.deepEqual([...ports].sort(), [v1.port, v2.port].sort(), "the old stable and the canary both finished theirs");
  });
});
