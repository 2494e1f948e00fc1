/**
 * Kubernetes and KServe objects as the API serves them for a KServe predictor (Standard mode), in the states the
 * activator's fail-fast reads: shapes and wording from the kubelet (container waiting reasons and back-off messages),
 * the scheduler (FailedScheduling), cluster-autoscaler 1.35 (NotTriggerScaleUp / TriggeredScaleUp events,
 * processors/status/eventing_scale_up_processor.go), the ReplicaSet controller and ResourceQuota admission (the
 * `ReplicaFailure` condition and the quota refusal's wording, kubernetes v1.35 pkg/controller/replicaset,
 * staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota) and KServe v0.20 (InferenceService modelStatus).
 */
import type { CoreV1Event, V1ContainerStatus, V1Pod, V1ReplicaSet } from "@kubernetes/client-node";

const ISVC_LABEL = "serving.kserve.io/inferenceservice";
const iso = (ms: number) => new Date(ms).toISOString();

export interface PodOptions {
  model: string;
  namespace?: string;
  name?: string;
  /** Epoch ms; default now. */
  createdAt?: number;
  initContainerStatuses?: V1ContainerStatus[];
  containerStatuses?: V1ContainerStatus[];
  /** PodScheduled=False/Unschedulable since this epoch ms. */
  unschedulableSince?: number;
  phase?: string;
}

export function predictorPod(opts: PodOptions): V1Pod {
  const namespace = opts.namespace ?? "models";
  const name = opts.name ?? `${opts.model}-predictor-7d9f8b6c5-x2k4q`;
  const createdAt = opts.createdAt ?? Date.now();
  const conditions: NonNullable<V1Pod["status"]>["conditions"] = opts.unschedulableSince
    ? [
        {
          type: "PodScheduled",
          status: "False",
          reason: "Unschedulable",
          message: "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
          lastTransitionTime: iso(opts.unschedulableSince) as unknown as Date,
        },
      ]
    : [{ type: "PodScheduled", status: "True", lastTransitionTime: iso(createdAt) as unknown as Date }];
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace,
      uid: `uid-${name}`,
      creationTimestamp: iso(createdAt) as unknown as Date,
      labels: { app: `isvc.${opts.model}-predictor`, component: "predictor", [ISVC_LABEL]: opts.model },
    },
    spec: {
      initContainers: [{ name: "storage-initializer", image: "kserve/storage-initializer:v0.20.0" }],
      containers: [{ name: "kserve-container", image: "kserve/huggingfaceserver:v0.20.0-gpu" }],
    },
    status: {
      phase: opts.phase ?? "Pending",
      conditions,
      ...(opts.initContainerStatuses ? { initContainerStatuses: opts.initContainerStatuses } : {}),
      ...(opts.containerStatuses ? { containerStatuses: opts.containerStatuses } : {}),
    },
  };
}

const base = (name: string, image: string): V1ContainerStatus => ({ name, image, imageID: "", ready: false, restartCount: 0 });

export const containers = {
  crashLoop: (lastReason = "Error", exitCode = 1, message?: string): V1ContainerStatus => ({
    ...base("kserve-container", "kserve/huggingfaceserver:v0.20.0-gpu"),
    restartCount: 4,
    state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 1m20s restarting failed container=kserve-container pod=llama-predictor-7d9f8b6c5-x2k4q_models(uid)" } },
    lastState: { terminated: { reason: lastReason, exitCode, ...(message ? { message } : {}), startedAt: new Date(), finishedAt: new Date() } },
  }),
  imagePull: (reason: "ImagePullBackOff" | "ErrImagePull"): V1ContainerStatus => ({
    ...base("kserve-container", "kserve/huggingfaceserver:v0.99.0"),
    state: {
      waiting: {
        reason,
        message:
          reason === "ImagePullBackOff"
            ? 'Back-off pulling image "kserve/huggingfaceserver:v0.99.0"'
            : 'failed to pull and unpack image "docker.io/kserve/huggingfaceserver:v0.99.0": not found',
      },
    },
  }),
  running: (): V1ContainerStatus => ({ ...base("kserve-container", "kserve/huggingfaceserver:v0.20.0-gpu"), started: true, state: { running: { startedAt: new Date() } } }),
  storageInitializer: (lastReason: string, exitCode: number, message?: string): V1ContainerStatus => ({
    ...base("storage-initializer", "kserve/storage-initializer:v0.20.0"),
    restartCount: 2,
    state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 20s restarting failed container=storage-initializer" } },
    lastState: { terminated: { reason: lastReason, exitCode, ...(message ? { message } : {}) } },
  }),
  storageInitializerRunning: (): V1ContainerStatus => ({ ...base("storage-initializer", "kserve/storage-initializer:v0.20.0"), state: { running: { startedAt: new Date() } } }),
};

/** An Event cluster-autoscaler records about a pod (core/v1, source cluster-autoscaler). */
export function autoscalerEvent(pod: V1Pod, reason: "NotTriggerScaleUp" | "TriggeredScaleUp", message: string, at = Date.now()): CoreV1Event {
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `${pod.metadata!.name}.${reason.toLowerCase()}${at}`, namespace: pod.metadata!.namespace },
    involvedObject: { apiVersion: "v1", kind: "Pod", name: pod.metadata!.name, namespace: pod.metadata!.namespace, uid: pod.metadata!.uid },
    reason,
    message,
    source: { component: "cluster-autoscaler" },
    reportingComponent: "cluster-autoscaler",
    type: "Normal",
    count: 1,
    firstTimestamp: iso(at) as unknown as Date,
    lastTimestamp: iso(at) as unknown as Date,
  };
}

/** An InferenceService whose status says no serving runtime supports it (KServe v0.20 predictor reconciler). */
export function inferenceService(model: string, status: "noRuntime" | "ready" | "pending", namespace = "models") {
  const modelStatus =
    status === "noRuntime"
      ? {
          transitionStatus: "InvalidSpec",
          states: { activeModelState: "", targetModelState: "FailedToLoad" },
          lastFailureInfo: { reason: "NoSupportingRuntime", message: "No runtime found to support specified framework/version" },
        }
      : status === "ready"
        ? { transitionStatus: "UpToDate", states: { activeModelState: "Loaded", targetModelState: "Loaded" } }
        : { transitionStatus: "InProgress", states: { activeModelState: "Pending", targetModelState: "Pending" } };
  return {
    apiVersion: "serving.kserve.io/v1beta1",
    kind: "InferenceService",
    metadata: { name: model, namespace },
    spec: { predictor: { model: { modelFormat: { name: "huggingface" }, storageUri: "hf://Qwen/Qwen2.5-0.5B-Instruct" } } },
    status: {
      modelStatus,
      conditions: [{ type: "Ready", status: status === "ready" ? "True" : "False", lastTransitionTime: new Date().toISOString() }],
    },
  };
}

export interface ReplicaSetOptions {
  model: string;
  namespace?: string;
  /** Pods wanted (spec.replicas) and existing (status.replicas). */
  replicas: number;
  current?: number;
  /** `ReplicaFailure` / `FailedCreate` since this epoch ms, with this message (default: a GPU quota exceeded). */
  failedCreateSince?: number;
  message?: string;
}

/** The message ResourceQuota admission gives when a predictor pod would exceed the namespace's GPU quota. */
export const gpuQuotaExceeded = (podName: string) =>
  `pods "${podName}" is forbidden: exceeded quota: gpu-quota, requested: requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=8, limited: requests.nvidia.com/gpu=8`;

/** A predictor ReplicaSet as the Deployment and ReplicaSet controllers keep it. */
export function predictorReplicaSet(opts: ReplicaSetOptions): V1ReplicaSet {
  const namespace = opts.namespace ?? "models";
  const name = `${opts.model}-predictor-7d9f8b6c5`;
  const conditions =
    opts.failedCreateSince === undefined
      ? undefined
      : [
          {
            type: "ReplicaFailure",
            status: "True",
            reason: "FailedCreate",
            message: opts.message ?? gpuQuotaExceeded(`${name}-x2k4q`),
            lastTransitionTime: iso(opts.failedCreateSince) as unknown as Date,
          },
        ];
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: {
      name,
      namespace,
      labels: { [ISVC_LABEL]: opts.model, component: "predictor", "pod-template-hash": "7d9f8b6c5" },
      annotations: { "deployment.kubernetes.io/desired-replicas": String(opts.replicas), "deployment.kubernetes.io/revision": "1" },
      ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: `${opts.model}-predictor`, uid: "6f0c3c52-0d3e-4f8e-9a51-000000000001", controller: true, blockOwnerDeletion: true }],
    },
    spec: { replicas: opts.replicas, selector: { matchLabels: { app: `isvc.${opts.model}-predictor`, "pod-template-hash": "7d9f8b6c5" } } },
    status: { replicas: opts.current ?? 0, observedGeneration: 1, ...(conditions ? { conditions } : {}) },
  };
}
