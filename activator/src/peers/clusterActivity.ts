/**
 * What the KEDA scaler reads when replicas share demand: this replica's own activity plus every live peer's, so the
 * replica KEDA's connection lands on answers `IsActive`, `StreamIsActive` and `GetMetrics` for the whole cluster.
 * A peer's cold request is an activation event here too (the stream KEDA holds on this replica says `true` at once).
 */
import type { ModelActivity, ScalingMetric } from "../scaler/activity";

export interface RemoteDemand {
  remoteDemand(modelKey: string): number;
  /** Latest activity a live peer reported for the model, on this replica's performance.now() clock; -Infinity when none. */
  remoteLastActivityAt(modelKey: string): number;
}

/** arrivedAt: performance.now() at a request's arrival; absent for an activation that is no request (a queue backlog, ../queue). */
type ActivationListener = (modelKey: string, arrivedAt?: number) => void;
type RequestListener = (modelKey: string) => void;

export class ClusterActivity implements ModelActivity {
  private readonly remoteListeners = new Set<ActivationListener>();
  private readonly remoteRequestListeners = new Set<RequestListener>();

  constructor(
    private readonly local: ModelActivity,
    private readonly remote: RemoteDemand,
    private readonly extra?: (modelKey: string) => ScalingMetric[],
  ) {}

  has(modelKey: string): boolean {
    return this.local.has(modelKey);
  }

  demand(modelKey: string): number {
    return this.local.demand(modelKey) + this.remote.remoteDemand(modelKey);
  }

  lastActivityAt(modelKey: string): number {
    return Math.max(this.local.lastActivityAt(modelKey), this.remote.remoteLastActivityAt(modelKey));
  }

  onRequest(listener: RequestListener): () => void {
    const unsubscribe = this.local.onRequest?.(listener);
    this.remoteRequestListeners.add(listener);
    return () => {
      unsubscribe?.();
      this.remoteRequestListeners.delete(listener);
    };
  }

  /** A peer reported activity for the model: as if a request had arrived here. */
  remoteActivity(modelKey: string): void {
    if (!this.local.has(modelKey)) return;
    for (const listener of this.remoteRequestListeners) listener(modelKey);
  }

  targetConcurrency(modelKey: string): number {
    return this.local.targetConcurrency(modelKey);
  }

  extraMetrics(modelKey: string): ScalingMetric[] {
    return this.extra?.(modelKey) ?? [];
  }

  onActivationNeeded(listener: ActivationListener): () => void {
    const unsubscribe = this.local.onActivationNeeded(listener);
    this.remoteListeners.add(listener);
    return () => {
      unsubscribe();
      this.remoteListeners.delete(listener);
    };
  }

  /** A peer holds cold requests for the model: activation needed, as if they had arrived here. */
  remoteCold(modelKey: string, receivedAt: number): void {
    if (!this.local.has(modelKey)) return;
    for (const listener of this.remoteListeners) listener(modelKey, receivedAt);
  }
}
