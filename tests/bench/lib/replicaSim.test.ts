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

  it("every request completes, and prefix-affine with 2 activator replicas keeps each placement within its bound", () => {
    const r = run("prefix-affine", 2);
    assert.equal(r.requests, 3000);
    assert.equal(r.ttftMs.length, 3000);
    assert.equal(r.aboveBound, 0);
  });
});
