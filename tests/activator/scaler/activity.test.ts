/**
 * The one definition of "active" reported to KEDA (activator/src/scaler/activity.ts), on an injected clock: a request
 * that arrived and ended between two reports is still reported once, an idle model is not, and a KEDA that applies
 * its rules (lastActiveTime set by every `true`, scale to zero at a `false` poll once lastActiveTime + cooldown has
 * passed: kedacore/keda v2.20.2 pkg/scaling/executor/scale_scaledobjects.go) keeps a model with steady light traffic
 * up and takes an idle one to zero one cooldown after its last request.
 */
import assert from "node:assert/strict";
import { ActivityReports, type ModelActivity } from "../../../activator/src/scaler/activity";

const MODEL = "default/embed";

/** A model's demand and last activity, driven by the test on its own clock. */
class ClockedActivity implements Pick<ModelActivity, "demand" | "lastActivityAt"> {
  inFlight = 0;
  last = -Infinity;
  constructor(private readonly clock: { now: number }) {}
  demand(): number {
    return this.inFlight;
  }
  lastActivityAt(): number {
    return this.last;
  }
  arrive(): void {
    this.inFlight++;
    this.last = this.clock.now;
  }
  end(): void {
    this.inFlight--;
    this.last = this.clock.now;
  }
}

/** The rule before issue 21: demand at the instant of the report only. */
const demandOnly = (a: ClockedActivity): Pick<ModelActivity, "demand" | "lastActivityAt"> => ({ demand: () => a.demand(), lastActivityAt: () => -Infinity });

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so the simulated traffic is the same on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Simulation {
  /** Fraction of the cooldown windows (fixed, back to back, during traffic) in which KEDA received at least one `true`. */
  windowsWithActivity: number;
  /** Times KEDA scaled the model to zero while traffic went on. */
  zeroedDuringTraffic: number;
  /** Seconds from the last request's end to scale-to-zero after traffic stopped; null if it never happened. */
  zeroAfterLastS: number | null;
}

/**
 * KEDA against the activity, stepped at 10 ms: StreamIsActive reports every heartbeat, IsActive every poll, a request
 * of `requestMs` every `everyS` ± 20 % for `trafficS`, then silence. KEDA (as in RequestScale): a `true` sets
 * lastActiveTime; a `false` poll with lastActiveTime + cooldown in the past scales to zero (the next request then
 * starts it again: replicas up, lastActiveTime = then).
 */
function simulate(rule: "activeSince" | "demandOnly", opts = { requestMs: 150, everyS: 30, heartbeatS: 5, pollS: 15, cooldownS: 300, trafficS: 4 * 3600 }): Simulation {
  const clock = { now: 0 };
  const activity = new ClockedActivity(clock);
  const reports = new ActivityReports<string>(rule === "activeSince" ? activity : demandOnly(activity), opts.heartbeatS * 1000, () => clock.now);
  const rand = random(21);
  const step = 10;
  let nextRequest = 1000 + rand() * opts.everyS * 1000;
  let requestEnds = -1;
  let lastEnd = -1;
  let lastActive = 0;
  let up = true;
  let zeroedDuringTraffic = 0;
  let zeroAt: number | null = null;
  const windows = new Set<number>();
  const end = opts.trafficS * 1000 + 2 * opts.cooldownS * 1000;
  for (clock.now = 0; clock.now <= end; clock.now += step) {
    const t = clock.now;
    if (t < opts.trafficS * 1000 && t >= nextRequest) {
      activity.arrive();
      if (!up) {
        up = true; // a cold start (its time is not modelled): the model serves again, KEDA saw it active
        lastActive = t;
      }
      requestEnds = t + opts.requestMs;
      nextRequest = t + opts.everyS * 1000 * (0.8 + 0.4 * rand());
    }
    if (requestEnds >= 0 && t >= requestEnds) {
      activity.end();
      lastEnd = t;
      requestEnds = -1;
    }
    const said = (active: boolean) => {
      if (!active) return;
      lastActive = t;
      if (t < opts.trafficS * 1000) windows.add(Math.floor(t / (opts.cooldownS * 1000)));
    };
    if (t % (opts.heartbeatS * 1000) === 0) said(reports.report("stream", MODEL));
    if (t % (opts.pollS * 1000) === 0) {
      const active = reports.report("poll", MODEL);
      said(active);
      if (!active && up && t - lastActive > opts.cooldownS * 1000) {
        up = false;
        if (t < opts.trafficS * 1000) zeroedDuringTraffic++;
        else zeroAt ??= t;
      }
    }
  }
  const total = Math.floor((opts.trafficS * 1000) / (opts.cooldownS * 1000));
  return {
    windowsWithActivity: [...windows].filter((w) => w < total).length / total,
    zeroedDuringTraffic,
    zeroAfterLastS: zeroAt === null ? null : (zeroAt - lastEnd) / 1000,
  };
}

describe("activator scaler: activity reported to KEDA", () => {
  it("reports a request that arrived and ended between two reports once, to each reader, and nothing after", () => {
    const clock = { now: 0 };
    const activity = new ClockedActivity(clock);
    const reports = new ActivityReports<string>(activity, 5000, () => clock.now);
    clock.now = 10_000;
    assert.equal(reports.report("stream", MODEL), false, "idle, first report: nothing in the last heartbeat");
    assert.equal(reports.report("poll", MODEL), false);
    clock.now = 12_000;
    activity.arrive();
    clock.now = 12_150;
    activity.end();
    clock.now = 15_000;
    assert.equal(reports.report("stream", MODEL), true, "the heartbeat after a 150 ms request that it did not overlap");
    assert.equal(reports.report("stream", MODEL), false, "told once");
    clock.now = 25_000;
    assert.equal(reports.report("poll", MODEL), true, "the poll after it, 13 s later, is told too");
    assert.equal(reports.report("poll", MODEL), false);
  });

  it("reports a model with a request in flight at every report, and looks back one heartbeat at a new reader's first", () => {
    const clock = { now: 100_000 };
    const activity = new ClockedActivity(clock);
    const reports = new ActivityReports<string>(activity, 5000, () => clock.now);
    activity.arrive();
    for (let i = 0; i < 3; i++) {
      clock.now += 60_000;
      assert.equal(reports.report("poll", MODEL), true, "a long request is active throughout");
    }
    activity.end();
    clock.now += 4000;
    assert.equal(reports.report("new stream", MODEL), true, "ended 4 s ago: within the first report's look-back");
    clock.now += 1;
    assert.equal(reports.report("another stream", MODEL), true);
    clock.now += 2000;
    assert.equal(reports.report("late stream", MODEL), false, "ended 6 s ago: older than a heartbeat, not told to a new reader");
    reports.forget("new stream");
    assert.equal(reports.report("new stream", MODEL), false, "a forgotten reader starts over");
  });

  it("keeps a model with one 150 ms request every 30 s up under KEDA's rules, and takes it to zero one cooldown after the last", () => {
    const before = simulate("demandOnly");
    const after = simulate("activeSince");
    const pct = (x: number) => `${(100 * x).toFixed(0)} %`;
    console.log(
      `      300 s cooldown windows with activity seen by KEDA, 150 ms every 30 s, heartbeat 5 s, poll 15 s: ` +
        `demand at the instant ${pct(before.windowsWithActivity)} (${before.zeroedDuringTraffic} scale-to-zero in 4 h of traffic), ` +
        `activity since the last report ${pct(after.windowsWithActivity)} (${after.zeroedDuringTraffic})`,
    );
    assert.equal(after.windowsWithActivity, 1, "every cooldown window sees activity");
    assert.equal(after.zeroedDuringTraffic, 0, "never scaled to zero under steady traffic");
    assert.ok(before.zeroedDuringTraffic > 0, "the demand-only rule does scale it to zero (the simulation can tell them apart)");
    assert.ok(after.zeroAfterLastS !== null, "an idle model reaches zero");
    // The poll after the last request says `true` (≤ 15 s), and the first poll past lastActiveTime + cooldown scales
    // to zero (≤ 15 s more): one cooldown plus at most two polling intervals, as for a request seen in flight before.
    assert.ok(after.zeroAfterLastS >= 300 && after.zeroAfterLastS <= 300 + 2 * 15, `zero ${after.zeroAfterLastS} s after the last request`);
  });
});
