/** Replica choice: an endpoint's engine now, from a stale gauge reading and this activator replica's own sends since. */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { EngineEstimates } from "../../../activator/src/routing/engineEstimate";
import { HashRing, loadBound, pickBounded } from "../../../activator/src/routing/endpointPicker";

const E = "http://10.0.0.1:8000";

describe("activator replica choice: engine estimates between gauge readings", () => {
  it("without a reading (none, or stale) the load is this replica's own in-flight count, never full", () => {
    const est = new EngineEstimates();
    assert.deepEqual(est.estimate(E, 5, undefined), { outstanding: 5, waiting: 0, capacity: undefined, full: false, load: 5 });
  });

  it("one activator: what it sent since the reading counts at once, not 2 s later", () => {
    const est = new EngineEstimates();
    const reading = { running: 10, waiting: 0, kvCache: 0 };
    assert.equal(est.estimate(E, 10, reading).outstanding, 10);
    // 4 sent since, the reading unchanged: scale (10 + 1) ÷ (10 + 1) = 1
    assert.equal(est.estimate(E, 14, reading).outstanding, 14);
    // 6 of ours finished since: 10 - 6 = 4 left, which is also our own in-flight count (the floor)
    assert.equal(est.estimate(E, 4, reading).outstanding, 4);
  });

  it("several activators: own sends are scaled by the share the endpoint's count held at the reading", () => {
    const est = new EngineEstimates();
    const reading = { running: 29, waiting: 0, kvCache: 0 };
    est.observe(E, 9, reading); // we held 9 of 29: scale (29 + 1) ÷ (9 + 1) = 3
    assert.equal(est.estimate(E, 11, reading).outstanding, 29 + 2 * 3);
    assert.equal(est.estimate(E, 8, reading).outstanding, 29 - 3);
  });

  it("capacity is learnt from a reading with requests waiting; then waiting and full follow the estimate", () => {
    const est = new EngineEstimates();
    const before = est.estimate(E, 60, { running: 60, waiting: 0, kvCache: 0.5 });
    assert.equal(before.capacity, undefined);
    assert.equal(before.full, false);
    const queued = { running: 64, waiting: 3, kvCache: 0.5 };
    const q = est.estimate(E, 67, queued);
    assert.deepEqual([q.capacity, q.outstanding, q.waiting, q.full], [64, 67, 3, true]);
    assert.equal(q.load, 67 + 3 + 2 * 0.5); // outstanding + waiting + KV penalty (endpointLoad)
    // 5 of ours finished since: 62 outstanding, 2 slots free, no longer full
    const later = est.estimate(E, 62, queued);
    assert.deepEqual([later.outstanding, later.waiting, later.full], [62, 0, false]);
    // a reading with more running than learnt raises the capacity (the KV cache had been the limit)
    assert.equal(est.estimate(E, 70, { running: 70, waiting: 0, kvCache: 0.9 }).capacity, 70);
  });

  it("with the capacity unknown, a queueing engine counts our later sends as waiting", () => {
    const est = new EngineEstimates();
    const reading = { running: 0, waiting: 4, kvCache: 0 }; // engine starting: no capacity to learn
    est.observe(E, 4, reading);
    const e = est.estimate(E, 6, reading);
    assert.deepEqual([e.capacity, e.waiting, e.full], [undefined, 6, true]);
  });

  it("endpoints no longer listed are forgotten", () => {
    const est = new EngineEstimates();
    est.estimate(E, 67, { running: 64, waiting: 3, kvCache: 0 });
    est.retain(new Set());
    assert.equal(est.estimate(E, 1, undefined).capacity, undefined);
  });
});

describe("activator replica choice: bounded loads with full endpoints", () => {
  const pods = ["http://10.0.0.1:8000", "http://10.0.0.2:8000", "http://10.0.0.3:8000", "http://10.0.0.4:8000"];
  const ring = new HashRing(pods);
  const key = "system\nYou are a contract reviewer.\n";
  const order = [...ring.walk(key)];

  it("a full preferred endpoint within its bound is passed over for the next one clockwise", () => {
    const loads = new Map([[order[0]!, 10], [order[1]!, 10], [order[2]!, 10], [order[3]!, 10]]);
    const full = new Set([order[0]!]);
    const pick = pickBounded(ring, key, (e) => loads.get(e)!, 1.25, (e) => full.has(e));
    assert.deepEqual(pick, { endpoint: order[1], how: "walked" });
    assert.deepEqual(pickBounded(ring, key, (e) => loads.get(e)!, 1.25), { endpoint: order[0], how: "preferred" });
  });

  it("when every endpoint within its bound is full, the first of them clockwise is taken", () => {
    const loads = new Map([[order[0]!, 30], [order[1]!, 10], [order[2]!, 10], [order[3]!, 10]]); // order[0] over its bound
    const pick = pickBounded(ring, key, (e) => loads.get(e)!, 1.25, () => true);
    assert.deepEqual(pick, { endpoint: order[1], how: "walked" });
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
