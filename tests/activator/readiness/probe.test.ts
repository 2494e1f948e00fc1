import assert from "node:assert/strict";
import pino from "pino";
import { createReadiness } from "../../../activator/src/readiness";
import type { Readiness } from "../../../activator/src/readiness/types";
import { notReadyProbeDelay, probeUrl } from "../../../activator/src/readiness/probe";
import { TestBackend } from "../../../testing/activator/backend";
import { eventually, sleep } from "../../../testing/activator/http";

const logger = pino({ level: "silent" });
/** Polls every 2 ms: these tests time readiness to the millisecond. */
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

  it("releases every waiter through one shared promise within milliseconds of the backend starting", async () => {
    const r = watch();
    await sleep(50);
    assert.equal(r.ready, false);
    assert.match(r.lastObserved, new RegExp(`GET ${backend.url}/health failed: ECONNREFUSED`));

    const waiters = Array.from({ length: 1000 }, () => r.whenReady());
    assert.ok(waiters.every((w) => w === waiters[0]), "one promise for every waiter");
    const released: number[] = [];
    for (const w of waiters) void w.then(() => released.push(performance.now()));
    await backend.startAfter(300);
    await Promise.all(waiters);
    const delay = Math.max(...released) - backend.listeningAt!;
    console.log(`      readiness detected ${delay.toFixed(1)} ms after the backend started listening (cold start 300 ms)`);
    // 10 ms probe interval + the first HTTP exchange of undici in this process (it compiles its parser once).
    assert.ok(delay < 100, `detected ${delay.toFixed(1)} ms after listening`);
    assert.equal(released.length, 1000);
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

  it("probes less and less while idle, and fast again on wake(), however many wakes arrive", async () => {
    backend.ready = false;
    await backend.start();
    const r = watch();
    await sleep(500);
    const early = backend.readinessRequests;
    await sleep(1000);
    const later = backend.readinessRequests - early;
    assert.ok(early >= 25, `${early} probes in the first 500 ms (every 10 ms)`);
    // 2% backoff from 0.5 s to 1.5 s is ln(3)/ln(1.02) ≈ 55 probes; every 10 ms would be 100.
    assert.ok(later <= 65, `${later} probes in the next second: backing off`);

    const before = backend.readinessRequests;
    const wokeAt = performance.now();
    r.wake();
    await until(() => backend.readinessRequests > before, 100, "a probe after wake()");
    assert.ok(performance.now() - wokeAt < 50);
    for (let i = 0; i < 100; i++) r.wake(); // a burst of demand does not become a burst of probes
    await sleep(100);
    const afterBurst = backend.readinessRequests - before;
    assert.ok(afterBurst <= 12, `${afterBurst} probes in 100 ms after 100 wakes: at most one per 10 ms`);
  });

  it("probes slowly while ready, flips on markUnready, and comes back when the backend does", async () => {
    await backend.start();
    const r = watch();
    await r.whenReady();
    const atReady = backend.readinessRequests;
    await sleep(500);
    assert.ok(backend.readinessRequests - atReady <= 1, "at most one probe per second while ready");

    await backend.stop();
    r.markUnready("connect ECONNREFUSED to a replica that went away");
    assert.equal(r.ready, false, "flips synchronously");
    assert.equal(r.lastObserved, "connect ECONNREFUSED to a replica that went away");
    const waiting = r.whenReady();
    await backend.startAfter(100);
    await waiting;
    assert.ok(performance.now() - backend.listeningAt! < 50);
  });

  it("notices a ready backend going away without being told", async () => {
    await backend.start();
    const r = watch();
    await r.whenReady();
    await backend.stop();
    await until(() => !r.ready, 2000, "readiness lost");
    assert.match(r.lastObserved, /failed/);
  });

  it("close() rejects pending waiters, naming the model, and stops probing", async () => {
    backend.ready = false;
    await backend.start();
    const r = watch();
    const waiting = r.whenReady();
    await sleep(30);
    r.close();
    await assert.rejects(waiting, /default\/llama.*closed/);
    await assert.rejects(r.whenReady(), /closed/);
    await sleep(20); // a probe sent just before close() may still land
    const probes = backend.readinessRequests;
    await sleep(100);
    assert.equal(backend.readinessRequests, probes);
  });
});
