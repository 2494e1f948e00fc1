/** The peer table's rules, without sockets: numbered snapshots, restarts, leaving, TTL, activation on a new cold model. */
import { strict as assert } from "node:assert";
import pino from "pino";
import { peerMessageSchema, type PeerMessage } from "../../../activator/src/peers/protocol";
import type { LinkFactory } from "../../../activator/src/peers/link";
import { PeerSync, peerMessage, snapshotKey } from "../../../activator/src/peers/sync";
import { ManualClock } from "../../../testing/activator/clock";
import { sleep } from "../../../testing/activator/http";

const logger = pino({ level: "silent" });
const msg = (over: Partial<PeerMessage>): PeerMessage => ({ name: "b", incarnation: "i1", seq: 1, leaving: false, kedaStreams: false, models: {}, ...over });

describe("activator peers: the message (pure)", () => {
  const sender = { name: "a", incarnation: "i9" };
  const snapshot = { models: { "m/x": { demand: 3, cold: true } }, kedaStreams: true };

  it("says the sender's demand and whether it holds KEDA's streams, numbered, in the protocol's shape", () => {
    const m = peerMessage(sender, 7, snapshot);
    assert.deepEqual(m, { name: "a", incarnation: "i9", seq: 7, leaving: false, kedaStreams: true, models: { "m/x": { demand: 3, cold: true } } });
    assert.ok(peerMessageSchema.safeParse(m).success);
  });

  it("a leaving message carries no demand and no streams, whatever the snapshot says", () => {
    const m = peerMessage(sender, 8, snapshot, true);
    assert.deepEqual([m.leaving, m.kedaStreams, m.models], [true, false, {}]);
  });

  it("snapshots compare equal only when demand and stream holding are both the same", () => {
    assert.equal(snapshotKey(snapshot), snapshotKey({ models: { "m/x": { demand: 3, cold: true } }, kedaStreams: true }));
    assert.notEqual(snapshotKey(snapshot), snapshotKey({ ...snapshot, kedaStreams: false }));
    assert.notEqual(snapshotKey(snapshot), snapshotKey({ ...snapshot, models: { "m/x": { demand: 4, cold: true } } }));
  });
});

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

  it("drops a leaving peer at once, and a silent one after the TTL (manual clock)", async () => {
    const clock = new ManualClock();
    const timed = new PeerSync({ logger, local: () => ({}), onRemoteCold: () => undefined, heartbeatMs: 100, ttlMs: 300, name: "a", clock });
    try {
      timed.receive(msg({ name: "b", models: { "m/x": { demand: 2, cold: false } } }));
      timed.receive(msg({ name: "c", models: { "m/x": { demand: 3, cold: false } } }));
      timed.receive(msg({ name: "b", seq: 2, leaving: true }));
      assert.equal(timed.remoteDemand("m/x"), 3, "b left: dropped at once");
      await clock.advance(300);
      assert.equal(timed.remoteDemand("m/x"), 3, "c still counted at the TTL");
      await clock.advance(1);
      assert.equal(timed.remoteDemand("m/x"), 0, "c not heard from within the TTL");
      assert.equal(timed.view().length, 1, "not yet forgotten: that is the tick's job");
      await clock.advance(49);
      assert.deepEqual(timed.view(), [], "forgotten at the next tick (every 50 ms)");
    } finally {
      await timed.close();
    }
  });

  it("dates a live peer's activity by the injected clock, and stops counting it past the TTL as its demand does (manual clock)", async () => {
    const clock = new ManualClock();
    const timed = new PeerSync({ logger, local: () => ({}), onRemoteCold: () => undefined, heartbeatMs: 100, ttlMs: 300, name: "a", clock });
    try {
      await clock.advance(100);
      timed.receive(msg({ name: "b", models: { "m/x": { demand: 1, cold: false, activity: 4 } } }));
      assert.equal(timed.remoteLastActivityAt("m/x"), 100, "the receipt time on the injected clock");
      assert.equal(timed.remoteLastActivityAt("m/y"), -Infinity, "no activity reported for another model");
      await clock.advance(300);
      assert.equal(timed.remoteLastActivityAt("m/x"), 100, "still counted at the TTL");
      assert.equal(timed.remoteDemand("m/x"), 1);
      await clock.advance(1);
      assert.equal(timed.remoteLastActivityAt("m/x"), -Infinity, "not heard from within the TTL");
      assert.equal(timed.remoteDemand("m/x"), 0);
    } finally {
      await timed.close();
    }
  });

  it("says who it is first on every link (how a replica finds itself in a peer list), and ignores its own messages", () => {
    assert.deepEqual(sync.hello(), { name: "a", incarnation: sync.incarnation });
    sync.receive(msg({ name: "a", incarnation: sync.incarnation, models: { "m/x": { demand: 7, cold: true } } }));
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
    const { kedaStreams: _, ...older } = msg({ kedaStreams: true });
    assert.equal(peerMessageSchema.parse(older).kedaStreams, false, "a sender that does not say holds no stream");
  });
});

describe("activator peers: who hears first", () => {
  const peersAt = ["a:1", "b:1", "c:1", "d:1"]; // a is this replica's own address, as in a shared peer list
  let sync: PeerSync;
  let streams: boolean;
  let local: Record<string, { demand: number; cold: boolean }>;
  /** Messages as the peers' links took them, in order. */
  let sent: Array<{ to: string; body: PeerMessage }>;
  let closed: string[];
  let resets: string[];
  /** A link per address that connects at once and records what is sent on it. */
  const fakeLink: LinkFactory = (address, handlers) => {
    const name = address.split(":")[0]!;
    queueMicrotask(() => handlers.onUp({ name, incarnation: name === "a" ? sync.incarnation : `${name}-1` }));
    return {
      send: (body) => (sent.push({ to: name, body: JSON.parse(body) as PeerMessage }), true),
      reset: () => void resets.push(name),
      close: async () => void closed.push(name),
    };
  };

  beforeEach(async () => {
    sent = [];
    closed = [];
    resets = [];
    streams = false;
    local = { "m/x": { demand: 1, cold: true } };
    sync = new PeerSync({ logger, local: () => local, holdsKedaStreams: () => streams, onRemoteCold: () => undefined, heartbeatMs: 60_000, ttlMs: 180_000, name: "a", link: fakeLink });
    sync.setAddresses(peersAt);
    await sleep(0);
    assert.deepEqual(sync.targetsView().map((t) => [t.peer, t.reachable]), [["b", true], ["c", true], ["d", true]], "its own address is skipped");
    assert.deepEqual(closed, ["a"], "and its link closed");
    assert.deepEqual(sent.map((m) => m.to), ["b", "c", "d"], "each peer gets the snapshot as soon as its link is up");
    // The first tick sends to all (what every peer has been told is noted only then).
    for (let i = 0; i < 200 && sent.length < 6; i++) await sleep(5);
    assert.deepEqual(sent.slice(3).map((m) => m.to), ["b", "c", "d"]);
  });
  afterEach(() => sync.close());

  const told = (name: string, kedaStreams: boolean, seq: number) => sync.receive(msg({ name, incarnation: `${name}-1`, seq, kedaStreams }));
  const eventually = async (ok: () => boolean, what: string) => {
    for (let i = 0; i < 200 && !ok(); i++) await sleep(5);
    assert.ok(ok(), what);
  };

  it("counts the activator replicas: itself once (its own listed address recognised) plus each peer listed", () => {
    assert.equal(sync.replicas, 4); // a (itself) + b, c, d
    sync.setAddresses(["b:1"]); // its own address no longer listed (draining): still itself + b
    assert.equal(sync.replicas, 2);
  });

  it("pushes a model's first cold request first to the peer that holds KEDA's streams, then to the others", () => {
    told("b", false, 1);
    told("c", false, 1);
    told("d", true, 1);
    sent = [];
    local = { "m/y": { demand: 1, cold: true } };
    sync.pushNow("m/y");
    assert.deepEqual(sent.map((m) => m.to), ["d", "b", "c"]);
    assert.ok(sent.every((m) => m.body.models["m/y"]?.cold === true));

    told("d", false, 2);
    told("b", true, 2);
    sent = [];
    local = { "m/z": { demand: 1, cold: true } };
    sync.pushNow("m/z");
    assert.equal(sent[0]!.to, "b", "the streams moved (KEDA reconnected to b): b first now");
  });

  it("counts a peer it has not heard from as a possible holder (it may have just taken KEDA's streams)", () => {
    told("b", false, 1);
    told("d", false, 1); // c connected but never sent a message of its own
    sent = [];
    local = { "m/y": { demand: 1, cold: true } };
    sync.pushNow("m/y");
    assert.equal(sent[0]!.to, "c");
  });

  it("sends further cold requests for a model already told cold with the next routine message, not one each", async () => {
    sent = [];
    for (let i = 0; i < 50; i++) sync.pushNow("m/x"); // the first snapshot already said m/x is cold
    assert.equal(sent.length, 0);
    local = { "m/x": { demand: 51, cold: true } };
    await eventually(() => sent.length === 3, "the new count within a tick");
    await sleep(120);
    assert.equal(sent.length, 3, "once per peer");
    assert.ok(sent.every((m) => m.body.models["m/x"]?.demand === 51));
  });

  it("a peer whose link comes up gets the snapshot at once, and the others still get a change within a tick", async () => {
    local = { "m/x": { demand: 2, cold: true } }; // changed since the last message; the next tick sends it
    sent = [];
    sync.setAddresses([...peersAt, "e:1"]);
    await sleep(0);
    assert.deepEqual(sent.map((m) => m.to), ["e"], "the newcomer first, as soon as its link is up");
    const got = (name: string) => sent.some((m) => m.to === name && m.body.models["m/x"]?.demand === 2);
    await eventually(() => got("b") && got("c") && got("d"), "b, c and d to get the change too (heartbeat is 60 s: only the tick sends it)");
  });

  it("reopens its link to a peer that went silent past the TTL (it may be dead without either side knowing)", async () => {
    sync.configure(60_000, 100);
    told("b", false, 1);
    let seq = 0;
    const talking = setInterval(() => told("c", false, ++seq), 20); // c keeps talking, however late the ticks run
    try {
      await eventually(() => resets.length > 0, "b dropped");
    } finally {
      clearInterval(talking);
    }
    assert.deepEqual(resets, ["b"], "only the silent one");
    assert.equal(sync.remoteDemand("m/x"), 0);
  });

  it("tells its peers within a tick when it starts and stops holding KEDA's streams", async () => {
    assert.ok(sent.every((m) => m.body.kedaStreams === false));
    sent = [];
    streams = true;
    await eventually(() => sent.length === 3, "the change to be sent (heartbeat is 60 s: only the change sends it)");
    assert.ok(sent.every((m) => m.body.kedaStreams === true));
    sent = [];
    streams = false;
    await eventually(() => sent.length === 3, "the change back");
    assert.ok(sent.every((m) => m.body.kedaStreams === false));
  });
});
