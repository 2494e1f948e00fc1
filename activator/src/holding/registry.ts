import type { Logger } from "pino";
import { buildConnector, Pool } from "undici";
import { canaryKey, canaryModelConfig, modelKey, serviceNameOf, type ActivatorConfig, type ModelConfig } from "../config/schema";
import type { Metrics, QueueSnapshot } from "../base/metrics";
import type { Exchange } from "../request/exchange";
import type { Readiness, ReadinessTarget } from "../readiness/types";
import type { HealthWatcher } from "../health/watch";
import type { ModelActivity } from "../scaler/activity";
import { moveHeld } from "./admit";
import { CANARY_FALLBACKS, CanarySplit, VERSIONS, type CanaryFallback, type Version } from "./canary";
import { IDLE_SHARE, learnIdleClose } from "./idleClose";
import { ModelState, type HoldingShared, type Totals } from "./modelState";
import type { NodeLookup } from "../readiness/coldStartRecorder";
import type { EngineReading } from "../routing/endpointPicker";

export type ReadinessFactory = (mode: ActivatorConfig["readiness"]["mode"], target: ReadinessTarget) => Readiness;

/** Why held requests are answered without a replica: model removed, activator stopping, model cannot start. */
export type HeldRejection = "model_removed" | "shutting_down" | "model_cannot_start";

type ActivationListener = (modelKey: string, arrivedAt: number) => void;
type RequestListener = (modelKey: string) => void;

/**
 * Connection reuse to a backend. Idle sockets are closed by us before the backend closes them
 * (`upstreamKeepAliveSeconds`, below the model server's own keep-alive timeout): a socket the backend is closing
 * and we reuse fails a request it never received. A `Keep-Alive: timeout=N` hint from the backend shortens it.
 */
export function poolOptions(model: Pick<ModelConfig, "upstreamKeepAliveSeconds">, learnedIdleMs = Infinity): Pool.Options {
  // A server seen closing idle sockets sooner than that (./idleClose) is beaten to it.
  const keepAliveMs = Math.max(1, Math.min(model.upstreamKeepAliveSeconds * 1000, Math.floor(learnedIdleMs * IDLE_SHARE)));
  return {
    // A burst released after a cold start queues in the pool instead of opening a socket per request: 10 000 held
    // requests would otherwise need 10 000 backend sockets (EMFILE) and overflow the backend's accept backlog.
    connections: 256,
    keepAliveTimeout: keepAliveMs,
    keepAliveMaxTimeout: keepAliveMs,
    connect: { timeout: 10_000 },
  };
}

/**
 * All models' states, keyed `<namespace>/<name>`. It is what the KEDA scaler reads (ModelActivity) and what
 * metrics and `/queue` snapshot. `apply` brings it to a new configuration without dropping held requests of
 * models that stay.
 */
export class ModelRegistry implements ModelActivity, QueueSnapshot {
  readonly totals: Totals = { held: 0, inFlight: 0 };
  private readonly models = new Map<string, ModelState>();
  private readonly listeners = new Set<ActivationListener>();
  private readonly requestListeners = new Set<RequestListener>();
  private readonly shared: HoldingShared;
  private readinessMode: ActivatorConfig["readiness"]["mode"] | undefined;
  /** Per model: the idle time after which its backend was seen closing kept-alive connections (ms). */
  private readonly learnedIdleMs = new Map<string, number>();

  constructor(
    private readonly deps: {
      logger: Logger;
      metrics: Metrics;
      createReadiness: ReadinessFactory;
      /** Readiness mode `kubernetes`: why a model cannot start (Pods, Events, InferenceService). Default none. */
      health?: HealthWatcher;
      /** Readiness mode `kubernetes`: the cold-start timeline's Node and NodeClaim reader. Default none. */
      nodes?: NodeLookup;
      release(x: Exchange<ModelState>): void;
      /** Answers a request that will never be released: its model was removed, the activator is stopping, or it cannot start. */
      rejectHeld(x: Exchange<ModelState>, model: ModelState, code: HeldRejection): void;
      /** The activity clock, ms; default performance.now (tests inject one). */
      now?: () => number;
      /** The canary draw's random source, [0, 1); default Math.random (tests inject a seeded one). */
      random?: () => number;
      /** vLLM models: one endpoint's fresh engine gauges, for replica choice (../engine/vllmGauges). Default none. */
      engineReading?: (modelKey: string, endpoint: string) => EngineReading | undefined;
      /** Activator replicas (this one included), for replica choice's estimates (../routing/engineEstimate). Default 1. */
      activators?: () => number;
    },
  ) {
    const now = deps.now ?? (() => performance.now());
    this.shared = {
      totals: this.totals,
      logger: deps.logger,
      metrics: deps.metrics,
      release: deps.release,
      nodes: deps.nodes,
      activationNeeded: (model, arrivedAt) => this.activationNeeded(model, arrivedAt),
      requestArrived: (model) => {
        for (const listener of this.requestListeners) listener(model.key);
      },
      now,
      replicaChoice: {
        reading: (key, endpoint) => deps.engineReading?.(key, endpoint),
        newPool: (model, endpoint) => new Pool(endpoint, poolOptions(model, this.learnedIdleMs.get(modelKey(model)))),
        now,
        activators: () => deps.activators?.() ?? 1,
      },
    };
  }

  get(key: string): ModelState | undefined {
    return this.models.get(key);
  }

  /** Adds, updates and removes model states; readiness watches and pools are replaced only when their target changed. */
  apply(config: ActivatorConfig): void {
    const modeChanged = this.readinessMode !== config.readiness.mode;
    this.readinessMode = config.readiness.mode;
    const keep = new Set<string>();
    // Each version is a model state of its own: the stable `<ns>/<name>`, its canary `<ns>/<name>-canary`.
    const versions = config.models.flatMap((m) => (m.canary ? [m, canaryModelConfig(m)] : [m]));
    for (const model of versions) {
      const key = modelKey(model);
      keep.add(key);
      let state = this.models.get(key);
      if (!state) {
        state = new ModelState(key, this.shared);
        this.models.set(key, state);
        state.configure(model, this.createReadiness(key, model), this.newPool(key, model));
        this.watchHealth(state, model);
        this.observeTimeline(state, model);
        continue;
      }
      const old = state.config;
      const readinessChanged =
        modeChanged || old.backend !== model.backend || old.readinessPath !== model.readinessPath || serviceNameOf(old) !== serviceNameOf(model);
      const oldReadiness = state.readiness;
      const oldPool = state.pool;
      const poolChanged = old.backend !== model.backend || old.upstreamKeepAliveSeconds !== model.upstreamKeepAliveSeconds;
      if (old.backend !== model.backend) this.learnedIdleMs.delete(key);
      const pool = poolChanged ? this.newPool(key, model) : undefined;
      state.configure(model, readinessChanged ? this.createReadiness(key, model) : undefined, pool);
      // Endpoint pools follow the Service pool's options; a policy that no longer goes direct needs none.
      if (poolChanged || readinessChanged || model.replicaChoice.policy === "service") void state.replicas.close();
      if (readinessChanged) oldReadiness.close();
      if (pool) void oldPool.close(); // graceful: in-flight requests on the old backend finish
      if (modeChanged || JSON.stringify(old.failFast) !== JSON.stringify(model.failFast)) this.watchHealth(state, model);
      if (modeChanged || old.namespace !== model.namespace) this.observeTimeline(state, model);
    }
    for (const model of config.models) this.linkCanary(model);
    for (const [key, state] of this.models) {
      if (keep.has(key)) continue;
      this.models.delete(key);
      this.learnedIdleMs.delete(key);
      state.removed = true;
      const stable = state.canaryOf;
      if (stable && !stable.removed) this.moveAllHeld(state, stable, "canary_removed"); // promotion or rollback: nothing held is lost
      else this.rejectHeld(state, "model_removed");
      state.health?.close();
      state.timelineWatch?.close();
      state.timeline.close();
      state.readiness.close();
      void state.pool.close();
      void state.replicas.close();
    }
  }

  /** Links a model's state to its canary's (or unlinks it), keeping the split's counts across reloads. */
  private linkCanary(model: ModelConfig): void {
    const stable = this.models.get(modelKey(model))!;
    if (!model.canary) {
      stable.split = null;
      return;
    }
    const canary = this.models.get(canaryKey(model))!;
    canary.canaryOf = stable;
    if (stable.split?.canary === canary) {
      stable.split.config = model.canary;
      return;
    }
    const { metrics } = this.deps;
    const draws = Object.fromEntries(VERSIONS.map((v) => [v, metrics.canaryDraws.labels({ model: stable.key, version: v })])) as Record<Version, { inc(): void }>;
    const fallbacks = Object.fromEntries(CANARY_FALLBACKS.map((r) => [r, metrics.canaryFallbacks.labels({ model: stable.key, reason: r })])) as Record<CanaryFallback, { inc(): void }>;
    for (const version of VERSIONS) metrics.canaryDraws.inc({ model: stable.key, version }, 0); // exported from the start
    for (const reason of CANARY_FALLBACKS) metrics.canaryFallbacks.inc({ model: stable.key, reason }, 0);
    stable.split = new CanarySplit(stable, canary, model.canary, { draws, fallbacks }, this.deps.random ?? Math.random);
  }

  /** Moves every request `from` holds to `to`, in arrival order (./admit moveHeld). */
  private moveAllHeld(from: ModelState, to: ModelState, cause: string): void {
    if (from.held === 0) return;
    this.deps.logger.info({ model: from.key, to: to.key, held: from.held, cause }, "held requests moved to the stable");
    for (let x = from.queue.head; x; x = from.queue.head) moveHeld(x, to, cause);
  }

  /** A pool to the model's backend whose sockets are watched for idle closes by the server. */
  private newPool(key: string, model: ModelConfig): Pool {
    const options = poolOptions(model, this.learnedIdleMs.get(key));
    const connector = buildConnector({ timeout: 10_000 });
    return new Pool(model.backend, { ...options, connect: learnIdleClose(connector, (ms) => this.idleCloseSeen(key, model.backend, ms)) });
  }

  /** The backend closed an idle connection after `ms`: below what the pool keeps, the pool is replaced by one that closes first. */
  private idleCloseSeen(key: string, backend: string, ms: number): void {
    const state = this.models.get(key);
    const known = this.learnedIdleMs.get(key) ?? Infinity;
    if (!state || state.config.backend !== backend || ms >= known) return;
    this.learnedIdleMs.set(key, ms);
    if (ms * IDLE_SHARE >= state.config.upstreamKeepAliveSeconds * 1000) return; // the pool already closes sooner
    this.deps.logger.info({ model: key, idleCloseMs: Math.round(ms), keepAliveMs: Math.floor(ms * IDLE_SHARE) }, "backend closes idle connections sooner than upstreamKeepAliveSeconds: pooled connections now close first");
    const old = state.pool;
    state.pool = this.newPool(key, state.config);
    void old.close(); // graceful: requests on it finish
  }

  /** (Re)starts the model's health watch: kubernetes mode with failFast on only. */
  private watchHealth(state: ModelState, model: ModelConfig): void {
    state.health?.close();
    state.health = null;
    state.failure = null;
    if (this.readinessMode !== "kubernetes" || !model.failFast.enabled || !this.deps.health) return;
    const target = { modelKey: state.key, namespace: model.namespace, inferenceService: model.name, unschedulableGraceMs: model.failFast.unschedulableGraceSeconds * 1000 };
    state.health = this.deps.health.watch(target, (failure) => {
      state.failure = failure;
      // Held requests wait for nothing now (a ready replica, if any, still serves them); a canary's go to its stable.
      if (!failure || state.readiness.ready) return;
      const stable = state.canaryOf;
      if (stable && !stable.removed && stable.split?.canary === state) this.moveAllHeld(state, stable, "model_cannot_start");
      else this.rejectHeld(state, "model_cannot_start");
    });
  }

  /** (Re)starts the cold-start timeline's view of the model's Pods, ReplicaSets and Events: kubernetes mode only. */
  private observeTimeline(state: ModelState, model: ModelConfig): void {
    state.timelineWatch?.close();
    state.timelineWatch = null;
    if (this.readinessMode !== "kubernetes" || !this.deps.health) return;
    state.timelineWatch = this.deps.health.observe({ namespace: model.namespace, inferenceService: model.name }, (read) => state.timeline.objectsChanged(read));
  }

  private createReadiness(key: string, model: ModelConfig): Readiness {
    return this.deps.createReadiness(this.readinessMode!, {
      modelKey: key,
      namespace: model.namespace,
      serviceName: serviceNameOf(model),
      backend: model.backend,
      readinessPath: model.readinessPath,
    });
  }

  /** Tells the scaler that a request arrived for a model with no ready replica. */
  activationNeeded(model: ModelState, arrivedAt: number): void {
    model.readiness.wake();
    for (const listener of this.listeners) listener(model.key, arrivedAt);
  }

  // ModelActivity (read by the KEDA external scaler)
  has(key: string): boolean {
    return this.models.has(key);
  }
  demand(key: string): number {
    const state = this.models.get(key);
    return state ? state.held + state.inFlight : 0;
  }
  lastActivityAt(key: string): number {
    return this.models.get(key)?.lastActivityAt ?? -Infinity;
  }
  onRequest(listener: RequestListener): () => void {
    this.requestListeners.add(listener);
    return () => this.requestListeners.delete(listener);
  }
  targetConcurrency(key: string): number {
    return this.models.get(key)?.config.targetConcurrency ?? 1;
  }
  onActivationNeeded(listener: ActivationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Models with demand here, or with activity within `recentMs`: held + in flight, whether requests are held for lack
   * of a ready replica, and the activity count (peers: a count that moved is a request that arrived or ended).
   */
  demandSnapshot(recentMs = 0): Record<string, { demand: number; cold: boolean; activity?: number }> {
    const out: Record<string, { demand: number; cold: boolean; activity?: number }> = {};
    const since = this.shared.now() - recentMs;
    for (const [key, state] of this.models) {
      const demand = state.held + state.inFlight;
      if (demand > 0 || state.lastActivityAt >= since) out[key] = { demand, cold: state.coldSince >= 0 && state.held > 0, activity: state.activityCount };
    }
    return out;
  }

  /** Models that cannot start, with the cause (the metric `activator_model_start_failure`). */
  forEachFailure(visit: (model: string, cause: string) => void): void {
    for (const [key, state] of this.models) if (state.failure) visit(key, state.failure.cause);
  }

  // QueueSnapshot (metrics gauges, /queue)
  forEachModel(visit: (model: string, held: number, inFlight: number) => void): void {
    for (const [key, state] of this.models) visit(key, state.held, state.inFlight);
  }

  private rejectHeld(state: ModelState, code: HeldRejection): void {
    for (let x = state.queue.head; x; x = state.queue.head) {
      state.unhold(x, "failed", code);
      this.deps.rejectHeld(x, state, code);
    }
  }

  /** Answers every request still held with 503 (shutdown grace period over). */
  rejectAllHeld(): void {
    for (const state of this.models.values()) this.rejectHeld(state, "shutting_down");
  }

  /** Stops every readiness watch and closes the backend pools (shutdown). */
  async close(): Promise<void> {
    for (const state of this.models.values()) {
      state.health?.close();
      state.timelineWatch?.close();
      state.timeline.close();
      state.readiness.close();
    }
    await Promise.all([...this.models.values()].map((s) => s.pool.destroy()));
    await Promise.all([...this.models.values()].map((s) => s.replicas.close()));
  }
}
