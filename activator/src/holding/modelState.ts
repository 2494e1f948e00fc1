import type { Logger } from "pino";
import type { Pool } from "undici";
import type { ModelConfig } from "../config/schema";
import type { ModelFailure } from "../health/failure";
import type { HealthWatch } from "../health/watch";
import { REPLICA_CHOICES, type ColdStartOutcome, type Metrics, type ReplicaChoice } from "../base/metrics";
import { Phase, type Exchange } from "../request/exchange";
import type { Readiness } from "../readiness/types";
import { ColdStartRecorder, type NodeLookup } from "../readiness/coldStartRecorder";
import type { CanarySplit } from "./canary";
import { Fifo } from "./fifo";
import { Replicas, type Chosen, type ReplicaChoiceDeps } from "./replicas";

/** Counts across all models (the global pending bound, shutdown draining). */
export interface Totals {
  held: number;
  inFlight: number;
}

/** Why a request left the hold queue: released to the backend, or one of the ways a cold start can end for it. */
export type HoldEnd = "released" | Exclude<ColdStartOutcome, "served">;

/** When held requests leave a cold start in different ways, the cold start ends with the gravest. */
const GRAVITY: Record<Exclude<ColdStartOutcome, "served">, number> = { client_gone: 1, timeout: 2, failed: 3 };

/** What every model's state shares: wired once by the registry. */
export interface HoldingShared {
  readonly totals: Totals;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Next step of the chain for a released request: forward it. */
  release(x: Exchange<ModelState>): void;
  /** Tells readiness and the scaler that a request arrived for a model with no ready replica. */
  activationNeeded(model: ModelState, arrivedAt: number): void;
  /** Tells the scaler that a request arrived for the model, warm or cold (activity, ../scaler/activity). */
  requestArrived(model: ModelState): void;
  /** The activity clock, ms (performance.now() unless injected). */
  now(): number;
  /** The cold-start timeline's Node/NodeClaim reader (readiness mode `kubernetes`). */
  readonly nodes?: NodeLookup;
  /** Engine readings and endpoint pools for replica choice. */
  readonly replicaChoice: ReplicaChoiceDeps;
}

/**
 * One model's live state: its held queue (FIFO), in-flight count, readiness watch and backend pool.
 * Survives configuration reloads that keep the model, so held requests are not lost.
 */
export class ModelState {
  held = 0;
  inFlight = 0;
  readonly queue = new Fifo<Exchange<ModelState>>();
  /** performance.now() when the first request was held for lack of a ready replica; -1 when not cold. */
  coldSince = -1;
  /** When a request last arrived, was held, released, forwarded or ended (`shared.now()` ms); -Infinity when none. */
  lastActivityAt = -Infinity;
  /** Requests arrived and ended since start (peers compare it between snapshots: it moving is activity). */
  activityCount = 0;
  /** The gravest way a request held in the current cold start left it, with its cause (outcome `failed`). */
  private coldEnd: { outcome: Exclude<ColdStartOutcome, "served">; cause: string } | null = null;
  removed = false;
  /** Why the model cannot start (readiness mode `kubernetes`), or null: held and new requests are answered 503 meanwhile. */
  failure: ModelFailure | null = null;
  /** The watch that sets `failure`; null outside readiness mode `kubernetes` or with failFast off. */
  health: HealthWatch | null = null;
  /** The shared namespace watch feeding `timeline`; null outside readiness mode `kubernetes`. */
  timelineWatch: { close(): void } | null = null;

  /** A model with a canary: the split its requests are drawn by (./canary); null otherwise. */
  split: CanarySplit<ModelState> | null = null;
  /** A canary's state: its stable model's state (held requests move there when the canary goes); null otherwise. */
  canaryOf: ModelState | null = null;

  config!: ModelConfig;
  readiness!: Readiness;
  pool!: Pool;
  coldStartTimeoutMs = 0;
  requestTimeoutMs = 0;
  /** In-flight cap per ready replica; 0 = no cap. */
  capPerReplica = 0;

  // Metric children, resolved once per model.
  readonly coldStartWait;
  readonly proxyLatency;
  readonly servedWarm;
  /** This model's cold-start timelines (phases, `/queue`, the `cold start` log line). */
  readonly timeline: ColdStartRecorder;
  private readonly heldNoReplica;
  private readonly heldNoSlot;
  /** Per-endpoint in-flight counts and pools (replica choice). */
  readonly replicas: Replicas;
  private readonly choiceCounters: Record<ReplicaChoice, { inc(): void }>;

  private readonly requestCounters = new Map<number, { inc(): void }>();
  private waitingFor: Readiness | null = null;
  private draining = false;

  constructor(
    readonly key: string,
    private readonly shared: HoldingShared,
  ) {
    this.coldStartWait = shared.metrics.coldStartWait.labels({ model: key });
    this.proxyLatency = shared.metrics.proxyLatency.labels({ model: key });
    this.servedWarm = shared.metrics.requestsServedWarm.labels({ model: key });
    this.heldNoReplica = shared.metrics.requestsHeld.labels({ model: key, reason: "no_ready_replica" });
    this.heldNoSlot = shared.metrics.requestsHeld.labels({ model: key, reason: "concurrency_limit" });
    shared.metrics.initModel(key);
    this.replicas = new Replicas(key, shared.replicaChoice);
    const choices = REPLICA_CHOICES.map((choice) => [choice, shared.metrics.replicaChoices.labels({ model: key, choice })] as const);
    this.choiceCounters = Object.fromEntries(choices) as Record<ReplicaChoice, { inc(): void }>;
    this.timeline = new ColdStartRecorder(key, { logger: shared.logger, histogram: shared.metrics.coldStartPhase, nodes: shared.nodes });
  }

  get logger(): Logger {
    return this.shared.logger;
  }

  /** Counts across all models (the global pending bound). */
  get totals(): Readonly<Totals> {
    return this.shared.totals;
  }

  /** A request arrived for this model with no ready replica: wake readiness, push activation to KEDA. */
  activationNeeded(arrivedAt: number): void {
    this.shared.activationNeeded(this, arrivedAt);
  }

  /**
   * A request for this model arrived (before it is forwarded or held): activity the scaler reports to KEDA. Only a
   * ready model's arrivals are request events: a cold one's is an activation event (`activationNeeded`).
   */
  noteArrival(): void {
    this.touch();
    if (this.readiness.ready) this.shared.requestArrived(this);
  }

  private touch(): void {
    this.lastActivityAt = this.shared.now();
    this.activityCount++;
  }

  /** Counts an answered request under its status (children cached: no label hashing per request). */
  countRequest(status: number): void {
    let counter = this.requestCounters.get(status);
    if (!counter) {
      counter = this.shared.metrics.requests.labels({ model: this.key, status });
      this.requestCounters.set(status, counter);
    }
    counter.inc();
  }

  /** Applies a (new) configuration; `readiness`/`pool` are given only when they changed. */
  configure(config: ModelConfig, readiness?: Readiness, pool?: Pool): void {
    this.config = config;
    this.coldStartTimeoutMs = config.coldStartTimeoutSeconds * 1000;
    this.requestTimeoutMs = config.requestTimeoutSeconds * 1000;
    this.capPerReplica = config.maxConcurrencyPerReplica ?? 0;
    if (pool) this.pool = pool;
    if (readiness) {
      this.readiness = readiness;
      this.waitingFor = null;
      // A new ready replica (scale-out) adds capPerReplica slots: requests held at the cap go to it now, not when a
      // flight ends.
      readiness.onReplicasChange?.(() => {
        if (this.readiness === readiness) this.drain();
      });
    }
    this.drain();
  }

  /** Warm path test: nothing queued ahead, a ready replica, a free slot. */
  canForwardNow(): boolean {
    return this.queue.size === 0 && this.readiness.ready && this.hasSlot();
  }

  private hasSlot(): boolean {
    return this.capPerReplica === 0 || this.inFlight < this.capPerReplica * this.readiness.readyReplicas;
  }

  startFlight(x: Exchange<ModelState>): void {
    x.phase = Phase.InFlight;
    this.touch();
    this.inFlight++;
    this.shared.totals.inFlight++;
  }

  /**
   * The replica for a request about to be forwarded (counted in flight to it, `x.endpoint` set), or null for the
   * Service pool. Counted in `activator_replica_choices_total`.
   */
  chooseReplica(x: Exchange<ModelState>): Chosen | null {
    const chosen = this.replicas.choose(this.config, this.readiness.endpoints, this.readiness.direct === true, x.affinityKey);
    x.endpoint = chosen?.endpoint ?? "";
    this.choiceCounters[chosen?.how ?? "service"].inc();
    return chosen;
  }

  endFlight(x: Exchange<ModelState>): void {
    if (x.endpoint !== "") {
      this.replicas.done(x.endpoint);
      x.endpoint = "";
    }
    x.phase = Phase.Done;
    this.touch();
    this.inFlight--;
    this.shared.totals.inFlight--;
    if (this.queue.size > 0) this.drain();
  }

  /** Counts `x` as held and queues it; `front` puts it back ahead of the others (a retried request). */
  hold(x: Exchange<ModelState>, front: boolean): void {
    x.phase = Phase.Held;
    if (front) this.queue.unshift(x);
    else this.queue.push(x);
    this.held++;
    this.shared.totals.held++;
    if (this.readiness.ready) this.heldNoSlot.inc();
    else {
      this.heldNoReplica.inc();
      x.cold = true;
      if (this.coldSince < 0) {
        this.coldSince = x.arrivedAt;
        this.timeline.begin(performance.timeOrigin + x.arrivedAt);
      }
      this.waitForReady();
    }
  }

  /**
   * Takes `x` out of the queue: released, timed out, client gone, or failed (`cause`: the rejection code, e.g.
   * `model_removed`, `shutting_down`). When the last request held for a cold start leaves before a replica is
   * ready, the cold start is recorded with the gravest way its requests left (failed > timeout > client_gone).
   */
  unhold(x: Exchange<ModelState>, end: HoldEnd, cause = ""): void {
    if (x.holdTimer) clearTimeout(x.holdTimer);
    x.holdTimer = null;
    x.phase = Phase.Done;
    this.queue.remove(x);
    this.touch();
    this.held--;
    this.shared.totals.held--;
    if (end !== "released" && this.coldSince >= 0 && (this.coldEnd === null || GRAVITY[end] > GRAVITY[this.coldEnd.outcome])) {
      this.coldEnd = { outcome: end, cause: end === "failed" ? cause : "" };
    }
    // Every request held for this cold start gave up: it is over; the next one held starts another.
    if (this.held === 0 && !this.readiness.ready && this.coldSince >= 0) {
      const { outcome, cause: why } = this.coldEnd ?? { outcome: "client_gone" as const, cause: "" };
      this.endColdStart(outcome, why);
    }
  }

  private endColdStart(outcome: ColdStartOutcome, cause: string): number {
    const durationMs = performance.now() - this.coldSince;
    this.coldSince = -1;
    this.coldEnd = null;
    this.shared.metrics.recordColdStart(this.key, outcome, cause, durationMs / 1000);
    if (outcome !== "served") this.timeline.end(cause ? `${outcome}:${cause}` : outcome);
    return durationMs;
  }

  /** Releases held requests in arrival order while a replica is ready and slots are free. */
  drain(): void {
    if (this.draining || this.removed) return;
    this.draining = true;
    try {
      const now = performance.now();
      let x: Exchange<ModelState> | null;
      while ((x = this.queue.head) && this.readiness.ready && this.hasSlot()) {
        this.unhold(x, "released");
        x.waitMs = now - x.arrivedAt;
        this.coldStartWait.observe(x.waitMs / 1000);
        this.startFlight(x);
        this.shared.release(x);
      }
      if (this.queue.size > 0 && !this.readiness.ready) this.waitForReady();
    } finally {
      this.draining = false;
    }
  }

  /** One shared wait per model: subscribes to the readiness promise once, however many requests are held. */
  private waitForReady(): void {
    const readiness = this.readiness;
    if (this.waitingFor === readiness) return;
    this.waitingFor = readiness;
    readiness.whenReady().then(
      () => {
        if (this.waitingFor !== readiness) return; // replaced by a reload meanwhile
        this.waitingFor = null;
        this.onReady();
      },
      () => {
        if (this.waitingFor === readiness) this.waitingFor = null;
      },
    );
  }

  private onReady(): void {
    if (this.coldSince >= 0) {
      this.endColdStart("served", "");
      // The `cold start` log line is written by the timeline, with its phases, once the first byte is back.
      this.timeline.ready(this.held, this.requestTimeoutMs);
    }
    this.drain();
  }
}
