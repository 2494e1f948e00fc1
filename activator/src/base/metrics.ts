import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { ERRORS } from "./errors";
import { exposeSlices, indexSeries, renderExposition } from "./exposition";

/**
 * Buckets of `activator_cold_start_phase_seconds`, s: few, so a model costs 10 phases × 8 series at most. Our own share
 * (≤ 1 s), a warm node's start (≤ 5, ≤ 30 s), pulls and weights (2 min), a node boot (10 min).
 */
export const COLD_START_PHASE_BUCKETS = [1, 5, 30, 120, 600];

/**
 * The activator's metrics, named by Prometheus conventions (base units in the name, `_total` for counters,
 * `_seconds` for durations). Every `model` label is a configured `<namespace>/<name>` (empty for requests no
 * model took), never a value from the request, so the series count is bounded by the config.
 */

/** How a cold start ended (label `outcome` of `activator_cold_starts_total`). */
export type ColdStartOutcome = "served" | "timeout" | "failed" | "client_gone";

/** Why a request was held (label `reason` of `activator_requests_held_total`). */
export type HoldReason = "no_ready_replica" | "concurrency_limit";

/** Held and in-flight counts per model, read at scrape time (the hot path only bumps plain numbers). */
export interface QueueSnapshot {
  forEachModel(visit: (model: string, held: number, inFlight: number) => void): void;
  /** Models that cannot start, with the cause. */
  forEachFailure?(visit: (model: string, cause: string) => void): void;
}

const WAIT_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900];
/** Cold starts: a local process in milliseconds, a CPU pod in seconds, a GPU node boot + weights in minutes. */
const COLD_START_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 90, 120, 180, 240, 300, 420, 600, 900, 1200, 1800];
const FAST_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * `activator_cold_starts_total` series exported as 0 per model from the start (outcome, cause): `increase()` sees a
 * model's first timeout or failure; other causes appear with their first cold start.
 */
const COLD_START_SERIES: ReadonlyArray<readonly [ColdStartOutcome, string]> = [
  ["served", ""],
  ["timeout", ""],
  ["client_gone", ""],
  ["failed", "model_removed"],
  ["failed", "shutting_down"],
];

/**
 * `reason`s of `activator_rejections_total` answered before a model is known (authentication runs before routing;
 * no route; a model name not served): always `model=""`, exported as 0 once, not per model.
 */
export const UNROUTED_REJECTION_REASONS: ReadonlySet<string> = new Set([ERRORS.unauthorized.reason, ERRORS.no_route.reason, ERRORS.model_not_found.reason]);
/** Every other `reason` of `activator_rejections_total` (ERRORS' reasons), each exported as 0 per model. */
const REJECTION_REASONS = [...new Set(Object.values(ERRORS).map((e) => e.reason))].filter((r) => !UNROUTED_REJECTION_REASONS.has(r));

/** All activator metrics, in their own registry, served on the admin port. */
export function createMetrics(queue: QueueSnapshot) {
  const metrics = createCollectors(queue);
  indexSeries(metrics.registry);
  // Exported as 0 from the start: `increase()` sees the first uncaught error (over a series that first appears at 1 it reads 0).
  for (const kind of ["uncaughtException", "unhandledRejection"] as const) metrics.uncaughtExceptions.inc({ kind }, 0);
  for (const reason of UNROUTED_REJECTION_REASONS) metrics.rejections.inc({ model: "", reason }, 0);
  const initialised = new Set<string>();
  return {
    ...metrics,
    /**
     * The registry's Prometheus text, one string per slice of rendering that yields to the event loop between slices
     * (./exposition): a scrape of a large catalog does not stall proxied requests, and /metrics writes each slice as it
     * comes. Each call renders anew (a Prometheus HA pair's two scrapes render twice).
     */
    expositionSlices(): AsyncGenerator<string, void, undefined> {
      return exposeSlices(metrics.registry);
    },
    /** The whole text as UTF-8 chunks (expositionSlices, gathered): for tests and in-process benches. */
    exposition(): Promise<Buffer[]> {
      return renderExposition(metrics.registry);
    },
    /**
     * Records a cold start that ended: counted by outcome and cause in `activator_cold_starts_total`, its duration
     * (seconds) observed in `activator_cold_start_duration_seconds` when it was served. The other outcomes' durations
     * are left out: they only tell how long clients waited before they gave up or were failed (the timeout, a removal),
     * and 4 histograms of 22 series per model made up 83 of the ~270 lines a model adds to /metrics.
     */
    recordColdStart(model: string, outcome: ColdStartOutcome, cause: string, seconds: number): void {
      metrics.coldStarts.inc({ model, outcome, cause });
      if (outcome === "served") metrics.coldStartDuration.observe({ model }, seconds);
    },
    /**
     * Exports a model's per-model counters, cold-start outcomes and served cold-start duration as 0, once per model key (a model removed and
     * added again keeps its counts): `rate()` and alerts see the model before its first request, and `increase()`
     * sees its first timeout (over a series that first appears at 1 it would read 0).
     */
    initModel(model: string): void {
      if (initialised.has(model)) return;
      initialised.add(model);
      metrics.requestsServedWarm.inc({ model }, 0);
      for (const reason of ["no_ready_replica", "concurrency_limit"] as const) metrics.requestsHeld.inc({ model, reason }, 0);
      for (const [outcome, cause] of COLD_START_SERIES) metrics.coldStarts.inc({ model, outcome, cause }, 0);
      metrics.coldStartDuration.zero({ model });
      for (const reason of REJECTION_REASONS) metrics.rejections.inc({ model, reason }, 0);
      metrics.kedaLastCall.set({ model }, 0);
      for (const choice of REPLICA_CHOICES) metrics.replicaChoices.inc({ model, choice }, 0);
    },
  };
}

/** Values of `activator_replica_choices_total`'s `choice` label: 5 series per model. */
export const REPLICA_CHOICES = ["preferred", "walked", "walked_full", "least_loaded", "service"] as const;
export type ReplicaChoice = (typeof REPLICA_CHOICES)[number];

/**
 * The series of a gauge read at scrape time (held, in flight, start failures per model), kept from one scrape to the
 * next: `update` sets the series whose value changed, adds new ones and removes those not visited, where `reset()` and a
 * `set()` per model would make every series anew at each scrape (1000 models: 1000 series objects per gauge that outlive
 * a young-generation collection, garbage for the old generation's). `key` identifies a series (its label values).
 */
export class ScrapedGaugeSeries {
  /** The series set, by key: their labels and the value last set. */
  private series = new Map<string, { labels: Record<string, string>; value: number }>();
  private store: unknown;

  update(gauge: Gauge<string>, visit: (set: (key: string, labels: Record<string, string>, value: number) => void) => void): void {
    // A reset() elsewhere (prom-client's registry.resetMetrics()) emptied the gauge: set every series again.
    const store = (gauge as unknown as { hashMap: unknown }).hashMap;
    if (store !== this.store) this.series.clear();
    const seen = new Set<string>();
    visit((key, labels, value) => {
      seen.add(key);
      if (this.series.get(key)?.value === value) return;
      gauge.set(labels, value);
      this.series.set(key, { labels, value });
    });
    for (const [key, { labels }] of this.series) {
      if (seen.has(key)) continue;
      gauge.remove(labels);
      this.series.delete(key);
    }
    this.store = (gauge as unknown as { hashMap: unknown }).hashMap;
  }
}

function createCollectors(queue: QueueSnapshot) {
  const heldSeries = new ScrapedGaugeSeries();
  const inFlightSeries = new ScrapedGaugeSeries();
  const failureSeries = new ScrapedGaugeSeries();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    requests: new Counter({
      name: "activator_requests_total",
      help: "Requests answered, by model and HTTP status (499: client left before the response ended)",
      labelNames: ["model", "status"] as const,
      registers,
    }),
    rejections: new Counter({
      name: "activator_rejections_total",
      help: "Requests the activator answered with an error itself, by model and reason",
      labelNames: ["model", "reason"] as const,
      registers,
    }),
    requestsHeld: new Counter({
      name: "activator_requests_held_total",
      help: "Requests held instead of forwarded at once, by model and reason (no_ready_replica, concurrency_limit)",
      labelNames: ["model", "reason"] as const,
      registers,
    }),
    kedaLastCall: new Gauge({
      name: "activator_keda_last_call_timestamp_seconds",
      help:
        "Unix time KEDA last called this replica's scaler for the model (IsActive, GetMetricSpec, GetMetrics, StreamIsActive opened); " +
        "0 until it does. KEDA's one gRPC connection has no keepalive: held requests and no call for long means a stalled connection",
      labelNames: ["model"] as const,
      registers,
    }),
    requestsServedWarm: new Counter({
      name: "activator_requests_served_warm_total",
      help: "Requests forwarded at once, without a hold: a ready replica, nothing queued ahead, a free slot",
      labelNames: ["model"] as const,
      registers,
    }),
    coldStarts: new Counter({
      name: "activator_cold_starts_total",
      help:
        "Cold starts of a model that ended, by outcome: a replica was ready (served), or every request held for it had left " +
        "(timeout, failed with its cause, client_gone); a cold start begins with the first request held for lack of a ready replica",
      labelNames: ["model", "outcome", "cause"] as const,
      registers,
    }),
    coldStartDuration: new Histogram({
      name: "activator_cold_start_duration_seconds",
      help: "Served cold starts of a model: from the first request held for lack of a ready replica until a replica was ready",
      labelNames: ["model"] as const,
      buckets: COLD_START_BUCKETS,
      registers,
    }),
    coldStartPhase: new Histogram({
      name: "activator_cold_start_phase_seconds",
      help:
        "Served cold starts by phase: seconds from the previous milestone reached to this one (replicas_set, pod_created, " +
        "node_ready, scheduled, initialized, image_pulled, started, ready, endpoint_ready, first_byte); see docs/cold-start-timeline.md",
      labelNames: ["model", "phase"] as const,
      buckets: COLD_START_PHASE_BUCKETS,
      registers,
    }),
    coldStartWait: new Histogram({
      name: "activator_cold_start_wait_seconds",
      help: "Time each held request waited before it was released to the backend",
      labelNames: ["model"] as const,
      buckets: WAIT_BUCKETS,
      registers,
    }),
    activationPush: new Histogram({
      name: "activator_activation_push_seconds",
      // No `model` label: a model sees one observation per cold start, too few for a quantile of its own; what is
      // read (the dashboard's push p99) is the activator's own responsiveness, over every model: 15 series, not 15 per model.
      help: "Time from a request's arrival at a cold model to `true` sent on KEDA's StreamIsActive, over all models",
      buckets: FAST_BUCKETS,
      registers,
    }),
    proxyLatency: new Histogram({
      name: "activator_proxy_latency_seconds",
      help: "Time from forwarding a request to the backend until its response headers arrive",
      labelNames: ["model"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    replicaChoices: new Counter({
      name: "activator_replica_choices_total",
      help: "Requests forwarded, by how their replica was chosen: preferred (prefix-affine, the prompt's own endpoint), walked (its endpoint was at its load bound: a later one on the ring), walked_full (its endpoint was within its bound but estimated full: a later one on the ring), least_loaded, service (the Service address: no endpoints known, or policy service)",
      labelNames: ["model", "choice"] as const,
      registers,
    }),
    canaryDraws: new Counter({
      name: "activator_canary_draws_total",
      help: "Models with a canary: requests by the version drawn for them (stable, canary), before any fallback; the version that served them is the model label of activator_requests_total (<namespace>/<name>-canary for the canary)",
      labelNames: ["model", "version"] as const,
      registers,
    }),
    canaryFallbacks: new Counter({
      name: "activator_canary_fallbacks_total",
      help: "Models with a canary: requests drawn for the canary that the stable served, by reason: cannot_start (the canary's fail-fast cause is set), canary_cold (coldPolicy stable-first, the canary had no ready replica)",
      labelNames: ["model", "reason"] as const,
      registers,
    }),
    prefixCacheHitRatio: new Gauge({
      name: "activator_prefix_cache_hit_ratio",
      help: "vLLM models: prompt tokens found in the replicas' prefix caches / looked up, over the last minute of scrapes (vllm:prefix_cache_hits_total / vllm:prefix_cache_queries_total increases, summed over ready replicas); absent without lookups",
      labelNames: ["model"] as const,
      registers,
    }),
    held: new Gauge({
      name: "activator_held_requests",
      help: "Requests held waiting for a ready replica (or a free concurrency slot)",
      labelNames: ["model"] as const,
      registers,
      collect() {
        heldSeries.update(this, (set) => queue.forEachModel((model, held) => set(model, { model }, held)));
      },
    }),
    inFlight: new Gauge({
      name: "activator_in_flight_requests",
      help: "Requests forwarded to the backend and not yet finished",
      labelNames: ["model"] as const,
      registers,
      collect() {
        inFlightSeries.update(this, (set) => queue.forEachModel((model, _held, inFlight) => set(model, { model }, inFlight)));
      },
    }),
    modelStartFailure: new Gauge({
      name: "activator_model_start_failure",
      help: "1 while the model cannot start (readiness mode kubernetes), labelled with the cause; requests for it get 503 model_cannot_start",
      labelNames: ["model", "cause"] as const,
      registers,
      collect() {
        failureSeries.update(this, (set) => queue.forEachFailure?.((model, cause) => set(`${model}\u0000${cause}`, { model, cause }, 1)));
      },
    }),
    configReloads: new Counter({
      name: "activator_config_reloads_total",
      help: "Configuration file changes seen, by result (applied or rejected)",
      labelNames: ["result"] as const,
      registers,
    }),
    apiKeysReloads: new Counter({
      name: "activator_api_keys_reloads_total",
      help: "API keys file changes seen, by result (applied or rejected)",
      labelNames: ["result"] as const,
      registers,
    }),
    uncaughtExceptions: new Counter({
      name: "activator_uncaught_exceptions_total",
      help: "Errors no handler caught (kind uncaughtException or unhandledRejection); the process drains and exits on one that escapes while requests are counted",
      labelNames: ["kind"] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
