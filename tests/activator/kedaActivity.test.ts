/**
 * Activity as KEDA sees it, over real sockets: real activator processes in front of a warm backend, a KEDA-protocol
 * client on the scaler port. A short request to a warm model is told on the stream as it arrives and to the next
 * IsActive poll after it ended, once; an idle model says `false`; a request at another replica is told by the replica
 * KEDA talks to (issue 21, field case 22).
 */
import { strict as assert } from "node:assert";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { TestBackend } from "../../testing/activator/backend";
import { ActivatorCluster } from "../../testing/activator/cluster";
import { config, model } from "../../testing/activator/config";
import { eventually, sendJson, sleep, send } from "../../testing/activator/http";
import { KedaClient } from "../../testing/activator/kedaClient";

const MODEL = "test/embed";

describe("activator: activity that follows real traffic (KEDA lastActiveTime)", function () {
  this.timeout(60_000);
  let backend: TestBackend;
  let act: ActivatorProcess | undefined;
  let cluster: ActivatorCluster | undefined;
  let keda: KedaClient | undefined;

  beforeEach(async () => {
    backend = await TestBackend.create();
    await backend.start();
  });
  afterEach(async () => {
    keda?.close();
    keda = undefined;
    await act?.stop();
    act = undefined;
    await cluster?.stop();
    cluster = undefined;
    await backend.stop();
  });

  const ready = (a: ActivatorProcess) =>
    eventually(async () => (await sendJson<{ models: Record<string, { ready: boolean }> }>(`${a.adminUrl}/queue`)).json.models[MODEL]?.ready === true, "the model to be ready", 5000, 20);
  /** A 100 ms request to the warm model through `a`; returns when it was sent and answered (performance.now()). */
  async function shortRequest(a: ActivatorProcess): Promise<{ sentAt: number; doneAt: number }> {
    const sentAt = performance.now();
    const res = await send(`${a.proxyUrl}/v1/embeddings`, { headers: { host: "embed.test", "x-backend-delay": "100" }, body: "{}" });
    assert.equal(res.status, 200);
    return { sentAt, doneAt: performance.now() };
  }

  it("tells a short request to a warm model on the stream as it arrives and to the next poll once, then says idle", async () => {
    act = await ActivatorProcess.start(config([model("embed", backend.url)], { activation: { heartbeatSeconds: 2 } }));
    await ready(act);
    keda = new KedaClient(act.scalerAddress);
    const stream = keda.streamIsActive(MODEL);
    assert.equal((await stream.next()).result, false, "idle on open");
    assert.equal(await keda.isActive(MODEL), false, "idle at the first poll");

    const { sentAt, doneAt } = await shortRequest(act);
    const pushed = await stream.nextTrue(1000);
    assert.ok(pushed.at >= sentAt && pushed.at <= doneAt, `\`true\` while the request ran (${(pushed.at - sentAt).toFixed(0)} ms after it was sent; answered after ${(doneAt - sentAt).toFixed(0)} ms)`);
    assert.equal(await keda.isActive(MODEL), true, "the poll after the request ended: it counts although nothing is in flight now");
    assert.equal(await keda.isActive(MODEL), false, "told once: the next poll sees an idle model");
    // The stream: one heartbeat tells the request's end, the next one says idle (KEDA then scales to zero after its cooldown).
    stream.skipReceived();
    const idle = await stream.nextFalse(5000);
    assert.ok(idle.at - doneAt < 2 * 2000 + 500, `false within two heartbeats of the end (${(idle.at - doneAt).toFixed(0)} ms)`);
    await sleep(2500);
    assert.ok(stream.events.slice(-1)[0]!.result === false && stream.events.filter((e) => e.at > idle.at).length === 0, "nothing more while idle: `false` is sent once");
  });

  it("tells one request a second at most per stream while a client sends them back to back", async () => {
    act = await ActivatorProcess.start(config([model("embed", backend.url)], { activation: { heartbeatSeconds: 5 } }));
    await ready(act);
    keda = new KedaClient(act.scalerAddress);
    const stream = keda.streamIsActive(MODEL);
    await stream.next();
    const start = performance.now();
    let n = 0;
    while (performance.now() - start < 3000) {
      await send(`${act.proxyUrl}/v1/embeddings`, { headers: { host: "embed.test", "x-backend-delay": "5" }, body: "{}" });
      n++;
    }
    const trues = stream.events.filter((e) => e.result && e.at >= start).length;
    console.log(`      ${n} sequential requests in 3 s → ${trues} \`true\` on the stream`);
    assert.ok(n >= 30, `enough requests to tell (${n})`);
    assert.ok(trues >= 3 && trues <= 5, `about one per second (${trues})`);
  });

  it("tells the replica KEDA talks to of a short request served by another replica (stream and poll)", async () => {
    cluster = await ActivatorCluster.start(2, config([model("embed", backend.url)], { activation: { heartbeatSeconds: 5 } }));
    const [a, c] = cluster.replicas as [ActivatorProcess, ActivatorProcess];
    await ready(a);
    await ready(c);
    keda = new KedaClient(c.scalerAddress);
    const stream = keda.streamIsActive(MODEL);
    assert.equal((await stream.next()).result, false);
    assert.equal(await keda.isActive(MODEL), false);

    const { sentAt, doneAt } = await shortRequest(a);
    const pushed = await stream.nextTrue(1000);
    console.log(`      request at A → true on C's stream after ${(pushed.at - sentAt).toFixed(0)} ms (answered after ${(doneAt - sentAt).toFixed(0)} ms)`);
    await sleep(200); // the end of the request reaches C with A's next routine message (within 50 ms)
    assert.equal(await keda.isActive(MODEL), true, "C's poll after the request at A ended");
    assert.equal(await keda.isActive(MODEL), false, "and once only");
  });
});
