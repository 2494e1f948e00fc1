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
  /** Target concurrency per replica for the model (GetMetricSpec). */
  targetConcurrency(modelKey: string): number;
  /** Metrics beyond demand (engine gauges) for the model; none when absent. */
  extraMetrics?(modelKey: string): ScalingMetric[];
  /** Subscribe to "a request arrived for a model with no ready replica"; arrivedAt = performance.now() at arrival. Returns unsubscribe. */
  onActivationNeeded(listener: (modelKey: string, arrivedAt: number) => void): () => void;
}
