/**
 * The activator's metrics registry for a catalog of N models, built in this process (activator/src/base/metrics.ts),
 * and how long rendering it blocks the event loop: prom-client's own `registry.metrics()` (one block) against the
 * sliced renderer the admin port serves (activator/src/base/exposition.ts). The longest block is what a request
 * arriving during a scrape waits at most, whatever the machine's load does to the proxy's own latency.
 *
 * Each model has what one served cold start and one warm request leave (every per-model series of today), and,
 * with `future`, the per-model series other open issues add: two canary versions (requests by version and status, proxy
 * latency histogram by version) and two endpoints (in-flight gauge, requests counter by endpoint).
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Counter, Gauge, Histogram } from "prom-client";
import { renderExposition } from "../../activator/src/base/exposition";
import { createMetrics, REPLICA_CHOICES } from "../../activator/src/base/metrics";

const PHASES = ["replicas_set", "pod_created", "node_ready", "scheduled", "initialized", "image_pulled", "started", "ready", "endpoint_ready", "first_byte"];
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export function catalogMetrics(models: number, future: boolean) {
  const keys = Array.from({ length: models }, (_, i) => `bench/m${i}`);
  const metrics = createMetrics({ forEachModel: (visit) => keys.forEach((k, i) => visit(k, i % 2, i % 3)) });
  const registers = [metrics.registry];
  const versionRequests = future ? new Counter({ name: "activator_version_requests_total", help: "by version", labelNames: ["model", "version", "status"] as const, registers }) : undefined;
  const versionLatency = future ? new Histogram({ name: "activator_version_proxy_latency_seconds", help: "by version", labelNames: ["model", "version"] as const, buckets: LATENCY_BUCKETS, registers }) : undefined;
  const endpointInFlight = future ? new Gauge({ name: "activator_endpoint_in_flight_requests", help: "by endpoint", labelNames: ["model", "endpoint"] as const, registers }) : undefined;
  const endpointRequests = future ? new Counter({ name: "activator_endpoint_requests_total", help: "by endpoint", labelNames: ["model", "endpoint"] as const, registers }) : undefined;
  for (const model of keys) {
    metrics.initModel(model);
    metrics.requestsHeld.inc({ model, reason: "no_ready_replica" });
    metrics.recordColdStart(model, "served", "", 42);
    for (const phase of PHASES) metrics.coldStartPhase.observe({ model, phase }, 4.2);
    metrics.coldStartWait.observe({ model }, 42);
    metrics.activationPush.observe(0.0004);
    for (let r = 0; r < 2; r++) {
      metrics.proxyLatency.observe({ model }, 0.003);
      metrics.requests.inc({ model, status: "200" });
      metrics.replicaChoices.inc({ model, choice: REPLICA_CHOICES[r]! });
    }
    metrics.kedaLastCall.set({ model }, 1_700_000_000);
    for (const version of ["v1", "v2"]) {
      versionRequests?.inc({ model, version, status: "200" });
      versionLatency?.observe({ model, version }, 0.003);
    }
    for (const endpoint of ["10.0.0.1:8080", "10.0.0.2:8080"]) {
      endpointInFlight?.set({ model, endpoint }, 1);
      endpointRequests?.inc({ model, endpoint });
    }
  }
  return metrics;
}

export interface RenderFigures {
  bytes: number;
  series: number;
  /** Wall time of one render, ms. */
  renderMs: number;
  /** CPU time of one render, ms (this process, user + system). */
  cpuMs: number;
  /** Longest event-loop block while it ran, ms (perf_hooks event-loop delay, 1 ms resolution; wall time). */
  longestBlockMs: number;
}

async function measureRender(render: () => Promise<string | Buffer[]>): Promise<RenderFigures> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  await new Promise((r) => setTimeout(r, 20)); // the sampler misses a block that starts before its first tick
  const started = performance.now();
  const cpu = process.cpuUsage();
  const out = await render();
  const renderMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  await new Promise((r) => setTimeout(r, 5)); // the sampler reports the delay of the tick that ends the render
  histogram.disable();
  const text = typeof out === "string" ? out : Buffer.concat(out).toString("utf8"); // as /metrics sends them: chunk by chunk
  return {
    bytes: Buffer.byteLength(text),
    series: text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).length,
    renderMs,
    cpuMs: (used.user + used.system) / 1000,
    longestBlockMs: histogram.max / 1e6,
  };
}

/** A full garbage collection now (V8's `gc()`, exposed for this call: the bench runs without --expose-gc). */
function fullGc(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

/** Renders the registry of `models` models by both renderers, `repeats` times each: the median render, the longest block. */
export async function renderFigures(models: number, future: boolean, repeats: number): Promise<{ promClient: RenderFigures; sliced: RenderFigures }> {
  const metrics = catalogMetrics(models, future);
  fullGc(); // building the catalog leaves garbage whose collection would land in the first render measured
  const worst = async (render: () => Promise<string | Buffer[]>) => {
    const runs: RenderFigures[] = [];
    for (let i = 0; i < repeats; i++) runs.push(await measureRender(render));
    const median = (key: "renderMs" | "cpuMs") => runs.map((r) => r[key]).sort((a, b) => a - b)[runs.length >> 1]!;
    return { ...runs.at(-1)!, renderMs: median("renderMs"), cpuMs: median("cpuMs"), longestBlockMs: Math.max(...runs.map((r) => r.longestBlockMs)) };
  };
  // The sliced renderer first: prom-client's renders leave hundreds of MiB of garbage whose collection would land in
  // the sliced renderer's blocks, and the activator never runs prom-client's renderer. A full collection before each. Its first run renders every
  // series; the later ones write those whose value is unchanged from the text kept (activator/src/base/exposition.ts).
  const sliced = await worst(() => renderExposition(metrics.registry));
  fullGc();
  const promClient = await worst(() => metrics.registry.metrics());
  return { promClient, sliced };
}
