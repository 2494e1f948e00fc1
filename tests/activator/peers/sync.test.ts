/** The peer table's rules, without sockets: numbered snapshots, restarts, leaving, TTL, activation on a new cold model. */
import { strict as assert } from "node:assert";
import pino from "pino";
import { peerMessageSchema, type PeerMessage } from "../../../activator/src/peers/protocol";
import { MockAgent } from "undici";
import { PEER_PATH } from "../../../activator/src/peers/protocol";
import { PeerSync } from "../../../activator/src/peers/sync";
import { sleep } from "../testing/http";

const logger = pino({ level: "silent" });
const msg = (over: Partial<PeerMessage>): PeerMessage => ({ name: "b", incarnation: "i1", seq: 1, leaving: false, kedaStreams: false, models: {}, ...over });

describe("activator peers: the demand table", () => {
  let sync: PeerSync;
  let cold: string[];
  beforeEach(() => {
    cold = [];
    sync = new PeerSync({ logger, local: () => ({}), onRemoteCold: (key) => cold.push(key), heartbeatMs: 100, ttlMs: 300, name: "a" });
  });
  afterEach(() => sync.close());

  it("sums the live peers' demand per model", () => {
    sync.receive(msg({ name: "b", models: { "m/x": { demand: 2, cold: false } } }));
    sync.receive(msg({ name: "c", models: { "m/x": { demand: 3, cold: false }, "m/y": { demand: 1, cold: false } } }));
    assert.equal(sync.remoteDemand("m/x"), 5);
    assert.equal(sync.remoteDemand("m/y"), 1);
    assert.equal(sync.remoteDemand("m/z"), 0);
  });

  it("replaces a peer's snapshot, ignores a late (lower seq) one, and takes a restarted peer's new incarnation at once", () => {
    sync.receive(msg({ seq: 5, models: { "m/x": { demand: 4, cold: false } } }));
    sync.receive(msg({ seq: 4, models: { "m/x": { demand: 9, cold: false } } }));
    assert.equal(sync.remoteDemand("m/x"), 4, "late message ignored");
    sync.receive(msg({ seq: 6, models: {} }));
    assert.equal(sync.remoteDemand("m/x"), 0, "a full snapshot: absent means none");
    sync.receive(msg({ incarnation: "i2", seq: 1, models: { "m/x": { demand: 1, cold: false } } }));
    assert.equal(sync.remoteDemand("m/x"), 1, "a restart starts its numbering over");
  });

  it("fires activation when a peer first reports cold requests for a model, not again while they stay cold", () => {
    sync.receive(msg({ seq: 1, models: { "m/x": { demand: 1, cold: true } } }));
    sync.receive(msg({ seq: 2, models: { "m/x": { demand: 5, cold: true } } }));
    sync.receive(msg({ seq: 3, models: { "m/x": { demand: 5, cold: false } } }));
    sync.receive(msg({ seq: 4, models: { "m/x": { demand: 1, cold: true } } }));
    assert.deepEqual(cold, ["m/x", "m/x"]);
  });

  it("drops a leaving peer at once, and a silent one after the TTL", async () => {
    sync.receive(msg({ name: "b", models: { "m/x": { demand: 2, cold: false } } }));
    sync.receive(msg({ name: "c", models: { "m/x": { demand: 3, cold: false } } }));
    sync.receive(msg({ name: "b", seq: 2, leaving: true }));
    assert.equal(sync.remoteDemand("m/x"), 3);
    await sleep(350);
    assert.equal(sync.remoteDemand("m/x"), 0, "c not heard from within the TTL");
    assert.deepEqual(sync.view(), [], "and forgotten");
  });

  it("answers its own message with its own name (how a replica finds itself in a peer list)", () => {
    const ack = sync.receive(msg({ name: "a", incarnation: sync.incarnation, models: { "m/x": { demand: 7, cold: true } } }));
    assert.deepEqual(ack, { name: "a", incarnation: sync.incarnation });
    assert.equal(sync.remoteDemand("m/x"), 0, "its own demand is not counted twice");
    assert.deepEqual(cold, []);
  });

  it("validates messages: counts are non-negative integers; keys it does not know are ignored (a newer peer in a roll)", () => {
    assert.ok(peerMessageSchema.safeParse(msg({})).success);
    for (const bad of [
      { ...msg({}), models: { "m/x": { demand: -1, cold: false } } },
      { ...msg({}), models: { "m/x": { demand: 1.5, cold: false } } },
      { ...msg({}), models: { "m/x": { demand: 1 } } },
      { ...msg({}), kedaStreams: "yes" },
      { ...msg({}), name: "" },
    ]) {
      assert.equal(peerMessageSchema.safeParse(bad).success, false, JSON.stringify(bad));
    }
    const newer = peerMessageSchema.safeParse({ ...msg({ models: { "m/x": { demand: 2, cold: true } } }), later: 1 });
    assert.ok(newer.success);
    assert.deepEqual(newer.data.models, { "m/x": { demand: 2, cold: true } });
    const { kedaStreams, ...older } = msg({});
    assert.equal(peerMessageSchema.parse(older).kedaStreams, false, "a sender that does not say holds no stream");
    assert.equal(kedaStreams, false);
  });
});

describe("activator peers: who hears first", () => {
  const peersAt = ["b:1", "c:1", "d:1"];
  let mock: MockAgent;
  let sync: PeerSync;
  let streams: boolean;
  /** Messages as the peers received them, in the order they were dispatched. */
  let received: Array<{ to: string; body: PeerMessage }>;

  beforeEach(async () => {
    mock = new MockAgent();
    mock.disableNetConnect();
    received = [];
    streams = false;
    for (const address of peersAt) {
      const name = address.split(":")[0]!;
      mock
        .get(`http://${address}`)
        .intercept({ path: PEER_PATH, method: "POST" })
        .reply((req) => {
          received.push({ to: name, body: JSON.parse(String(req.body)) as PeerMessage });
          return { statusCode: 200, data: JSON.stringify({ name, incarnation: `${name}-1` }) };
        })
        .persist();
    }
    sync = new PeerSync({
      logger,
      local: () => ({ "m/x": { demand: 1, cold: true } }),
      holdsKedaStreams: () => streams,
      onRemoteCold: () => undefined,
      heartbeatMs: 60_000,
      ttlMs: 180_000,
      name: "a",
      dispatcher: mock,
    });
    sync.setAddresses(["a:1", ...peersAt].filter((x) => x !== "a:1"));
    await eventually(() => sync.targetsView().every((t) => t.peer !== undefined), "b, c and d to answer the first snapshot");
  });
  afterEach(async () => {
    await sync.close();
    await mock.close();
  });

  const eventually = async (ok: () => boolean, what: string) => {
    for (let i = 0; i < 200 && !ok(); i++) await sleep(5);
    assert.ok(ok(), what);
  };
  const told = (name: string, kedaStreams: boolean, seq: number) =>
    sync.receive(msg({ name, incarnation: `${name}-1`, seq, kedaStreams }));

  it("pushes a cold request first to the peer that holds KEDA's streams, then to the others", async () => {
    told("b", false, 1);
    told("c", false, 1);
    told("d", true, 1);
    received = [];
    sync.pushNow();
    await eventually(() => received.length === 3, "the cold push to reach all three");
    assert.deepEqual(received.map((r) => r.to), ["d", "b", "c"]);
    assert.ok(received.every((r) => r.body.models["m/x"]?.cold === true));

    told("d", false, 2);
    told("b", true, 2);
    received = [];
    sync.pushNow();
    await eventually(() => received.length === 3, "the second cold push");
    assert.equal(received[0]!.to, "b", "the stream moved (KEDA reconnected to b): b first now");
  });

  it("counts a peer it has not heard from as a possible holder (it may have just taken KEDA's streams)", async () => {
    told("b", false, 1);
    told("d", false, 1); // c answered but never sent a message of its own
    received = [];
    sync.pushNow();
    await eventually(() => received.length === 3, "the cold push");
    assert.equal(received[0]!.to, "c");
  });

  it("tells its peers within a tick when it starts and stops holding KEDA's streams", async () => {
    assert.ok(received.every((r) => r.body.kedaStreams === false));
    received = [];
    streams = true;
    await eventually(() => received.length === 3, "the change to be sent (heartbeat is 60 s: only the change sends it)");
    assert.ok(received.every((r) => r.body.kedaStreams === true));
    received = [];
    streams = false;
    await eventually(() => received.length === 3, "the change back");
    assert.ok(received.every((r) => r.body.kedaStreams === false));
  });
});
