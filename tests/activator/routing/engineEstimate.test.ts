/** Replica choice: an endpoint's engine now, from a stale gauge reading and this activator replica's own sends since. */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { EngineEstimates, KV_CACHE_FULL } from "../../../activator/src/routing/engineEstimate";
import { HashRing, loadBound, pickBounded } from "../../../activator/src/routing/endpointPicker";

const E = "http://10.0.0.1:8000";

describe("activator replica choice: engine estimates between gauge readings", () => {
  const one = { maxNumSeqs: undefined, activators: 1 };
  const seqs = (maxNumSeqs: number, activators = 1) => ({ maxNumSeqs, activators });

  it("without a reading (none, or stale) the load is this replica's own in-flight count; full only at max_num_seqs", () => {
    const est = new EngineEstimates();
    assert.deepEqual(est.estimate(E, 5, undefined, one), { outstanding: 5, waiting: 0, capacity: undefined, full: false, load: 5 });
    assert.equal(est.estimate(E, 64, undefined, seqs(64)).full, true);
    assert.equal(est.estimate(E, 63, undefined, seqs(64)).full, false);
  });

  it("one activator: what it sent since the reading counts at once, not 2 s later", () => {
    const est = new EngineEstimates();
    const reading = { running: 10, waiting: 0, kvCache: 0 };
    assert.equal(est.estimate(E, 10, reading, one).outstanding, 10);
    // 4 sent since, the reading unchanged: scale (10 + 1) ÷ (10 + 1) = 1
    assert.equal(est.estimate(E, 14, reading, one).outstanding, 14);
    // 6 of ours finished since: 10 - 6 = 4 left, which is also our own in-flight count (the floor)
    assert.equal(est.estimate(E, 4, reading, one).outstanding, 4);
  });

  it("several activators: own sends are scaled by the share held at the reading, at most by the number of activators", () => {
    const reading = { running: 29, waiting: 0, kvCache: 0 };
    const table: Array<[activators: number, inFlightNow: number, outstanding: number]> = [
      [4, 11, 29 + 2 * 3], // we held 9 of 29: scale (29 + 1) ÷ (9 + 1) = 3, within 4 activators
      [4, 8, 29 - 3],
      [2, 11, 29 + 2 * 2], // 2 activators: the scale is capped at 2
      [1, 11, 29 + 2], // alone: our sends count once, whatever the share
    ];
    for (const [activators, now, want] of table) {
      const est = new EngineEstimates();
      est.observe(E, 9, reading);
      assert.equal(est.estimate(E, now, reading, { maxNumSeqs: undefined, activators }).outstanding, want, `${activators} activators, ${now} in flight`);
    }
  });

  it("the capacity is max_num_seqs, whatever the reading's waiting says (token-budget or deferred waits teach nothing)", () => {
    const est = new EngineEstimates();
    // vLLM shows requests waiting with 5 running: long prefills used the step's token budget; 256 slots remain the capacity
    const budgetBound = { running: 5, waiting: 3, kvCache: 0.3 };
    const e = est.estimate(E, 8, budgetBound, seqs(256));
    assert.deepEqual([e.capacity, e.outstanding, e.waiting, e.full], [256, 8, 0, false]);
    // and a later reading is not judged by it: nothing is remembered
    const later = est.estimate(E, 60, { running: 60, waiting: 0, kvCache: 0.5 }, seqs(256));
    assert.deepEqual([later.capacity, later.full], [256, false]);
    // at max_num_seqs the engine is full, and what is over it waits
    const queued = { running: 64, waiting: 3, kvCache: 0.5 };
    const at = est.estimate(E, 67, queued, seqs(64));
    assert.deepEqual([at.capacity, at.outstanding, at.waiting, at.full], [64, 67, 3, true]);
    assert.equal(at.load, 67 + 3 + 2 * 0.5); // outstanding + waiting + KV penalty (endpointLoad)
    // 5 of ours finished since: 62 outstanding, 2 slots free, no longer full
    const freed = est.estimate(E, 62, queued, seqs(64));
    assert.deepEqual([freed.outstanding, freed.waiting, freed.full], [62, 0, false]);
  });

  it("a reading with the KV cache full and requests waiting caps the capacity at its running, for that reading only", () => {
    const est = new EngineEstimates();
    const kvBound = { running: 40, waiting: 2, kvCache: 0.97 };
    const e = est.estimate(E, 42, kvBound, seqs(256));
    assert.deepEqual([e.capacity, e.waiting, e.full], [40, 2, true]);
    // KV nearly full but nothing waiting: not KV-bound
    assert.equal(est.estimate(E, 40, { running: 40, waiting: 0, kvCache: 0.97 }, seqs(256)).capacity, 256);
    // the next reading decides afresh
    assert.deepEqual(est.estimate(E, 42, { running: 42, waiting: 0, kvCache: 0.6 }, seqs(256)).full, false);
  });

  it("property: with max_num_seqs known, no reading's waiting lowers the capacity below it unless the KV cache is full", () => {
    fc.assert(
      fc.property(fc.array(fc.record({ running: fc.nat(300), waiting: fc.nat(50), kvCache: fc.double({ min: 0, max: 1, noNaN: true }), inFlight: fc.nat(300) }), { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 1024 }), (steps, maxNumSeqs) => {
        const est = new EngineEstimates();
        for (const { inFlight, ...reading } of steps) {
          const e = est.estimate(E, inFlight, reading, seqs(maxNumSeqs, 2));
          const kvBound = reading.waiting > 0 && reading.kvCache >= KV_CACHE_FULL;
          assert.equal(e.capacity, kvBound ? Math.min(reading.running, maxNumSeqs) : maxNumSeqs);
          assert.equal(e.full, e.outstanding + 1 > e.capacity!);
          assert.ok(e.outstanding >= inFlight);
        }
      }),
    );
  });

  it("with the capacity unknown, a queueing engine counts our later sends as waiting", () => {
    const est = new EngineEstimates();
    const reading = { running: 0, waiting: 4, kvCache: 0 }; // engine starting
    est.observe(E, 4, reading);
    const e = est.estimate(E, 6, reading, one);
    assert.deepEqual([e.capacity, e.waiting, e.full], [undefined, 6, true]);
    // once it no longer queues, it is not full: nothing was learnt from the queueing reading
    assert.equal(est.estimate(E, 6, { running: 6, waiting: 0, kvCache: 0 }, one).full, false);
  });

  it("endpoints no longer listed are forgotten: a new reading starts from the in-flight count then", () => {
    const est = new EngineEstimates();
    const reading = { running: 20, waiting: 0, kvCache: 0 };
    est.observe(E, 0, reading); // held 0 of 20
    est.retain(new Set());
    // re-seen with 5 in flight: the reading's share is taken now (5), so nothing is added yet
    assert.equal(est.estimate(E, 5, reading, seqs(64, 4)).outstanding, 20);
  });
});

describe("activator replica choice: bounded loads with full endpoints", () => {
  const pods = ["http://10.0.0.1:8000", "http://10.0.0.2:8000", "http://10.0.0.3:8000", "http://10.0.0.4:8000"];
  const ring = new HashRing(pods);
  const key = "system\nYou are a contract reviewer.\n";
  const order = [...ring.walk(key)];
  /** Where and why, without the pick's count and bound (tested in endpointPicker.test.ts). */
  const where = (p: { endpoint: string; how: string } | undefined) => p && { endpoint: p.endpoint, how: p.how };

  it("a full preferred endpoint within its bound is passed over for the next one clockwise", () => {
    const loads = new Map([[order[0]!, 10], [order[1]!, 10], [order[2]!, 10], [order[3]!, 10]]);
    const full = new Set([order[0]!]);
    const pick = pickBounded(ring, key, (e) => loads.get(e)!, 1.25, (e) => full.has(e));
    assert.deepEqual(where(pick), { endpoint: order[1], how: "walked_full" }, "counted apart from a walk past the bound");
    assert.deepEqual(where(pickBounded(ring, key, (e) => loads.get(e)!, 1.25)), { endpoint: order[0], how: "preferred" });
  });

  it("a walk is told apart by why the preferred endpoint was passed: its bound (walked) or, within it, full (walked_full)", () => {
    const table: Array<[preferredLoad: number, fullSet: number[], want: { endpoint: string; how: string }]> = [
      [10, [], { endpoint: order[0]!, how: "preferred" }],
      [10, [0], { endpoint: order[1]!, how: "walked_full" }],
      [10, [0, 1], { endpoint: order[2]!, how: "walked_full" }],
      [30, [], { endpoint: order[1]!, how: "walked" }], // over its bound
      [30, [1], { endpoint: order[2]!, how: "walked" }], // over its bound, then the next full: still the bound's walk
      [10, [0, 1, 2, 3], { endpoint: order[0]!, how: "preferred" }], // all full: the first within its bound
    ];
    for (const [preferredLoad, fullSet, want] of table) {
      const loads = new Map([[order[0]!, preferredLoad], [order[1]!, 10], [order[2]!, 10], [order[3]!, 10]]);
      const full = new Set(fullSet.map((i) => order[i]!));
      assert.deepEqual(where(pickBounded(ring, key, (e) => loads.get(e)!, 1.25, (e) => full.has(e))), want, `preferred load ${preferredLoad}, full ${fullSet}`);
    }
  });

  it("when every endpoint within its bound is full, the first of them clockwise is taken", () => {
    const loads = new Map([[order[0]!, 30], [order[1]!, 10], [order[2]!, 10], [order[3]!, 10]]); // order[0] over its bound
    const pick = pickBounded(ring, key, (e) => loads.get(e)!, 1.25, () => true);
    assert.deepEqual(where(pick), { endpoint: order[1], how: "walked" });
  });

  it("property: whatever is full, placements never exceed the bound and every activator replica picks alike", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string({ maxLength: 6 }), fc.nat(3)), { minLength: 1, maxLength: 200 }), fc.array(fc.nat(40), { minLength: 4, maxLength: 4 }), (steps, caps) => {
        const loads = new Map(pods.map((e) => [e, 0]));
        const capacity = new Map(pods.map((e, i) => [e, caps[i]!]));
        const full = (e: string) => loads.get(e)! + 1 > capacity.get(e)!;
        let total = 0;
        for (const [k] of steps) {
          const bound = loadBound(total, pods.length, 1.25);
          const a = pickBounded(ring, k, (e) => loads.get(e)!, 1.25, full)!;
          const b = pickBounded(new HashRing([...pods].reverse()), k, (e) => loads.get(e)!, 1.25, full)!;
          assert.deepEqual(a, b);
          loads.set(a.endpoint, loads.get(a.endpoint)! + 1);
          total++;
          assert.ok(loads.get(a.endpoint)! <= bound, `${a.endpoint} at ${loads.get(a.endpoint)} over bound ${bound}`);
        }
      }),
    );
  });
});
