/**
 * A cold start's timeline, read from the objects Kubernetes keeps about it: pure, table-tested
 * (tests/activator/readiness/timeline.test.ts).
 *
 * Milestones, in the order they happen on a cold start (each PHASE below is named by the milestone that ends it, and
 * lasts from the previous milestone reached until it):
 *
 * | phase            | milestone, and where it is read                                                             | who acts          |
 * | ---------------- | ------------------------------------------------------------------------------------------- | ----------------- |
 * | `replicas_set`   | a predictor ReplicaSet of the model wants ≥ 1 replica (`spec.replicas`; no timestamp: the   | KEDA, deployment  |
 * |                  | time the activator's watch first saw it)                                                     | controller        |
 * | `pod_created`    | the pod's `metadata.creationTimestamp`                                                       | ReplicaSet ctrl.  |
 * | `node_ready`     | only when the pod's node was created after the demand: the Karpenter NodeClaim's             | Karpenter, EC2,   |
 * |                  | `Initialized` condition (node Ready, startup taints gone, `nvidia.com/gpu` registered:      | kubelet, device   |
 * |                  | sigs.k8s.io/karpenter v1.14.1 pkg/controllers/nodeclaim/lifecycle/initialization.go), else  | plugin            |
 * |                  | the Node's `Ready` condition (`lastTransitionTime`)                                           |                   |
 * | `scheduled`      | the scheduler's `Scheduled` event (reason "Scheduled", action "Binding", its `eventTime` in  | kube-scheduler    |
 * |                  | microseconds: kubernetes v1.33 pkg/scheduler/schedule_one.go `finishBinding`), else the pod  |                   |
 * |                  | condition `PodScheduled=True`                                                                 |                   |
 * | `initialized`    | pod condition `Initialized=True` (all init containers done: KServe's storage-initializer     | kubelet           |
 * |                  | downloads the weights here, its own image pull included)                                     |                   |
 * | `image_pulled`   | the last `Pulled` event of a regular container (`involvedObject.fieldPath`                   | kubelet,          |
 * |                  | `spec.containers{…}`; reason "Pulled", kubernetes v1.33 pkg/kubelet/events/event.go          | containerd        |
 * |                  | `PulledImage`, written by pkg/kubelet/images/image_manager.go for a pull and for an image    |                   |
 * |                  | "already present on machine")                                                                 |                   |
 * | `started`        | the latest `containerStatuses[].state.running.startedAt` (every container running)           | kubelet, runtime  |
 * | `ready`          | pod condition `Ready=True` (kubelet: all containers ready, readiness probes pass)             | kubelet, model    |
 * | `endpoint_ready` | the activator saw a ready endpoint in the Service's EndpointSlices                           | EndpointSlice ctrl|
 * | `first_byte`     | the first released request's response head arrived from the model                            | activator, model  |
 *
 * The kubelet pulls a container's image right before starting it, init containers first (kubernetes v1.33
 * pkg/kubelet/kuberuntime/kuberuntime_manager.go `SyncPod` steps 6 and 7, `startContainer` step 1), so the runtime
 * image is pulled after the init containers are done: `image_pulled` comes after `initialized`, and a new node is
 * Ready before the scheduler can bind to it, so `node_ready` comes before `scheduled`.
 * Pod condition types are the v1.33 API's (k8s.io/api core/v1 types.go: `PodScheduled`, `Initialized`,
 * `ContainersReady`, `Ready`), each set by the kubelet with its `lastTransitionTime` (pkg/kubelet/status/generate.go).
 *
 * API timestamps have one-second resolution (metav1.Time; events' `eventTime` is a MicroTime), so the activator also
 * records when its watch first saw each milestone: `phaseTimeline` takes that observation when it lies within
 * OBSERVATION_WINDOW_MS of the API time (finer, and on the activator's clock as demand and first byte are), else the
 * API time (an object older than the watch, e.g. after a restart). Times are clamped to the order above.
 */
import type { EventLike, PodLike, ReplicaSetLike } from "../health/causes";

export const COLD_START_PHASES = [
  "replicas_set",
  "pod_created",
  "node_ready",
  "scheduled",
  "initialized",
  "image_pulled",
  "started",
  "ready",
  "endpoint_ready",
  "first_byte",
] as const;
export type ColdStartPhase = (typeof COLD_START_PHASES)[number];

/** Epoch milliseconds per milestone reached. */
export type Milestones = Partial<Record<ColdStartPhase, number>>;

/** An observation this far from the API's (second-resolution) time is taken as the same instant. */
export const OBSERVATION_WINDOW_MS = 2000;

type Time = Date | string | undefined | null;
interface Condition {
  type: string;
  status: string;
  lastTransitionTime?: Time;
}

/** The pod fields read here beyond ./health/causes' PodLike. */
export interface TimelinePod extends PodLike {
  spec?: { nodeName?: string } | null;
  status?: (NonNullable<PodLike["status"]> & { containerStatuses?: Array<{ name: string; state?: { running?: { startedAt?: Time } | null } | null }> | null }) | null;
}
export interface TimelineEvent extends EventLike {
  involvedObject?: { kind?: string; name?: string; uid?: string; fieldPath?: string } | null;
}
export interface NodeLike {
  metadata?: { name?: string; creationTimestamp?: Time } | null;
  status?: { conditions?: Condition[] | null } | null;
}
/** A Karpenter `karpenter.sh/v1` NodeClaim (CRD of Karpenter v1.14.1: `status.nodeName`, conditions with lastTransitionTime). */
export interface NodeClaimLike {
  metadata?: { name?: string; creationTimestamp?: Time } | null;
  status?: { nodeName?: string; conditions?: Condition[] | null } | null;
}

export interface TimelineObjects {
  /** Epoch ms of the demand: the first request held for lack of a ready replica. */
  demandAt: number;
  pods: readonly TimelinePod[];
  replicaSets: readonly ReplicaSetLike[];
  events: readonly TimelineEvent[];
  /** The followed pod's node and its NodeClaim, when looked up. */
  node?: NodeLike | null;
  nodeClaim?: NodeClaimLike | null;
}

export interface ObjectMilestones {
  /** API times of the milestones reached; `replicas_set` is present with NaN when reached (it has no timestamp). */
  at: Milestones;
  /** The pod followed (the furthest along; the earliest created among equals), and its node. */
  pod?: string;
  node?: string;
  /** True when the pod's node was created after the demand (this cold start added it). */
  nodeAdded?: boolean;
  nodeClaim?: string;
}

const ms = (t: Time): number => (t ? new Date(t).getTime() : NaN);
const conditionTime = (conditions: readonly Condition[] | null | undefined, type: string): number => {
  const c = conditions?.find((x) => x.type === type);
  return c?.status === "True" ? ms(c.lastTransitionTime) : NaN;
};
/** An event's first occurrence: core/v1 `firstTimestamp`, or `eventTime` for events.k8s.io-style writers. */
const eventTime = (e: TimelineEvent): number => {
  for (const t of [e.eventTime, e.firstTimestamp, e.lastTimestamp, e.metadata?.creationTimestamp]) {
    const v = ms(t);
    if (!Number.isNaN(v)) return v;
  }
  return NaN;
};

/** The milestones the objects show, in API time (epoch ms). Milestones not reached are absent. */
export function milestonesFromObjects(input: TimelineObjects): ObjectMilestones {
  const at: Milestones = {};
  if (input.replicaSets.some((rs) => !rs.metadata?.deletionTimestamp && (rs.spec?.replicas ?? 0) >= 1)) at.replicas_set = NaN;
  const pod = followedPod(input.pods);
  if (!pod) return { at };
  const name = pod.metadata?.name ?? "";
  const uid = pod.metadata?.uid;
  const about = (e: TimelineEvent) => {
    const o = e.involvedObject;
    if (!o || (o.kind !== undefined && o.kind !== "Pod")) return false;
    return uid && o.uid ? o.uid === uid : o.name === name;
  };
  Object.assign(at, podTimes(pod, input.events.filter(about)));
  const out: ObjectMilestones = { at, pod: name };
  const nodeName = pod.spec?.nodeName;
  if (nodeName) out.node = nodeName;
  const node = input.node && input.node.metadata?.name === nodeName ? input.node : undefined;
  const claim = input.nodeClaim && input.nodeClaim.status?.nodeName === nodeName ? input.nodeClaim : undefined;
  if (node || claim) {
    // A second of slack: creationTimestamp is truncated to the second, the demand is not.
    const created = [claim?.metadata?.creationTimestamp, node?.metadata?.creationTimestamp].map(ms).filter((t) => !Number.isNaN(t));
    out.nodeAdded = created.length > 0 && Math.min(...created) >= input.demandAt - 1000;
    if (claim?.metadata?.name) out.nodeClaim = claim.metadata.name;
    if (out.nodeAdded) {
      const ready = firstNumber(conditionTime(claim?.status?.conditions, "Initialized"), conditionTime(node?.status?.conditions, "Ready"));
      if (!Number.isNaN(ready)) at.node_ready = ready;
    }
  }
  return out;
}

function podTimes(pod: TimelinePod, events: readonly TimelineEvent[]): Milestones {
  const at: Milestones = {};
  const set = (phase: ColdStartPhase, value: number) => {
    if (!Number.isNaN(value)) at[phase] = value;
  };
  const conditions = pod.status?.conditions ?? [];
  set("pod_created", ms(pod.metadata?.creationTimestamp));
  const scheduledEvent = events.filter((e) => e.reason === "Scheduled").map(eventTime).filter((t) => !Number.isNaN(t));
  set("scheduled", scheduledEvent.length ? Math.min(...scheduledEvent) : conditionTime(conditions, "PodScheduled"));
  set("initialized", conditionTime(conditions, "Initialized"));
  const statuses = pod.status?.containerStatuses ?? [];
  const pulls = events.filter((e) => e.reason === "Pulled");
  // Regular containers' pulls; without fieldPaths (some writers omit them) every pull of the pod counts.
  const regular = pulls.filter((e) => e.involvedObject?.fieldPath?.startsWith("spec.containers{"));
  const counted = (regular.length > 0 ? regular : pulls.filter((e) => !e.involvedObject?.fieldPath)).map(eventTime).filter((t) => !Number.isNaN(t));
  // Every regular container must have been pulled: one Pulled per container (a restart's repeat only counts once).
  const pulledNames = new Set(regular.map((e) => e.involvedObject?.fieldPath));
  if (counted.length > 0 && (regular.length === 0 || statuses.length === 0 || pulledNames.size >= statuses.length)) set("image_pulled", Math.max(...counted));
  const started = statuses.map((s) => ms((s.state?.running as { startedAt?: Time } | null | undefined)?.startedAt));
  if (started.length > 0 && started.every((t) => !Number.isNaN(t))) set("started", Math.max(...started));
  set("ready", conditionTime(conditions, "Ready"));
  return at;
}

/** The pod to follow: not being deleted, the furthest along, then the earliest created. */
function followedPod(pods: readonly TimelinePod[]): TimelinePod | undefined {
  let best: TimelinePod | undefined;
  let bestScore = -1;
  let bestCreated = Infinity;
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp) continue;
    const conditions = pod.status?.conditions ?? [];
    const score = ["PodScheduled", "Initialized", "ContainersReady", "Ready"].filter((t) => !Number.isNaN(conditionTime(conditions, t))).length;
    const created = ms(pod.metadata?.creationTimestamp);
    if (score > bestScore || (score === bestScore && created < bestCreated)) {
      best = pod;
      bestScore = score;
      bestCreated = created;
    }
  }
  return best;
}

export interface PhaseEntry {
  phase: ColdStartPhase;
  /** Epoch ms the milestone was reached (after reconciliation and ordering). */
  at: number;
  /** Seconds since the previous milestone reached (the demand for the first). */
  seconds: number;
}

/**
 * The phases reached, in order. `api` gives the objects' times (NaN: reached, time unknown), `observed` the activator's
 * first sight of each milestone (epoch ms). A milestone with neither time is skipped; times earlier than the
 * previous milestone are clamped to it (clocks and resolutions differ), so each phase is ≥ 0 and they sum to the
 * last milestone minus the demand.
 */
export function phaseTimeline(demandAt: number, api: Milestones, observed: Milestones): PhaseEntry[] {
  const out: PhaseEntry[] = [];
  let previous = demandAt;
  for (const phase of COLD_START_PHASES) {
    const at = reconcile(api[phase], observed[phase]);
    if (at === undefined) continue;
    const clamped = Math.max(at, previous);
    out.push({ phase, at: clamped, seconds: (clamped - previous) / 1000 });
    previous = clamped;
  }
  return out;
}

function reconcile(api: number | undefined, observed: number | undefined): number | undefined {
  const hasApi = api !== undefined && !Number.isNaN(api);
  if (observed === undefined) return hasApi ? api : undefined;
  if (!hasApi) return observed;
  return Math.abs(observed - api) <= OBSERVATION_WINDOW_MS ? observed : api;
}

function firstNumber(...values: number[]): number {
  for (const v of values) if (!Number.isNaN(v)) return v;
  return NaN;
}
