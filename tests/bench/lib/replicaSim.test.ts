/** The replica-choice simulation: seeded (same figures on every run), and the activator count leaves the workload alone. */
import { strict as assert } from "node:assert";
import { simulate } from "../../../bench/lib/replicaSim";
import { ENGINE, SHARED } from "../../../bench/replicaChoice";

describe("bench: replica-choice simulation", () => {
  const run = (policy: "service" | "prefix-affine", activators: number, seed = 7) => simulate(ENGINE, SHARED, policy, { requests: 3000, ratePerSecond: 20, seed, activators });

  it("the same seed gives the same TTFTs; another seed does not", () => {
    assert.deepEqual(run("prefix-affine", 2).ttftMs, run("prefix-affine", 2).ttftMs);
    assert.notDeepEqual(run("prefix-affine", 2).ttftMs, run("prefix-affine", 2, 8).ttftMs);
  });

  it("the number of activator replicas changes only who chooses: the random choice's figures stay the same", () => {
    assert.deepEqual(run("service", 1).ttftMs, run("service", 4).ttftMs);
    assert.notDeepEqual(run("prefix-affine", 1).ttftMs, run("prefix-affine", 4).ttftMs);
  });

  it("one activator replica: no placement above the bound, as it defines it or on the engines' real counts", () => {
    const r = run("prefix-affine", 1);
    assert.equal(r.requests, 3000);
    assert.deepEqual([r.aboveOwnBound, r.aboveBound, r.maxExcess], [0, 0, 0]);
  });

  it("every request completes; placements are judged on the engines' real state, where independent activators overshoot the bound", () => {
    const r = run("prefix-affine", 2);
    assert.equal(r.requests, 3000);
    assert.equal(r.ttftMs.length, 3000);
    assert.equal(r.aboveOwnBound, 0, "each activator replica keeps within the bound on its own counts");
    // two activators each bound what they estimate, from gauges up to 2 s old: the real count can pass the bound
    // (docs/design.md, "Replica choice"), but not by half again
    assert.ok(r.maxLoadOverBound > 1 && r.maxLoadOverBound < 1.5, `max real load ÷ bound ${r.maxLoadOverBound}`);
    assert.ok(r.aboveBound < r.requests * 0.2, `${r.aboveBound} placements above the bound`);
  });
});
