/** The peer table's rules, without sockets: numbered snapshots, restarts, leaving, TTL, activation on a new cold model. */
import { strict as assert } from "node:assert";
import pino from "pino";
import { peerMessageSchema, type PeerMessage } from "../../../activator/src/peers/protocol";
import { PeerSync } from "../../../activator/src/peers/sync";
import { sleep } from "../testing/http";

const logger = pino({ level: "silent" });
const msg = (over: Partial<PeerMessage>): PeerMessage => ({ name: "b", incarnation: "i1", seq: 1, leaving: false, models: {}, ...over });

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

  it("validates messages: counts are non-negative integers, no unknown keys", () => {
    assert.ok(peerMessageSchema.safeParse(msg({})).success);
    for (const bad of [
      { ...msg({}), models: { "m/x": { demand: -1, cold: false } } },
      { ...msg({}), models: { "m/x": { demand: 1.5, cold: false } } },
      { ...msg({}), extra: 1 },
      { ...msg({}), name: "" },
    ]) {
      assert.equal(peerMessageSchema.safeParse(bad).success, false, JSON.stringify(bad));
    }
  });
});
