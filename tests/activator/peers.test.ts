/**
 * Three real activator processes on loopback that share demand, with a KEDA-protocol client on one of them (as KEDA's
 * one connection through the scaler Service lands on one replica): activation pushed from a cold request at another
 * replica, metrics summed over replicas, a replica killed and restarted, a replica rolled (SIGTERM, drain).
 */
import { strict as assert } from "node:assert";
import type http from "node:http";
import { ActivatorCluster, queueOf } from "../../testing/activator/cluster";
import { TestBackend } from "../../testing/activator/backend";
import { config, model } from "../../testing/activator/config";
import { eventually, keepAliveAgent, percentile, send, sleep, type HttpResult } from "../../testing/activator/http";
import { KedaClient } from "../../testing/activator/kedaClient";
import { openPeerSocket } from "../../testing/activator/peerSocket";

const MODEL = "test/llm";

describe("activator replicas: one cluster-wide picture for KEDA", function () {
  this.timeout(60_000);
  const agent = keepAliveAgent();
  let cluster: ActivatorCluster | undefined;
  let keda: KedaClient | undefined;
  let backend: TestBackend;
  const open: http.ClientRequest[] = [];

  beforeEach(async () => {
    backend = await TestBackend.create(); // not listening: the model is at zero
  });
  afterEach(async () => {
    for (const req of open.splice(0)) req.destroy();
    keda?.close();
    keda = undefined;
    await cluster?.stop();
    cluster = undefined;
    await backend.stop();
  });
  after(() => agent.destroy());

  /** Sends a request for the model to replica i; it is held while the model is at zero. */
  function hold(i: number): Promise<HttpResult> {
    const act = cluster!.replicas[i]!;
    return send(`${act.proxyUrl}/x`, { headers: { host: "llm.test" }, onRequest: (req) => open.push(req) }).catch((err: Error) => ({
      status: 0,
      headers: {},
      body: err.message,
      firstByteAt: 0,
      chunks: [],
    }));
  }

  async function startCluster(models = [model("llm", backend.url)], peerTimes?: { heartbeatSeconds: number; ttlSeconds: number }): Promise<void> {
    cluster = await ActivatorCluster.start(3, config(models), peerTimes);
    keda = new KedaClient(cluster.replicas[2]!.scalerAddress);
  }

  it("a cold request at replica A turns the stream KEDA holds on replica C true within milliseconds", async () => {
    const models = Array.from({ length: 40 }, (_, i) => model(`m${i}`, backend.url));
    // Peer heartbeat 5 s: a `true` within a second can only come from the event-driven push.
    await startCluster(models, { heartbeatSeconds: 5, ttlSeconds: 15 });
    const delays: number[] = [];
    for (let i = 0; i < models.length; i++) {
      const stream = keda!.streamIsActive(`test/m${i}`);
      assert.equal((await stream.next()).result, false, "no demand anywhere yet");
      const sentAt = performance.now();
      void send(`${cluster!.replicas[i % 2]!.proxyUrl}/x`, { headers: { host: `m${i}.test` }, onRequest: (req) => open.push(req) }).catch(() => undefined);
      const pushed = await stream.nextTrue(2000);
      delays.push(pushed.at - sentAt);
      stream.cancel();
    }
    const p50 = percentile(delays, 50);
    const p99 = percentile(delays, 99);
    console.log(`      request at A/B → true on C's stream: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${Math.max(...delays).toFixed(2)} ms (n=${delays.length})`);
    // The figure is measured in bench/peerPush.ts; here that it is pushed on the event, not carried by a heartbeat
    // (5 s): half a heartbeat leaves a loaded runner seconds of slack and a heartbeat-carried `true` none.
    assert.ok(Math.max(...delays) < 2500, `max ${Math.max(...delays).toFixed(1)} ms`);
    assert.equal(await keda!.isActive("test/m0"), true, "IsActive on C sees A's held request");
  });

  it("tells every replica which peer holds KEDA's streams (cold requests are pushed there first), on /queue too", async () => {
    await startCluster();
    const cName = (await queueOf(cluster!.replicas[2]!)).cluster.name;
    const holders = async (i: number) => (await queueOf(cluster!.replicas[i]!)).cluster.peers.filter((p) => p.kedaStreams).map((p) => p.name);
    assert.deepEqual(await holders(0), [], "no stream open yet");
    const stream = keda!.streamIsActive(MODEL);
    await stream.next();
    await eventually(async () => (await holders(0)).join() === cName && (await holders(1)).join() === cName, "A and B to learn that C holds the stream", 3000, 5);
    stream.cancel();
    await eventually(async () => (await holders(0)).length === 0, "and that it no longer does", 3000, 5);
  });

  it("sums held requests over the replicas in GetMetrics, and says false once they are gone", async () => {
    await startCluster();
    const stream = keda!.streamIsActive(MODEL);
    assert.equal((await stream.next()).result, false);
    const held = [hold(0), hold(0), hold(1), hold(1), hold(1), hold(2)];
    await eventually(async () => (await keda!.getMetrics(MODEL))[0]!.metricValue === 6, "C to report 6 = 2 + 3 + 1", 3000, 5);
    assert.equal(await keda!.isActive(MODEL), true);
    const [spec] = await keda!.getMetricSpec(MODEL);
    assert.equal(spec!.targetSize, 10, "target per replica is targetConcurrency: the HPA divides the sum by it");
    for (const q of await Promise.all(cluster!.replicas.map(queueOf))) assert.equal(q.models[MODEL]!.clusterDemand, 6, "every replica has the same picture");
    for (const req of open.splice(0)) req.destroy();
    await Promise.all(held);
    // The next heartbeat (activation.heartbeatSeconds, 5 s) tells the requests that just left, the one after says idle.
    await stream.nextFalse(11_000);
    assert.equal((await keda!.getMetrics(MODEL))[0]!.metricValue, 0);
    assert.equal(await keda!.isActive(MODEL), true, "the poll after the held requests left is told of them, once");
    assert.equal(await keda!.isActive(MODEL), false);
  });

  it("drops a killed replica's demand after the TTL, logs it, and counts it again once restarted", async () => {
    await startCluster();
    const c = cluster!.replicas[2]!;
    void hold(0);
    for (let i = 0; i < 4; i++) void hold(1);
    await eventually(async () => (await keda!.getMetrics(MODEL))[0]!.metricValue === 5, "5 held over A and B", 3000, 5);
    const killedAt = performance.now();
    cluster!.replicas[1]!.kill("SIGKILL");
    // Still counted within the TTL (1.5 s): a replica that missed one heartbeat is not forgotten.
    await sleep(300);
    assert.equal((await keda!.getMetrics(MODEL))[0]!.metricValue, 5);
    await eventually(async () => (await keda!.getMetrics(MODEL))[0]!.metricValue === 1, "B's 4 to stop counting", 4000, 10);
    const droppedAfter = performance.now() - killedAt;
    console.log(`      killed replica's demand dropped after ${droppedAfter.toFixed(0)} ms (TTL 1500 ms, heartbeat 500 ms)`);
    // Dropped TTL after the last message heard, which came at most one heartbeat before the kill: never sooner than
    // TTL − heartbeat (less 100 ms of timer slack). How soon after is bounded by the wait above; the rule is unit-tested
    // in peers/sync.test.ts.
    assert.ok(droppedAfter >= 900, `${droppedAfter.toFixed(0)} ms`);
    const log = await c.waitForLog((l) => l.msg.startsWith("peer dropped"));
    assert.equal(log["demand"], 4, "the log says how much demand stopped counting");
    assert.equal(await keda!.isActive(MODEL), true, "A's request still keeps the model active");
    // Never blocked: C answers at once while B is unreachable.
    const t0 = performance.now();
    await keda!.getMetrics(MODEL);
    // Waiting on B would take at least a link's timeout (1 s, peers/sync.ts LINK_TIMEOUT_MS).
    assert.ok(performance.now() - t0 < 1000, "answers do not wait for an unreachable peer");

    await cluster!.restart(1);
    await cluster!.waitConnected();
    void hold(1);
    await eventually(async () => (await keda!.getMetrics(MODEL))[0]!.metricValue === 2, "the restarted B's request to count", 3000, 5);
  });

  it("refuses peer links without the shared token, and closes one that sends what is not a peer message", async () => {
    await startCluster();
    const c = cluster!.replicas[2]!;
    const url = `${c.adminUrl}/peers/demand`;
    for (const authorization of [undefined, "Bearer wrong-token-wrong-token", `Bearer ${ActivatorCluster.TOKEN}x`]) {
      const refused = await openPeerSocket(url, authorization);
      assert.ok("status" in refused, String(authorization));
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error?.code, "unauthorized");
    }
    const post = await send(url, { body: "{}", headers: { "content-type": "application/json", authorization: `Bearer ${ActivatorCluster.TOKEN}` } });
    assert.equal(post.status, 426, "a plain request is told to upgrade");
    assert.equal(JSON.parse(post.body).error.code, "upgrade_required");
    assert.equal((await keda!.getMetrics(MODEL))[0]!.metricValue, 0, "nothing counted");

    const link = await openPeerSocket(url, `Bearer ${ActivatorCluster.TOKEN}`);
    assert.ok("socket" in link, "the token is what peers send");
    assert.equal(link.hello.name, (await queueOf(c)).cluster.name, "the receiver says who it is first");
    link.socket.send(JSON.stringify({ name: "another", incarnation: "x", seq: 1, models: { [MODEL]: { demand: 5, cold: false } } }));
    await eventually(async () => (await keda!.getMetrics(MODEL))[0]!.metricValue === 5, "a message on the link to count", 3000, 5);
    link.socket.send("{");
    assert.equal((await link.closed).code, 1008, "not JSON: closed as a policy violation");
    const bad = await openPeerSocket(url, `Bearer ${ActivatorCluster.TOKEN}`);
    assert.ok("socket" in bad);
    bad.socket.send(JSON.stringify({ name: "another", incarnation: "x", seq: 2, models: { [MODEL]: { demand: -1, cold: false } } }));
    const { code, reason } = await bad.closed;
    assert.equal(code, 1008);
    assert.match(reason, /not a peer message/);
  });

  it("rolls a replica (SIGTERM): its held requests keep the model active, are served once ready, and none is lost", async () => {
    await startCluster();
    const stream = keda!.streamIsActive(MODEL);
    assert.equal((await stream.next()).result, false);
    const fromA = Array.from({ length: 5 }, () => hold(0));
    await stream.nextTrue(2000);
    await eventually(async () => (await keda!.getMetrics(MODEL))[0]!.metricValue === 5, "A's 5 held", 3000, 5);
    const a = cluster!.replicas[0]!;
    // KEDA may hold its stream on the replica that drains, too.
    const onA = new KedaClient(a.scalerAddress);
    const streamOnA = onA.streamIsActive(MODEL);
    assert.equal((await streamOnA.next()).result, true, "A has the demand");
    a.kill("SIGTERM"); // drain: held requests get shutdownGraceSeconds (30 s default) to be served
    await a.waitForLog((l) => l.msg === "shutting down: draining");
    // While A drains, C keeps seeing its demand: KEDA never hears false, so no scale-to-zero starts.
    await sleep(1200); // over two heartbeats of C's stream and of A's pushes
    assert.equal((await keda!.getMetrics(MODEL))[0]!.metricValue, 5);
    assert.equal(await keda!.isActive(MODEL), true);
    await backend.start(); // the model becomes ready
    const results = await Promise.all(fromA);
    const servedAt = performance.now();
    for (const r of results) assert.equal(r.status, 200, r.body);
    assert.equal(await a.exited, 0);
    const falseWhileHeld = stream.events.slice(1).filter((e) => !e.result && e.at < servedAt);
    assert.deepEqual(falseWhileHeld, [], "C's stream never said false while A held requests");
    assert.deepEqual(streamOnA.events.filter((e) => !e.result && e.at < servedAt), [], "nor did A's own stream while it drained");
    const end = await streamOnA.ended;
    assert.equal(end.code, 0, "A ends KEDA's stream with OK when it stops: KEDA reconnects through the Service (2 s)");
    onA.close();
    // A said goodbye: C counts nothing of it now, without waiting for the TTL.
    await eventually(async () => (await keda!.getMetrics(MODEL))[0]!.metricValue === 0, "A's demand to be gone", 1000, 5);
  });
});
