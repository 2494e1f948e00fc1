import assert from "node:assert/strict";
import pino from "pino";
import { createReadiness } from "../../../activator/src/readiness";
import type { Readiness } from "../../../activator/src/readiness/types";
import { readyEndpointCount, readyEndpointUrls } from "../../../activator/src/readiness/kubernetes";
import { endpointSlice, FAKE_TOKEN, FakeKubeApi } from "../../../testing/activator/fakeKubeApi";
import { eventually, sleep } from "../../../testing/activator/http";

const logger = pino({ level: "silent" });
/** Polls every 2 ms: these tests time readiness to the millisecond. */
const until = (condition: () => boolean, timeoutMs: number, what: string) => eventually(condition, what, timeoutMs, 2);

const slice = (name: string, ready: Array<boolean | null>, service = "llama", namespace = "models") =>
  endpointSlice({ namespace, service, name, ready });

describe("activator readiness: kubernetes mode (EndpointSlices)", () => {
  let api: FakeKubeApi;
  let readiness: Readiness;

  async function watch(): Promise<Readiness> {
    readiness = createReadiness(
      "kubernetes",
      { modelKey: "models/llama", namespace: "models", serviceName: "llama", backend: "http://llama.models", readinessPath: "/health" },
      { logger, kubeConfig: api.kubeConfig() },
    );
    await until(() => api.openWatches === 1, 2000, "the watch to open");
    return readiness;
  }

  beforeEach(async () => {
    api = await FakeKubeApi.start();
  });
  afterEach(async () => {
    readiness?.close();
    await api.stop();
  });

  it("counts ready endpoints: ready true or unset counts, false does not", () => {
    const table: Array<[Array<boolean | null>, number]> = [
      [[], 0],
      [[false], 0],
      [[true], 1],
      [[null], 1],
      [[false, true, null, false], 2],
    ];
    for (const [ready, count] of table) assert.equal(readyEndpointCount(slice("s", ready)), count, JSON.stringify(ready));
  });

  it("lists the ready endpoints' URLs (engine metrics are read from each), IPv6 in brackets", () => {
    assert.deepEqual(readyEndpointUrls(slice("s", [true, false, null])), ["http://10.0.0.1:8080", "http://10.0.0.3:8080"]);
    const v6 = { ...slice("s", [true]), addressType: "IPv6", endpoints: [{ addresses: ["fd00::1"], conditions: { ready: true } }] };
    assert.deepEqual(readyEndpointUrls(v6), ["http://[fd00::1]:8080"]);
    assert.deepEqual(readyEndpointUrls({ ...slice("s", [true]), ports: [] }), [], "no port, no URL");
  });

  it("lists then watches with the Service's label selector and the kubeconfig's credentials", async () => {
    const r = await watch();
    assert.equal(api.lists, 1);
    assert.equal(api.watches, 1);
    assert.equal(api.lastAuthorization, `Bearer ${FAKE_TOKEN}`);
    assert.equal(r.ready, false);
    assert.match(r.lastObserved, /Service models\/llama: 0 ready endpoint\(s\) in 0 slice\(s\)/);
  });

  it("releases every waiter on the watch event of an endpoint turning ready, with one watch and one list for all", async () => {
    api.apply(slice("llama-a", [false]));
    const r = await watch();
    assert.equal(r.ready, false);
    const waiters = Array.from({ length: 500 }, () => r.whenReady());
    assert.ok(waiters.every((w) => w === waiters[0]), "one shared promise");
    await sleep(20);
    api.apply(slice("llama-a", [true]));
    await Promise.all(waiters);
    assert.equal(r.ready, true);
    assert.equal(api.watches, 1, "one watch, not one per waiter");
    assert.equal(api.lists, 1);
    assert.match(r.lastObserved, /1 ready endpoint\(s\) in 1 slice\(s\) \(after MODIFIED llama-a\)/);
  });

  it("tracks each slice: ready while any slice has a ready endpoint, not after it is deleted", async () => {
    const r = await watch();
    api.apply(slice("llama-a", [false, false]));
    api.apply(slice("llama-b", [null]));
    await until(() => r.ready, 1000, "ready from slice b");
    api.apply(slice("llama-a", [true]));
    await until(() => r.readyReplicas === 2, 1000, "two ready replicas");
    api.remove("models", "llama-b");
    await until(() => /after DELETED llama-b/.test(r.lastObserved), 1000, "the delete");
    assert.equal(r.ready, true, "slice a is still ready");
    api.apply(slice("llama-a", [false]));
    await until(() => !r.ready, 1000, "not ready");
    assert.match(r.lastObserved, /0 ready endpoint\(s\) in 1 slice\(s\)/);
  });

  it("tells the holder when the ready count changes while ready (a scale-out's new replica), not on 0 ↔ 1", async () => {
    const r = await watch();
    const counts: number[] = [];
    r.onReplicasChange!(() => counts.push(r.readyReplicas));
    api.apply(slice("llama-a", [true]));
    await until(() => r.ready, 1000, "ready");
    api.apply(slice("llama-a", [true, true]));
    await until(() => r.readyReplicas === 2, 1000, "two ready replicas");
    api.apply(slice("llama-a", [true, true, false]));
    await until(() => /3 endpoint|after MODIFIED/.test(r.lastObserved) && r.readyReplicas === 2, 1000, "the third, not ready");
    api.apply(slice("llama-a", [true]));
    await until(() => r.readyReplicas === 1, 1000, "one ready replica");
    api.apply(slice("llama-a", [false]));
    await until(() => !r.ready, 1000, "not ready");
    assert.deepEqual(counts, [2, 1], "1 → 2 and 2 → 1; not 0 → 1, 1 → 0 or an unchanged count");
  });

  it("ignores slices of other Services and other namespaces", async () => {
    const r = await watch();
    api.apply(slice("mistral-a", [true], "mistral"));
    api.apply(slice("llama-x", [true], "llama", "elsewhere"));
    api.apply(slice("llama-a", [false]));
    await until(() => /after ADDED llama-a/.test(r.lastObserved), 1000, "our slice");
    assert.equal(r.ready, false);
  });

  it("re-lists with backoff after a watch error, picking up what changed meanwhile", async () => {
    const r = await watch();
    api.failLists(2);
    api.breakWatches();
    api.apply(slice("llama-a", [true])); // happens while nobody watches
    await until(() => /re-listing in/.test(r.lastObserved), 1000, "the error to be reported");
    assert.equal(r.ready, false, "keeps the last known state until it knows better");
    await until(() => r.ready, 5000, "ready after the re-list");
    assert.equal(api.lists, 4, "first list, two failures, one success");
    await until(() => api.openWatches === 1, 1000, "watching again");
  });

  it("starts over from a fresh list when the watch reports 410 Gone", async () => {
    const r = await watch();
    api.expireWatches();
    await until(() => api.lists === 2 && api.openWatches === 1, 3000, "re-list and re-watch");
    api.apply(slice("llama-a", [true]));
    await r.whenReady();
  });

  it("resumes a watch the server ended normally without listing again", async () => {
    const r = await watch();
    await sleep(1100); // a healthy watch, as one ended by timeoutSeconds would be
    api.endWatches();
    await until(() => api.watches === 2 && api.openWatches === 1, 2000, "the watch to resume");
    assert.equal(api.lists, 1);
    api.apply(slice("llama-a", [true]));
    await r.whenReady();
  });

  it("markUnready flips at once and re-lists: ready again if the API still shows a ready endpoint", async () => {
    api.apply(slice("llama-a", [true]));
    const r = await watch();
    await r.whenReady();
    r.markUnready("connect ECONNREFUSED 10.0.0.1:8080");
    assert.equal(r.ready, false);
    assert.match(r.lastObserved, /ECONNREFUSED 10\.0\.0\.1:8080; re-listing/);
    await r.whenReady();
    assert.equal(api.lists, 2);
  });

  it("does not turn a burst of markUnready into a burst of lists while the API is failing", async () => {
    api.apply(slice("llama-a", [true]));
    const r = await watch();
    await r.whenReady();
    api.failLists(1000);
    api.breakWatches();
    await until(() => /re-listing in/.test(r.lastObserved), 1000, "the watch error");
    for (let i = 0; i < 50; i++) r.markUnready(`request ${i}: connect ECONNREFUSED`);
    await sleep(300);
    assert.ok(api.lists <= 3, `${api.lists} lists`);
    assert.equal(r.ready, false);
  });

  it("close() ends the watch and rejects pending waiters", async () => {
    const r = await watch();
    const waiting = r.whenReady();
    r.close();
    await assert.rejects(waiting, /models\/llama.*closed/);
    await until(() => api.openWatches === 0, 1000, "the watch connection to close");
    await sleep(300);
    assert.equal(api.lists, 1, "no re-list after close");
  });
});
