/**
 * The lifecycle state machine (activator/src/lifecycle/lifecycle.ts) on a manual clock with recording parts:
 * phases, the staged drain and its grace period, and the uncaught-error policy. The same over real processes:
 * tests/activator/lifecycle.test.ts (SIGTERM) and ./uncaught.test.ts (a child process).
 */
import { strict as assert } from "node:assert";
import pino from "pino";
import { exitsOnUncaught, Lifecycle, type UncaughtKind } from "../../../activator/src/lifecycle/lifecycle";
import { ManualClock } from "../../../testing/activator/clock";

describe("activator lifecycle: states (manual clock)", () => {
  let clock: ManualClock;
  let steps: string[];
  let counts: { held: number; inFlight: number };
  let exits: number[];
  let uncaught: UncaughtKind[];
  let closeRestWithin: number | undefined;
  let lifecycle: Lifecycle;

  beforeEach(() => {
    clock = new ManualClock();
    steps = [];
    counts = { held: 0, inFlight: 0 };
    exits = [];
    uncaught = [];
    closeRestWithin = undefined;
    lifecycle = new Lifecycle(
      {
        counts: () => ({ ...counts }),
        stopAccepting: () => steps.push("stopAccepting"),
        rejectAllHeld: () => steps.push("rejectAllHeld"),
        cutConnections: () => steps.push("cutConnections"),
        closeRest: async (remainingMs) => {
          closeRestWithin = remainingMs;
          steps.push("closeRest");
        },
      },
      { logger: pino({ level: "silent" }), clock, graceMs: () => 30_000, exit: (code) => exits.push(code), countUncaught: (kind) => uncaught.push(kind) },
    );
  });

  it("goes starting → serving → draining → stopped, and serving() only from starting", async () => {
    assert.equal(lifecycle.phase, "starting");
    lifecycle.serving();
    assert.equal(lifecycle.phase, "serving");
    assert.throws(() => lifecycle.serving(), /serving\(\) in phase serving \(only from starting\)/);
    const done = lifecycle.shutdown("SIGTERM");
    assert.equal(lifecycle.phase, "draining");
    await clock.advance(0);
    await done;
    assert.equal(lifecycle.phase, "stopped");
    assert.deepEqual(exits, [0]);
  });

  it("drains in stages: stops accepting at once, waits for held and in-flight requests, then closes the rest and exits 0", async () => {
    lifecycle.serving();
    counts = { held: 2, inFlight: 1 };
    const done = lifecycle.shutdown("SIGTERM");
    assert.deepEqual(steps, ["stopAccepting"], "accepting stops synchronously");
    await clock.advance(5_000);
    assert.deepEqual(steps, ["stopAccepting"], "still waiting: requests are counted");
    counts = { held: 0, inFlight: 0 };
    await clock.advance(20);
    await done;
    assert.deepEqual(steps, ["stopAccepting", "rejectAllHeld", "cutConnections", "closeRest"]);
    assert.ok(closeRestWithin !== undefined && closeRestWithin <= 25_000 && closeRestWithin >= 24_900, `closeRest got ${closeRestWithin} ms of grace left`);
    assert.deepEqual(exits, [0]);
    assert.equal(clock.now() <= 5_020, true);
  });

  it("stops waiting at the end of the grace period (30 s) and answers what is still held", async () => {
    lifecycle.serving();
    counts = { held: 1, inFlight: 0 };
    const done = lifecycle.shutdown("SIGTERM");
    await clock.advance(29_999);
    assert.deepEqual(steps, ["stopAccepting"]);
    await clock.advance(1);
    await done;
    assert.deepEqual(steps, ["stopAccepting", "rejectAllHeld", "cutConnections", "closeRest"]);
    assert.equal(closeRestWithin, 0);
    assert.deepEqual(exits, [0]);
  });

  it("drains once however many signals arrive", async () => {
    lifecycle.serving();
    const a = lifecycle.shutdown("SIGTERM");
    const b = lifecycle.shutdown("SIGINT");
    assert.equal(a, b);
    await clock.advance(0);
    await a;
    assert.deepEqual(exits, [0]);
    assert.equal(steps.filter((s) => s === "stopAccepting").length, 1);
  });

  it("an uncaught error with nothing counted: counted, and the replica keeps serving", async () => {
    lifecycle.serving();
    lifecycle.uncaught(new Error("boom"), "uncaughtException");
    await clock.advance(60_000);
    assert.deepEqual(uncaught, ["uncaughtException"]);
    assert.equal(lifecycle.phase, "serving");
    assert.deepEqual(exits, []);
  });

  it("an uncaught error while requests are counted: counted, drained, exit 1 (the StatefulSet restarts the pod)", async () => {
    lifecycle.serving();
    counts = { held: 0, inFlight: 1 };
    lifecycle.uncaught(new Error("boom"), "unhandledRejection");
    assert.equal(lifecycle.phase, "draining");
    lifecycle.uncaught(new Error("again"), "uncaughtException"); // while draining: counted, no second drain
    counts = { held: 0, inFlight: 0 };
    await clock.advance(20);
    assert.deepEqual(uncaught, ["unhandledRejection", "uncaughtException"]);
    assert.equal(lifecycle.phase, "stopped");
    assert.deepEqual(exits, [1]);
  });

  it("exits on an uncaught error exactly when a held or in-flight request is counted", () => {
    assert.equal(exitsOnUncaught({ held: 0, inFlight: 0 }), false);
    assert.equal(exitsOnUncaught({ held: 1, inFlight: 0 }), true);
    assert.equal(exitsOnUncaught({ held: 0, inFlight: 3 }), true);
  });
});
