/** Replica choice, pure part: consistent hashing with bounded loads, least loaded, engine penalties, prefix keys. */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import {
  endpointLoad,
  HashRing,
  loadBound,
  pickBounded,
  pickLeastLoaded,
} from "../../../activator/src/routing/endpointPicker";
import { prefixKey, truncateUtf8 } from "../../../activator/src/routing/prefixKey";

const pods = (n: number) => Array.from({ length: n }, (_, i) => `http://10.0.${i >> 8}.${i & 255}:8080`);
const endpointsArb = fc.uniqueArray(fc.ipV4().map((ip) => `http://${ip}:8080`), { minLength: 1, maxLength: 12 });

describe("activator replica choice: endpoint picker", () => {
  it("the bound is ceil(c × (total + 1) / n)", () => {
    for (const [total, n, c, bound] of [
      [0, 4, 1.25, 1],
      [7, 4, 1.25, 3], // 1.25 × 8 / 4 = 2.5 → 3
      [15, 4, 1.25, 5], // 1.25 × 16 / 4 = 5
      [15, 4, 1, 4],
      [3, 1, 1.25, 5],
    ] as const) {
      assert.equal(loadBound(total, n, c), bound, `total ${total}, n ${n}, c ${c}`);
    }
  });

  it("an idle set sends a key to its ring successor, and a loaded successor makes the walk go on", () => {
    const ring = new HashRing(pods(4));
    const order = [...ring.walk("system: you are a helpful assistant")];
    assert.equal(order.length, 4);
    assert.deepEqual([...order].sort(), [...ring.endpoints]);
    const idle = pickBounded(ring, "system: you are a helpful assistant", () => 0)!;
    assert.deepEqual(idle, { endpoint: order[0], how: "preferred", count: 0, bound: 1 });
    // preferred at 3, others at 0: total 3, bound ceil(1.25 × 4 / 4) = 2 → 3 + 1 > 2, walk to the next
    const loads = new Map([[order[0]!, 3]]);
    const walked = pickBounded(ring, "system: you are a helpful assistant", (e) => loads.get(e) ?? 0)!;
    assert.deepEqual(walked, { endpoint: order[1], how: "walked", count: 0, bound: 2 });
  });

  it("the bound holds request counts: table of counts, bound and pick", () => {
    const ring = new HashRing(pods(4));
    const key = "system: you review contracts";
    const order = [...ring.walk(key)];
    // counts in walk order (preferred first); bound = ceil(1.25 × (total + 1) / 4); which one is taken
    const table: Array<[counts: number[], bound: number, taken: number]> = [
      [[0, 0, 0, 0], 1, 0], // 1.25 × 1 / 4 → 1
      [[1, 0, 0, 0], 1, 1], // preferred: 1 + 1 > 1
      [[2, 2, 2, 2], 3, 0], // 1.25 × 9 / 4 = 2.81 → 3
      [[3, 2, 2, 2], 4, 0], // 1.25 × 10 / 4 = 3.125 → 4
      [[4, 2, 2, 2], 4, 1], // 1.25 × 11 / 4 = 3.44 → 4: preferred 5 > 4
      [[4, 4, 1, 1], 4, 2], // the first two at their bound
    ];
    for (const [counts, bound, taken] of table) {
      const pick = pickBounded(ring, key, (e) => counts[order.indexOf(e)]!)!;
      assert.deepEqual(pick, { endpoint: order[taken], how: taken === 0 ? "preferred" : "walked", count: counts[taken], bound }, `counts ${counts}`);
    }
  });

  it("same endpoints (any order), same loads, same key: the same pick in every instance", () => {
    fc.assert(
      fc.property(endpointsArb, fc.string(), fc.array(fc.nat(20), { minLength: 12, maxLength: 12 }), (endpoints, key, raw) => {
        const loads = new Map(endpoints.map((e, i) => [e, raw[i]!]));
        const a = pickBounded(new HashRing(endpoints), key, (e) => loads.get(e)!);
        const b = pickBounded(new HashRing([...endpoints].reverse()), key, (e) => loads.get(e)!);
        assert.deepEqual(a, b);
      }),
    );
  });

  it("placing requests one by one never lifts an endpoint above its bound", () => {
    fc.assert(
      fc.property(endpointsArb, fc.array(fc.string({ maxLength: 8 }), { minLength: 1, maxLength: 300 }), fc.double({ min: 1, max: 3, noNaN: true }), (endpoints, keys, c) => {
        const ring = new HashRing(endpoints);
        const loads = new Map(endpoints.map((e) => [e, 0]));
        let total = 0;
        for (const key of keys) {
          const bound = loadBound(total, endpoints.length, c);
          const { endpoint } = pickBounded(ring, key, (e) => loads.get(e)!, c)!;
          loads.set(endpoint, loads.get(endpoint)! + 1);
          total++;
          assert.ok(loads.get(endpoint)! <= bound, `${endpoint} at ${loads.get(endpoint)} over bound ${bound}`);
        }
      }),
    );
  });

  it("removing an endpoint moves only the keys it owned", () => {
    fc.assert(
      fc.property(endpointsArb.filter((e) => e.length >= 2), fc.array(fc.string(), { minLength: 1, maxLength: 200 }), fc.nat(), (endpoints, keys, which) => {
        const gone = endpoints[which % endpoints.length]!;
        const before = new HashRing(endpoints);
        const after = new HashRing(endpoints.filter((e) => e !== gone));
        for (const key of keys) {
          const was = before.walk(key).next().value as string;
          const now = after.walk(key).next().value as string;
          if (was !== gone) assert.equal(now, was, `key ${JSON.stringify(key)} moved from ${was} though ${gone} left`);
        }
      }),
    );
  });

  it("keys spread over the ring: each of 8 endpoints owns 5%..20% of 20 000 keys", () => {
    const ring = new HashRing(pods(8));
    const owned = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const e = ring.walk(`conversation ${i}`).next().value as string;
      owned.set(e, (owned.get(e) ?? 0) + 1);
    }
    assert.equal(owned.size, 8);
    for (const [e, count] of owned) assert.ok(count > 1000 && count < 4000, `${e} owns ${count}`);
  });

  it("least loaded takes the minimum and rotates among equals", () => {
    const loads = new Map([["a", 2], ["b", 1], ["c", 1], ["d", 5]]);
    const load = (e: string) => loads.get(e)!;
    assert.equal(pickLeastLoaded(["a", "b", "c", "d"], load, 0)!.endpoint, "b");
    assert.equal(pickLeastLoaded(["a", "b", "c", "d"], load, 1)!.endpoint, "c");
    assert.equal(pickLeastLoaded(["a", "b", "c", "d"], load, 2)!.endpoint, "b");
    assert.equal(pickLeastLoaded([], load), undefined);
  });

  it("engine gauges raise an endpoint's load: other replicas' requests, queueing, a full KV cache", () => {
    assert.equal(endpointLoad(3, undefined), 3);
    assert.equal(endpointLoad(3, { running: 2, waiting: 0, kvCache: 0 }), 3); // our 3 in flight already include the engine's 2
    assert.equal(endpointLoad(1, { running: 6, waiting: 0, kvCache: 0 }), 6); // 5 from other activators
    assert.equal(endpointLoad(1, { running: 4, waiting: 2, kvCache: 0.5 }), 6 + 2 + 1);
    assert.equal(endpointLoad(0, { running: 0, waiting: 0, kvCache: 7 }), 2); // clamped to 1
  });
});

describe("activator replica choice: prefix key", () => {
  const system = { role: "system", content: "You are a terse assistant." };
  it("a chat's key is its system prompt and first user turn, so later turns keep it", () => {
    const turn1 = { messages: [system, { role: "user", content: "hello" }] };
    const turn2 = { messages: [...turn1.messages, { role: "assistant", content: "hi" }, { role: "user", content: "more" }] };
    const key = prefixKey("/v1/chat/completions", turn1);
    assert.equal(key, "system\nYou are a terse assistant.\nuser\nhello\n");
    assert.equal(prefixKey("/v1/chat/completions", turn2), key);
    assert.notEqual(prefixKey("/v1/chat/completions", { messages: [system, { role: "user", content: "other" }] }), key);
  });

  it("text parts count, other parts do not; completions use the prompt", () => {
    const parts = { messages: [{ role: "user", content: [{ type: "text", text: "a" }, { type: "image_url", image_url: { url: "x" } }, { type: "text", text: "b" }] }] };
    assert.equal(prefixKey("/v1/chat/completions", parts), "user\nab\n");
    assert.equal(prefixKey("/v1/completions", { prompt: "once upon" }), "once upon");
    assert.equal(prefixKey("/v1/completions", { prompt: ["first", "second"] }), "first");
  });

  it("no key without text, or off the LLM paths", () => {
    assert.equal(prefixKey("/v1/embeddings", { input: "x" }), null);
    assert.equal(prefixKey("/v1/chat/completions", { messages: "x" }), null);
    assert.equal(prefixKey("/v1/chat/completions", { messages: [] }), null);
    assert.equal(prefixKey("/v1/completions", { prompt: [1, 2, 3] }), null);
    assert.equal(prefixKey("/v1/completions", null), null);
  });

  it("the key is cut to maxBytes on a character boundary", () => {
    assert.equal(prefixKey("/v1/completions", { prompt: "x".repeat(5000) })!.length, 1024);
    assert.equal(prefixKey("/v1/completions", { prompt: "abcdef" }, 4), "abcd");
    assert.equal(truncateUtf8("aé€", 4), "aé"); // é is 2 bytes, € 3
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), fc.nat(40), (text, n) => {
        const cut = truncateUtf8(text, n);
        assert.ok(Buffer.byteLength(cut) <= Math.max(n, 0));
        assert.ok(text.startsWith(cut));
      }),
    );
  });
});
