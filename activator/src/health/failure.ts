/** Why a model cannot start, as the activator tells clients (503 `model_cannot_start`), `/queue` and its metric. */
export interface ModelFailure {
  /**
   * `CrashLoopBackOff`, `ImagePullBackOff`, `ErrImagePull`, `InvalidImageName`, `OOMKilled`,
   * `StorageInitializerFailed`, `NoSupportingRuntime` (or another KServe `lastFailureInfo.reason`), `NotTriggerScaleUp`
   * (cluster-autoscaler will not add a node), `Unschedulable` (past the grace).
   */
  cause: string;
  /** The Kubernetes object the cause was read from: `Pod models/llama-predictor-abc`, `InferenceService models/llama`. */
  object: string;
  /** That object's own words: the container state's message, the event's message, KServe's failure message. */
  message: string;
  /** ISO time the activator first saw this cause. */
  since: string;
}

/** The client's error message for a model that cannot start. */
export function failureMessage(modelKey: string, failure: ModelFailure): string {
  return `model ${modelKey} cannot start: ${failure.cause} (${failure.object}: ${failure.message})`;
}

/** The error's details beside `code` and `message`: the model, the cause and the object's own words. */
export function failureDetails(modelKey: string, failure: ModelFailure): Record<string, string> {
  return { model: modelKey, cause: failure.cause, object: failure.object, objectMessage: failure.message, since: failure.since };
}
