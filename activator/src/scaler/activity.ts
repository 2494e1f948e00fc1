/**
 * What the KEDA external scaler needs to know about the models the activator fronts. The holding/state
 * module implements it; the scaler only reads it and subscribes to activation events.
 */
/**
 * The `external-push` trigger metadata key naming the model (`"<namespace>/<name>"`). Kept here, free of gRPC,
 * so the Pulumi components that write ScaledObjects import the very constant the scaler reads.
 */
export const MODEL_METADATA_KEY = "model";

export interface ModelActivity {
  /** True when modelKey ("<namespace>/<name>") is configured. */
  has(modelKey: string): boolean;
  /** Held + in-flight requests for the model. */
  demand(modelKey: string): number;
  /** Target concurrency per replica for the model (GetMetricSpec). */
  targetConcurrency(modelKey: string): number;
  /** Subscribe to "a request arrived for a model with no ready replica"; arrivedAt = performance.now() at arrival. Returns unsubscribe. */
  onActivationNeeded(listener: (modelKey: string, arrivedAt: number) => void): () => void;
}
