/**
 * What the KEDA external scaler needs to know about the models the activator fronts. The holding/state
 * module implements it; the scaler only reads it and subscribes to activation events.
 */
/**
 * The `external-push` trigger metadata key naming the model (`"<namespace>/<name>"`). Kept here, free of gRPC,
 * so the Pulumi components that write ScaledObjects import the very constant the scaler reads.
 */
export const MODEL_METADATA_KEY = "model";

/** A metric beyond demand (an engine gauge), reported to KEDA as its own AverageValue metric of the one trigger. */
export interface ScalingMetric {
  /** Part of the metric name: `activator-<suffix>-<model>`; letters, digits and '-'. */
  suffix: string;
  /** Target per replica (KEDA `targetSizeFloat`). */
  target: number;
  /** Current total over the model's replicas. */
  value: number;
}

export interface ModelActivity {
  /** True when modelKey ("<namespace>/<name>") is configured. */
  has(modelKey: string): boolean;
  /** Held + in-flight requests for the model. */
  demand(modelKey: string): number;
  /**
   * When a request for the model last arrived or ended (held, released, forwarded, answered), on the activity's clock
   * (ms, performance.now() unless injected); -Infinity when none yet. Cluster-wide when replicas share demand.
   */
  lastActivityAt(modelKey: string): number;
  /** Subscribe to "a request arrived for a model with a ready replica" (cold ones are activation events). Returns unsubscribe. */
  onRequest?(listener: (modelKey: string) => void): () => void;
  /** Target concurrency per replica for the model (GetMetricSpec). */
  targetConcurrency(modelKey: string): number;
  /** Metrics beyond demand (engine gauges) for the model; none when absent. */
  extraMetrics?(modelKey: string): ScalingMetric[];
  /** Active now for a reason other than requests (a queue backlog, ../queue/activity.ts); false when absent. */
  activeNow?(modelKey: string): boolean;
  /**
   * Subscribe to "a request arrived for a model with no ready replica" (arrivedAt = performance.now() at arrival), or
   * another reason to wake the model now (a queue backlog turned active, ../queue/activity.ts: no arrivedAt). Returns
   * unsubscribe.
   */
  onActivationNeeded(listener: (modelKey: string, arrivedAt?: number) => void): () => void;
}

/**
 * The one definition of "active" reported to KEDA (IsActive answers, StreamIsActive messages): the model has held or
 * in-flight requests now, or a request arrived or ended since the previous report to the same reader (a stream, or
 * the IsActive polls for one model), or `activeNow` says so (an SQS backlog at its activation threshold, ../queue). Sampling demand alone misses every request that falls between two reports: a
 * 150 ms request every 30 s is seen by a 15 s poll or a 5 s heartbeat about 4 % of the time.
 *
 * How KEDA uses it (kedacore/keda v2.20.2): `pkg/scaling/executor/scale_scaledobjects.go` RequestScale sets the
 * ScaledObject's `status.lastActiveTime` to now whenever it is called with isActive true and replicas > 0, and calls
 * scaleToZeroOrIdle when isActive is false, which scales to zero only once lastActiveTime + cooldownPeriod has passed.
 * RequestScale runs at every pollingInterval with the IsActive answer (`pkg/scaling/scale_handler.go` checkScalers) and
 * for every `true` on the stream (startPushScalers; a `false` there is ignored). So lastActiveTime trails the last
 * request by at most one report interval, and an idle model reaches zero one cooldown (+ one polling interval) after
 * its last request, as before.
 *
 * `lastReportAt`: the reader's previous report on the activity's clock (ms); -Infinity when it had none.
 */
export function activeSince(activity: Pick<ModelActivity, "demand" | "lastActivityAt" | "activeNow">, modelKey: string, lastReportAt: number): boolean {
  return activity.demand(modelKey) > 0 || activity.lastActivityAt(modelKey) >= lastReportAt || (activity.activeNow?.(modelKey) ?? false);
}

/**
 * Remembers, per reader, when it was last reported to, and answers `activeSince` for it. A reader's first report
 * looks back `firstLookbackMs` (the heartbeat): a KEDA that (re)connects learns of a request that just ended, not of
 * one from long ago (that would reset lastActiveTime and delay scale-to-zero by a cooldown).
 */
export class ActivityReports<Reader> {
  private readonly last = new Map<Reader, number>();

  constructor(
    private readonly activity: Pick<ModelActivity, "demand" | "lastActivityAt" | "activeNow">,
    private readonly firstLookbackMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Whether `modelKey` is active for `reader` now; notes the report (call it only when the answer is delivered). */
  report(reader: Reader, modelKey: string): boolean {
    const now = this.now();
    const since = this.last.get(reader) ?? now - this.firstLookbackMs;
    this.last.set(reader, now);
    return activeSince(this.activity, modelKey, since);
  }

  /** The reader is gone (a closed stream, a removed model). */
  forget(reader: Reader): void {
    this.last.delete(reader);
  }
}
