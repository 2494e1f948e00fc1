import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Held and in-flight counts per model, read at scrape time (the hot path only bumps plain numbers). */
export interface QueueSnapshot {
  forEachModel(visit: (model: string, held: number, inFlight: number) => void): void;
  /** Models that cannot start, with the cause. */
  forEachFailure?(visit: (model: string, cause: string) => void): void;
}

const WAIT_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900];
const FAST_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** All activator metrics, in their own registry, served on the admin port. */
export function createMetrics(queue: QueueSnapshot) {
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
    coldStarts: new Counter({
      name: "activator_cold_starts_total",
      help: "Times a model went from no ready replica, with requests held, to ready",
      labelNames: ["model"] as const,
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
      help: "Time from a request's arrival at a cold model to `true` sent on KEDA's StreamIsActive",
      labelNames: ["model"] as const,
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
    held: new Gauge({
      name: "activator_held_requests",
      help: "Requests held waiting for a ready replica (or a free concurrency slot)",
      labelNames: ["model"] as const,
      registers,
      collect() {
        this.reset();
        queue.forEachModel((model, held) => this.set({ model }, held));
      },
    }),
    inFlight: new Gauge({
      name: "activator_in_flight_requests",
      help: "Requests forwarded to the backend and not yet finished",
      labelNames: ["model"] as const,
      registers,
      collect() {
        this.reset();
        queue.forEachModel((model, _held, inFlight) => this.set({ model }, inFlight));
      },
    }),
    modelStartFailure: new Gauge({
      name: "activator_model_start_failure",
      help: "1 while the model cannot start (readiness mode kubernetes), labelled with the cause; requests for it get 503 model_cannot_start",
      labelNames: ["model", "cause"] as const,
      registers,
      collect() {
        this.reset();
        queue.forEachFailure?.((model, cause) => this.set({ model, cause }, 1));
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
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
