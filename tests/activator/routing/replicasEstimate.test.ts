/** One model's replica choice in one activator replica (holding/replicas.ts) with engine estimates: a full engine is walked past, and this replica's own sends and finishes count before the next reading. */
import { strict as assert } from "node:assert";
import type { ModelConfig } from "../../../activator/src/config/schema";
import { Replicas, type ReplicaChoiceDeps } from "../../../activator/src/holding/replicas";
import fc from "fast-check";
import { HashRing, loadBound, type EngineReading } from "../../../activator/src/routing/endpointPicker";

const endpoints = ["http://10.0.0.1:8000", "http://10.0.0.2:8000", "http://10.0.0.3:8000", "http://10.0.0.4:8000"];
const key = "system\nYou answer questions about invoices.\n";
const [preferred, second] = [...new HashRing(endpoints).walk(key)] as [string, string];
/** A stand-in pool: these tests only choose, they send nothing. */
const newPool = (() => ({ close: async () => {} })) as unknown as ReplicaChoiceDeps["newPool"];
const config = { replicaChoice: { policy: "prefix-affine", boundFactor: 1.25, prefixBytes: 1024 }, vllm: { maxNumSeqs: 10 } } as unknown as ModelConfig;

describe("activator replica choice: engine estimates in one activator replica", () => {
  it("walks past an engine at max_num_seqs, comes back when a slot frees, and counts its own send and finish at once", () => {
    const readings = new Map<string, EngineReading>(endpoints.map((e) => [e, { running: 8, waiting: 0, kvCache: 0 }]));
    readings.set(preferred, { running: 10, waiting: 0, kvCache: 0 }); // all 10 slots taken
    const replicas = new Replicas("m", { reading: (_m, e) => readings.get(e), newPool, now: () => 0 });
    const choose = () => replicas.choose(config, endpoints, true, key)!;

    // within its bound (10 + 1 ≤ ceil(1.25 × 35 / 4) = 11) but full: the ring's next endpoint
    const a = choose();
    assert.deepEqual([a.endpoint, a.how], [second, "walked_full"]);
    replicas.done(second);

    readings.set(preferred, { running: 9, waiting: 0, kvCache: 0 }); // next scrape: one slot free
    const b = choose();
    assert.deepEqual([b.endpoint, b.how], [preferred, "preferred"]);
    // our one send since that reading counts now (scale capped at 1: one activator replica): 10, full again
    const c = choose();
    assert.deepEqual([c.endpoint, c.how], [second, "walked_full"]);
    replicas.done(preferred); // our request there finished: back to the reading's 9
    replicas.done(second);
    const d = choose();
    assert.deepEqual([d.endpoint, d.how], [preferred, "preferred"]);
  });

  it("a reading with requests waiting below max_num_seqs (token budget, deferred) does not make the engine full", () => {
    const readings = new Map<string, EngineReading>(endpoints.map((e) => [e, { running: 5, waiting: 0, kvCache: 0 }]));
    readings.set(preferred, { running: 3, waiting: 2, kvCache: 0 }); // 5 outstanding, as the others: within the bound 7
    const replicas = new Replicas("m", { reading: (_m, e) => readings.get(e), newPool, now: () => 0 });
    const a = replicas.choose(config, endpoints, true, key)!;
    assert.deepEqual([a.endpoint, a.how], [preferred, "preferred"]);
  });

  it("a request that ends after its endpoint was delisted leaves no state for a new pod at that address", () => {
    const readings = new Map<string, EngineReading>(endpoints.map((e) => [e, { running: 9, waiting: 0, kvCache: 0 }]));
    readings.set(preferred, { running: 0, waiting: 0, kvCache: 0 });
    const replicas = new Replicas("m", { reading: (_m, e) => readings.get(e), newPool, now: () => 0, activators: () => 4 });
    assert.equal(replicas.choose(config, endpoints, true, key)!.endpoint, preferred);
    readings.set(preferred, { running: 10, waiting: 0, kvCache: 0 }); // the last scrape of that address: all 10 slots taken
    replicas.choose(config, endpoints.filter((e) => e !== preferred), true, key); // relisted without it
    replicas.done(preferred); // our request there ends now
    // the address is listed again (a new pod) and that reading is still fresh: 10 running, full. Noting it at the late
    // finish (1 in flight then, 0 now, scaled by 4) would have put it at 6 and taken it as the preferred endpoint.
    const b = replicas.choose(config, endpoints, true, key)!;
    assert.notEqual(b.endpoint, preferred);
    assert.equal(b.how, "walked_full");
  });

  it("with no fresh reading it chooses by its own in-flight counts alone", () => {
    const replicas = new Replicas("m", { reading: () => undefined, newPool, now: () => 0 });
    const picks = Array.from({ length: 8 }, () => replicas.choose(config, endpoints, true, key)!);
    // bound ceil(1.25 × (total + 1) / 4): 1 for the first request, still 1 for the second, so it walks on
    assert.deepEqual(picks.slice(0, 2).map((p) => [p.endpoint, p.how]), [[preferred, "preferred"], [second, "walked"]]);
    for (const e of endpoints) assert.ok(replicas.inFlightTo(e) <= 3, `${e} has ${replicas.inFlightTo(e)}, over the last bound 3`);
  });

  it("the bound holds request counts: a KV-cache penalty alone does not walk the preferred endpoint past it", () => {
    // 2 running everywhere: bound ceil(1.25 × 9 / 4) = 3, and 2 + 1 fits. As a weighted load (2 + 2 × 1.0 = 4, total
    // 10, bound 4) the preferred would have been walked past (4 + 1 > 4).
    const readings = new Map<string, EngineReading>(endpoints.map((e) => [e, { running: 2, waiting: 0, kvCache: 0 }]));
    readings.set(preferred, { running: 2, waiting: 0, kvCache: 1 });
    const replicas = new Replicas("m", { reading: (_m, e) => readings.get(e), newPool, now: () => 0 });
    const a = replicas.choose(config, endpoints, true, key)!;
    assert.deepEqual([a.endpoint, a.how, a.count, a.bound], [preferred, "preferred", 2, 3]);
  });

  it("property: with one activator replica the bound is exact on the engines' real counts, whenever readings come", () => {
    const wide = { ...config, vllm: { maxNumSeqs: 1000 } } as unknown as ModelConfig; // never full: the bound alone decides
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(2), fc.string({ maxLength: 6 }), fc.nat(3)), { minLength: 1, maxLength: 300 }), (ops) => {
        const real = new Map(endpoints.map((e) => [e, 0])); // requests at each engine: all this replica's
        const readings = new Map<string, EngineReading>();
        const replicas = new Replicas("m", { reading: (_m, e) => readings.get(e), newPool, now: () => 0 });
        for (const [op, k, which] of ops) {
          if (op === 0) {
            // a scrape: each engine's running count as it is now
            for (const e of endpoints) readings.set(e, { running: real.get(e)!, waiting: 0, kvCache: 0 });
          } else if (op === 1) {
            const total = [...real.values()].reduce((x, y) => x + y, 0);
            const c = replicas.choose(wide, endpoints, true, k)!;
            assert.deepEqual([c.count, c.bound], [real.get(c.endpoint), loadBound(total, endpoints.length, 1.25)]);
            real.set(c.endpoint, real.get(c.endpoint)! + 1);
            assert.ok(real.get(c.endpoint)! <= c.bound!, `${c.endpoint} at ${real.get(c.endpoint)} over ${c.bound}`);
          } else {
            const busy = endpoints.filter((e) => real.get(e)! > 0);
            if (busy.length === 0) continue;
            const e = busy[which % busy.length]!;
            replicas.done(e);
            real.set(e, real.get(e)! - 1);
          }
        }
      }),
    );
  });
});
