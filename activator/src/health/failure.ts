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
