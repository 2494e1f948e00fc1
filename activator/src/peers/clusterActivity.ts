/**
 * What the KEDA scaler reads when replicas share demand: this replica's own activity plus every live peer's, so the
 * replica KEDA's connection lands on answers `IsActive`, `StreamIsActive` and `GetMetrics` for the whole cluster.
 * A peer's cold request is an activation event here too (the stream KEDA holds on this replica says `true` at once).
 */
import type { ModelActivity, ScalingMetric } from "../scaler/activity";

export interface RemoteDemand {
  remoteDemand(modelKey: string): number;
}

type ActivationListener = (modelKey: string, arrivedAt: number) => void;

export class ClusterActivity implements ModelActivity {
  private readonly remoteListeners = new Set<ActivationListener>();

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
