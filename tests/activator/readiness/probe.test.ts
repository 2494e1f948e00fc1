import assert from "node:assert/strict";
import pino from "pino";
import { createReadiness } from "../../../activator/src/readiness";
import type { Readiness } from "../../../activator/src/readiness/types";
import { notReadyProbeDelay, ProbeReadiness, probeUrl, type ProbeResult } from "../../../activator/src/readiness/probe";
import { TestBackend } from "../../../testing/activator/backend";
import { ManualClock } from "../../../testing/activator/clock";
import { eventually, sleep } from "../../../testing/activator/http";

const logger = pino({ level: "silent" });
/** Polls every 2 ms. */
const until = (condition: () => boolean, timeoutMs: number, what: string) => eventually(condition, what, timeoutMs, 2);

describe("activator readiness: probe mode", () => {
  let backend: TestBackend;
  let readiness: Readiness;

  function watch(): Readiness {
    readiness = createReadiness(
      "probe",
      { modelKey: "default/llama", namespace: "default", serviceName: "llama", backend: backend.url, readinessPath: "/health" },
      { logger },
    );
    return readiness;
  }

  beforeEach(async () => {
    backend = await TestBackend.create();
  });
  afterEach(async () => {
    readiness?.close();
    await backend.stop();
  });

  it("joins the backend URL and the readiness path whatever the slashes", () => {
    const table: Array<[string, string, string]> = [
      ["http://svc:8080", "/health", "http://svc:8080/health"],
      ["http://svc:8080/", "/health", "http://svc:8080/health"],
      ["http://svc:8080", "v1/models", "http://svc:8080/v1/models"],
      ["http://svc:8080/prefix/", "/ready", "http://svc:8080/prefix/ready"],
    ];
    for (const [base, path, url] of table) assert.equal(probeUrl(base, path), url, `${base} + ${path}`);
  });

  it("releases every waiter through one shared promise once the backend starts, with one or two probes for all", async () => {
    const r = watch();
    await sleep(50);
    assert.equal(r.ready, false);
    assert.match(r.lastObserved, new RegExp(`GET ${backend.url}/health failed: ECONNREFUSED`));

    const waiters = Array.from({ length: 1000 }, () => r.whenReady());
    assert.ok(waiters.every((w) => w === waiters[0]), "one promise for every waiter");
    let released = 0;
    for (const w of waiters) void w.then(() => released++);
    await backend.startAfter(300);
    await Promise.all(waiters);
    assert.equal(released, 1000);
    assert.equal(r.ready, true);
    assert.ok(backend.readinessRequests <= 2, `${backend.readinessRequests} readiness requests for 1000 waiters`);
    assert.match(r.lastObserved, /answered HTTP 200/);
    await r.whenReady(); // ready: resolves at once
  });

  it("is not ready while the readiness path answers 503, and says so", async () => {
    backend.ready = false;
    await backend.start();
    const r = watch();
    await until(() => backend.readinessRequests >= 2, 1000, "two probes");
    assert.equal(r.ready, false);
    assert.match(r.lastObserved, /answered HTTP 503/);
    const waiting = r.whenReady();
    backend.ready = true;
    await waiting;
    assert.equal(r.ready, true);
  });

  it("waits 2% of the time spent not ready before the next probe, between 10 ms and 1 s", () => {
    const table: Array<[number, number]> = [
      [0, 10],
      [200, 10],
      [500, 10],
      [1000, 20],
      [5000, 100],
      [50_000, 1000],
      [3_600_000, 1000],
    ];
    for (const [waited, delay] of table) assert.equal(notReadyProbeDelay(waited), delay, `after ${waited} ms`);
  });

  it("notices a ready backend going away without being told", async () => {
    await backend.start();
    const r = watch();
    await r.whenReady();
    await backend.stop();
    await until(() => !r.ready, 2000, "readiness lost");
    assert.match(r.lastObserved, /failed/);
  });

  it("close() rejects pending waiters, naming the model", async () => {
    backend.ready = false;
    await backend.start();
    const r = watch();
    const waiting = r.whenReady();
    await until(() => backend.readinessRequests >= 1, 1000, "a probe");
    r.close();
    await assert.rejects(waiting, /default\/llama.*closed/);
    await assert.rejects(r.whenReady(), /closed/);
  });
});

/** The probe schedule, on a manual clock with a fake backend: what a 2-core CI runner's load cannot change. */
describe("activator readiness: probe mode schedule (manual clock)", () => {
  let clock: ManualClock;
  let ready: boolean;
  let probes: number[];
  let r: ProbeReadiness;

  beforeEach(() => {
    clock = new ManualClock();
    ready = false;
    probes = [];
    const probe = async (url: string): Promise<ProbeResult> => {
      probes.push(clock.now());
      return ready ? { ok: true, observed: `GET ${url} answered HTTP 200` } : { ok: false, observed: `GET ${url} answered HTTP 503` };
    };
    const target = { modelKey: "default/llama", namespace: "default", serviceName: "llama", backend: "http://llama", readinessPath: "/health" };
    r = new ProbeReadiness(target, logger, { clock, probe });
  });
  afterEach(() => r.close());

  const probesIn = (from: number, to: number) => probes.filter((t) => t > from && t <= to).length;

  it("releases every waiter within one probe interval (10 ms) of the backend turning ready", async () => {
    let releasedAt: number | undefined;
    void r.whenReady().then(() => (releasedAt = clock.now()));
    await clock.advance(300);
    assert.equal(releasedAt, undefined, "not ready yet");
    ready = true;
    await clock.advance(10);
    assert.ok(releasedAt !== undefined && releasedAt <= 310, `released at ${releasedAt} ms, backend ready at 300 ms`);
    assert.match(r.lastObserved, /answered HTTP 200/);
  });

  it("probes every 10 ms while a cold start is young, then backs off by 2% of the time waited", async () => {
    await clock.advance(500);
    assert.equal(probes.length, 51, "t = 0, 10, …, 500 ms");
    await clock.advance(1000);
    // From 0.5 s to 1.5 s, each delay 2% of the time waited: ln(3)/ln(1.02) ≈ 55 probes (every 10 ms would be 100).
    const later = probesIn(500, 1500);
    assert.ok(later >= 50 && later <= 56, `${later} probes in the next second`);
    await clock.advance(60_000);
    assert.equal(probesIn(60_500, 61_500), 1, "an idle model at zero: one probe a second");
  });

  it("probes fast again on wake(), but never more than once per 10 ms however many wakes arrive", async () => {
    await clock.advance(60_000); // backed off to one probe a second
    assert.ok(probesIn(59_000, 60_000) <= 1, "backed off to one probe a second");
    const wokeAt = clock.now();
    r.wake();
    await clock.advance(0);
    assert.deepEqual(probes.slice(-1), [wokeAt], "a probe at once on wake() (the last was over 10 ms ago)");
    for (let i = 0; i < 100; i++) r.wake(); // a burst of demand does not become a burst of probes
    await clock.advance(100);
    assert.equal(probesIn(wokeAt, wokeAt + 100), 10, "one probe per 10 ms after 100 wakes");
  });

  it("probes once a second while ready, flips on markUnready, and comes back within 10 ms of the backend", async () => {
    ready = true;
    const becameReady = r.whenReady();
    await clock.advance(0);
    await becameReady;
    const atReady = probes.length;
    await clock.advance(999);
    assert.equal(probes.length, atReady, "no probe within the second after ready");
    await clock.advance(1);
    assert.equal(probes.length, atReady + 1);

    ready = false;
    r.markUnready("connect ECONNREFUSED to a replica that went away");
    assert.equal(r.ready, false, "flips synchronously");
    assert.equal(r.lastObserved, "connect ECONNREFUSED to a replica that went away");
    let back: number | undefined;
    void r.whenReady().then(() => (back = clock.now()));
    const lostAt = clock.now();
    await clock.advance(100);
    assert.equal(back, undefined);
    ready = true;
    await clock.advance(10);
    assert.ok(back !== undefined && back - lostAt <= 110, `ready again ${back! - lostAt} ms after, backend back at 100 ms`);
  });

  it("close() stops probing: no timer left", async () => {
    await clock.advance(50);
    r.close();
    const probed = probes.length;
    assert.equal(clock.timers, 0);
    await clock.advance(10_000);
    assert.equal(probes.length, probed);
  });
});
