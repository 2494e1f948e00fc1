/**
 * Why a model cannot start, read from the objects Kubernetes and KServe keep about it: pure, table-tested.
 *
 * A model fails when its InferenceService says its spec cannot be served, or when EVERY live predictor pod has a
 * cause below (one pod still progressing may yet become ready). Per pod, first match:
 * - a container or init container waiting in `ImagePullBackOff`, `ErrImagePull`, `InvalidImageName`,
 *   `ErrImageNeverPull`, `CreateContainerConfigError` (the kubelet's waiting reasons);
 * - KServe's `storage-initializer` init container failed (terminated non-zero, or waiting in `CrashLoopBackOff`):
 *   `OOMKilled` when that was the reason, else `StorageInitializerFailed`, with its termination message (KServe
 *   v0.20.0 pkg/apis/serving/v1beta1/inference_service_status.go `PropagateModelStatus` reads the same fields);
 * - a container in `CrashLoopBackOff`: `OOMKilled` when its last termination was, else `CrashLoopBackOff`;
 * - unschedulable (`PodScheduled=False`, reason `Unschedulable`): `NotTriggerScaleUp` when cluster-autoscaler's
 *   latest event about the pod says it will not add a node (kubernetes/autoscaler cluster-autoscaler-1.35.2
 *   processors/status/eventing_scale_up_processor.go: reason `NotTriggerScaleUp`, message "pod didn't trigger
 *   scale-up: <n> max node group size reached, ..."; a later `TriggeredScaleUp` means a node is coming), or
 *   `Unschedulable` once it has been so for longer than the grace (a node boot that never ends). Pods waiting for a
 *   node being added get neither event from cluster-autoscaler (static_autoscaler.go packs them onto upcoming nodes
 *   first) and are never failed within the grace.
 * InferenceService: `status.modelStatus.transitionStatus: InvalidSpec` (KServe sets it with `lastFailureInfo`, e.g.
 * reason `NoSupportingRuntime`, when no serving runtime fits: pkg/controller/v1beta1/inferenceservice/components/
 * predictor.go) fails the model whatever its pods do.
 * No pod at all, while a predictor ReplicaSet wants one and has said for FAILED_CREATE_GRACE_MS that it cannot create
 * it (condition `ReplicaFailure`, reason `FailedCreate`: a ResourceQuota exceeded, e.g. the namespace's GPU quota, an
 * admission webhook or Pod Security refusal, a missing ServiceAccount): `FailedCreate`, with the API server's message.
 * The ReplicaSet controller sets that condition when creating a pod fails and removes it once one succeeds
 * (kubernetes v1.35 pkg/controller/replicaset/replica_set_utils.go `calculateStatus`); the grace lets a one-off
 * refusal (a webhook timeout) clear before anything fails. KServe's own status does not help here: in Standard mode
 * it copies only the Deployment's `Available` condition (pkg/controller/v1beta1/inferenceservice/reconcilers/status
 * `PropagateRawStatus`), which reads the same during a normal cold start.
 */
import type { ModelFailure } from "./failure";

/** The fields read, as the API serves them (client-node objects or raw watch JSON: times as Date or RFC 3339). */
type Time = Date | string | undefined | null;
interface ContainerState {
  waiting?: { reason?: string; message?: string } | null;
  terminated?: { reason?: string; message?: string; exitCode?: number } | null;
  running?: object | null;
}
export interface ContainerStatusLike {
  name: string;
  state?: ContainerState | null;
  lastState?: ContainerState | null;
}
export interface PodLike {
  metadata?: { name?: string; namespace?: string; uid?: string; creationTimestamp?: Time; deletionTimestamp?: Time } | null;
  status?: {
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string; lastTransitionTime?: Time }> | null;
    initContainerStatuses?: ContainerStatusLike[] | null;
    containerStatuses?: ContainerStatusLike[] | null;
  } | null;
}
export interface EventLike {
  involvedObject?: { kind?: string; name?: string; uid?: string } | null;
  reason?: string;
  message?: string;
  lastTimestamp?: Time;
  eventTime?: Time;
  /** events.k8s.io-style recurrences (lastTimestamp left unset). */
  series?: { lastObservedTime?: Time } | null;
  firstTimestamp?: Time;
  metadata?: { creationTimestamp?: Time } | null;
}
export interface ReplicaSetLike {
  metadata?: { name?: string; namespace?: string; deletionTimestamp?: Time } | null;
  spec?: { replicas?: number } | null;
  status?: {
    replicas?: number;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string; lastTransitionTime?: Time }> | null;
  } | null;
}
export interface InferenceServiceLike {
  metadata?: { name?: string; namespace?: string } | null;
  status?: { modelStatus?: { transitionStatus?: string; lastFailureInfo?: { reason?: string; message?: string } | null } | null } | null;
}

export type Cause = Omit<ModelFailure, "since">;

export const STORAGE_INITIALIZER = "storage-initializer";
/** How long a ReplicaSet must have been unable to create a pod before the model fails (see above). */
export const FAILED_CREATE_GRACE_MS = 10_000;
const WAITING_FAILURES = new Set(["ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError"]);

const ms = (t: Time): number => (t ? new Date(t).getTime() : NaN);
const eventTime = (e: EventLike): number => {
  for (const t of [e.series?.lastObservedTime, e.lastTimestamp, e.eventTime, e.firstTimestamp, e.metadata?.creationTimestamp]) {
    const v = ms(t);
    if (!Number.isNaN(v)) return v;
  }
  return 0;
};

export interface DiagnoseInput {
  pods: readonly PodLike[];
  /** Events about pods of the namespace (others are ignored). */
  events: readonly EventLike[];
  inferenceService?: InferenceServiceLike | undefined;
  /** The model's predictor ReplicaSets (absent: none known). */
  replicaSets?: readonly ReplicaSetLike[];
  /** Epoch ms. */
  now: number;
  unschedulableGraceMs: number;
}

/** The cause the model cannot start, or null while it can (or might). */
export function diagnose(input: DiagnoseInput): Cause | null {
  const isvc = input.inferenceService;
  const status = isvc?.status?.modelStatus;
  if (status?.transitionStatus === "InvalidSpec") {
    return {
      cause: status.lastFailureInfo?.reason || "InvalidSpec",
      object: `InferenceService ${isvc!.metadata?.namespace}/${isvc!.metadata?.name}`,
      message: status.lastFailureInfo?.message || "KServe marked the InferenceService spec invalid",
    };
  }
  const live = input.pods.filter((p) => !p.metadata?.deletionTimestamp);
  if (live.length === 0) return replicaSetCause(input.replicaSets ?? [], input.now);
  let first: Cause | null = null;
  for (const pod of live) {
    const cause = podCause(pod, input);
    if (!cause) return null; // this one may still become ready
    first ??= cause;
  }
  return first;
}

/** Why this pod will not become ready, or null. */
export function podCause(pod: PodLike, input: Pick<DiagnoseInput, "events" | "now" | "unschedulableGraceMs">): Cause | null {
  const object = `Pod ${pod.metadata?.namespace}/${pod.metadata?.name}`;
  const at = (cause: string, message: string): Cause => ({ cause, object, message });

  for (const c of pod.status?.initContainerStatuses ?? []) {
    const waiting = c.state?.waiting;
    if (waiting?.reason && WAITING_FAILURES.has(waiting.reason)) return at(waiting.reason, `${c.name}: ${waiting.message ?? waiting.reason}`);
    const terminated = c.state?.terminated && (c.state.terminated.exitCode ?? 0) !== 0 ? c.state.terminated : undefined;
    const crashed = waiting?.reason === "CrashLoopBackOff" ? c.lastState?.terminated : undefined;
    const failed = terminated ?? crashed;
    if (failed || waiting?.reason === "CrashLoopBackOff") {
      const oom = failed?.reason === "OOMKilled";
      const cause = oom ? "OOMKilled" : c.name === STORAGE_INITIALIZER ? "StorageInitializerFailed" : "CrashLoopBackOff";
      return at(cause, `${c.name}: ${describeTermination(failed, waiting?.message)}`);
    }
  }
  for (const c of pod.status?.containerStatuses ?? []) {
    const waiting = c.state?.waiting;
    if (waiting?.reason && WAITING_FAILURES.has(waiting.reason)) return at(waiting.reason, `${c.name}: ${waiting.message ?? waiting.reason}`);
    if (waiting?.reason === "CrashLoopBackOff") {
      const last = c.lastState?.terminated;
      return at(last?.reason === "OOMKilled" ? "OOMKilled" : "CrashLoopBackOff", `${c.name}: ${describeTermination(last, waiting.message)}`);
    }
    if (c.state?.terminated?.reason === "OOMKilled") return at("OOMKilled", `${c.name}: ${describeTermination(c.state.terminated, undefined)}`);
  }

  const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
  if (scheduled?.status === "False" && scheduled.reason === "Unschedulable") {
    const autoscaler = latestAutoscalerEvent(pod, input.events);
    if (autoscaler?.reason === "NotTriggerScaleUp") return at("NotTriggerScaleUp", autoscaler.message ?? "cluster-autoscaler will not add a node");
    // Past the grace even a node being added has taken too long.
    const since = ms(scheduled.lastTransitionTime) || ms(pod.metadata?.creationTimestamp);
    if (!Number.isNaN(since) && input.now - since > input.unschedulableGraceMs) {
      const seconds = Math.round((input.now - since) / 1000);
      return at("Unschedulable", `unschedulable for ${seconds}s (grace ${Math.round(input.unschedulableGraceMs / 1000)}s): ${scheduled.message ?? "no node fits"}`);
    }
  }
  return null;
}

/** A ReplicaSet that wants pods and has been refused creating them for longer than the grace; null if none. */
export function replicaSetCause(replicaSets: readonly ReplicaSetLike[], now: number): Cause | null {
  for (const rs of replicaSets) {
    const refused = failedCreate(rs);
    if (!refused) continue;
    const since = ms(refused.lastTransitionTime);
    if (Number.isNaN(since) || now - since < FAILED_CREATE_GRACE_MS) continue;
    return {
      cause: "FailedCreate",
      object: `ReplicaSet ${rs.metadata?.namespace}/${rs.metadata?.name}`,
      message: refused.message || "the ReplicaSet controller cannot create the model's pod",
    };
  }
  return null;
}

function failedCreate(rs: ReplicaSetLike): { message?: string; lastTransitionTime?: Time } | undefined {
  if (rs.metadata?.deletionTimestamp || (rs.spec?.replicas ?? 0) <= (rs.status?.replicas ?? 0)) return undefined;
  return rs.status?.conditions?.find((c) => c.type === "ReplicaFailure" && c.status === "True" && c.reason === "FailedCreate");
}

/**
 * When the next grace ends (epoch ms): an unschedulable pod's, or a refused ReplicaSet's while the model has no pod;
 * for the caller to look again then. Undefined if none.
 */
export function nextGraceDeadline(pods: readonly PodLike[], graceMs: number, replicaSets: readonly ReplicaSetLike[] = []): number | undefined {
  let next: number | undefined;
  if (!pods.some((p) => !p.metadata?.deletionTimestamp)) {
    for (const rs of replicaSets) {
      const since = ms(failedCreate(rs)?.lastTransitionTime);
      if (!Number.isNaN(since) && (next === undefined || since + FAILED_CREATE_GRACE_MS + 1 < next)) next = since + FAILED_CREATE_GRACE_MS + 1;
    }
  }
  for (const pod of pods) {
    const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
    if (scheduled?.status !== "False" || scheduled.reason !== "Unschedulable") continue;
    const since = ms(scheduled.lastTransitionTime) || ms(pod.metadata?.creationTimestamp);
    if (Number.isNaN(since)) continue;
    const deadline = since + graceMs + 1;
    if (next === undefined || deadline < next) next = deadline;
  }
  return next;
}

function latestAutoscalerEvent(pod: PodLike, events: readonly EventLike[]): EventLike | undefined {
  let latest: EventLike | undefined;
  let latestAt = -Infinity;
  for (const e of events) {
    if (e.reason !== "NotTriggerScaleUp" && e.reason !== "TriggeredScaleUp") continue;
    const o = e.involvedObject;
    if (o?.kind !== "Pod") continue;
    if (o.uid && pod.metadata?.uid ? o.uid !== pod.metadata.uid : o.name !== pod.metadata?.name) continue;
    const t = eventTime(e);
    if (t >= latestAt) {
      latest = e;
      latestAt = t;
    }
  }
  return latest;
}

function describeTermination(t: ContainerState["terminated"] | undefined, waitingMessage: string | undefined): string {
  const parts: string[] = [];
  if (t) {
    parts.push(`${t.reason ?? "terminated"}${t.exitCode !== undefined ? ` (exit code ${t.exitCode})` : ""}`);
    if (t.message) parts.push(t.message.trim());
  }
  if (waitingMessage) parts.push(waitingMessage);
  return parts.join("; ") || "failed";
}
