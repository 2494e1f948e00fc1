/**
 * Cold-start timeline from objects shaped as kubernetes v1.33 writes them: the kubelet's pod conditions
 * (pkg/kubelet/status/generate.go: PodScheduled / Initialized / ContainersReady / Ready with lastTransitionTime at
 * second resolution), `containerStatuses[].state.running.startedAt`, its core/v1 events (pkg/kubelet/events/event.go
 * reasons "Pulling" / "Pulled" with `involvedObject.fieldPath`, firstTimestamp/lastTimestamp, no eventTime), the
 * scheduler's events.k8s.io event read through core/v1 (reason "Scheduled", `eventTime` in microseconds, no
 * firstTimestamp), Nodes, and Karpenter v1.14.1 NodeClaims.
 */
import { strict as assert } from "node:assert";
import {
  COLD_START_PHASES,
  milestonesFromObjects,
  phaseTimeline,
  type NodeClaimLike,
  type NodeLike,
  type TimelineEvent,
  type TimelineObjects,
  type TimelinePod,
} from "../../../activator/src/readiness/timeline";

const T0 = Date.parse("2026-11-30T12:00:00.400Z"); // the demand: mid-second, as requests arrive
/** An API timestamp (metav1.Time): RFC 3339 truncated to the second. */
const sec = (offsetMs: number) => new Date(Math.floor((T0 + offsetMs) / 1000) * 1000).toISOString().replace(".000Z", "Z");
/** An events.k8s.io MicroTime. */
const micro = (offsetMs: number) => new Date(T0 + offsetMs).toISOString().replace("Z", "000Z");
const at = (offsetMs: number) => Math.floor((T0 + offsetMs) / 1000) * 1000;

const POD = "llama-predictor-7d9f8c-x2k4q";
const UID = "5f0c1f5e-5d0b-4a53-9b64-1f6a1b1d2c3e";

interface PodTimes {
  created: number;
  node?: string;
  scheduled?: number;
  initialized?: number;
  started?: number;
  ready?: number;
  deleting?: boolean;
  name?: string;
  uid?: string;
}
function pod(t: PodTimes): TimelinePod {
  const condition = (type: string, when: number | undefined) =>
    when === undefined ? { type, status: "False", lastProbeTime: null, lastTransitionTime: sec(t.created) } : { type, status: "True", lastProbeTime: null, lastTransitionTime: sec(when) };
  const conditions = [];
  if (t.scheduled !== undefined) conditions.push(condition("Initialized", t.initialized), condition("Ready", t.ready), condition("ContainersReady", t.ready));
  conditions.push(t.scheduled === undefined ? { type: "PodScheduled", status: "False", reason: "Unschedulable", lastProbeTime: null, lastTransitionTime: sec(t.created) } : condition("PodScheduled", t.scheduled));
  return {
    metadata: {
      name: t.name ?? POD,
      namespace: "models",
      uid: t.uid ?? UID,
      creationTimestamp: sec(t.created),
      ...(t.deleting ? { deletionTimestamp: sec(t.created + 1000) } : {}),
    },
    spec: t.node ? { nodeName: t.node } : {},
    status: {
      conditions,
      containerStatuses:
        t.scheduled === undefined
          ? null
          : [
              {
                name: "kserve-container",
                state: t.started === undefined ? { waiting: { reason: "PodInitializing" } } : { running: { startedAt: sec(t.started) } },
              },
            ],
    },
  } as TimelinePod;
}

/** A kubelet event (legacy recorder: first/lastTimestamp, no eventTime). */
function kubeletEvent(reason: string, fieldPath: string, when: number, message: string, name = POD, uid = UID): TimelineEvent {
  return {
    metadata: { name: `${name}.18${when}`, namespace: "models", creationTimestamp: sec(when) },
    involvedObject: { kind: "Pod", namespace: "models", name, uid, apiVersion: "v1", fieldPath },
    reason,
    message,
    source: { component: "kubelet", host: "ip-10-0-1-23.ec2.internal" },
    firstTimestamp: sec(when),
    lastTimestamp: sec(when),
    count: 1,
    type: "Normal",
    eventTime: null,
  } as TimelineEvent;
}
/** The scheduler's event (events.k8s.io, read through core/v1). */
function scheduledEvent(when: number, node: string): TimelineEvent {
  return {
    metadata: { name: `${POD}.18s`, namespace: "models", creationTimestamp: sec(when) },
    involvedObject: { kind: "Pod", namespace: "models", name: POD, uid: UID, apiVersion: "v1" },
    reason: "Scheduled",
    message: `Successfully assigned models/${POD} to ${node}`,
    firstTimestamp: null,
    lastTimestamp: null,
    eventTime: micro(when),
    action: "Binding",
    reportingComponent: "default-scheduler",
    type: "Normal",
  } as unknown as TimelineEvent;
}
const INIT = "spec.initContainers{storage-initializer}";
const MAIN = "spec.containers{kserve-container}";
const pulled = (fieldPath: string, when: number, image: string) =>
  kubeletEvent("Pulled", fieldPath, when, `Successfully pulled image "${image}" in 1.2s (1.2s including waiting). Image size: 123 bytes.`);

const replicaSet = (replicas: number) => ({ metadata: { name: "llama-predictor-7d9f8c", namespace: "models" }, spec: { replicas }, status: { replicas } });

function node(name: string, created: number, ready?: number): NodeLike {
  return {
    metadata: { name, creationTimestamp: sec(created) },
    status: { conditions: [{ type: "Ready", status: ready === undefined ? "False" : "True", lastTransitionTime: sec(ready ?? created) }] },
  };
}
function nodeClaim(nodeName: string, created: number, initialized?: number): NodeClaimLike {
  const c = (type: string, when: number | undefined) => ({ type, status: when === undefined ? "Unknown" : "True", lastTransitionTime: sec(when ?? created) });
  return {
    metadata: { name: "gpu-a100-xk2lp", creationTimestamp: sec(created) },
    status: { nodeName, conditions: [c("Launched", created + 5_000), c("Registered", created + 60_000), c("Initialized", initialized)] },
  };
}

/** A KServe predictor pod on a node that was already up: storage-initializer, then the runtime image. */
const warmNodeEvents = [
  scheduledEvent(1_250, "ip-10-0-1-23.ec2.internal"),
  kubeletEvent("Pulling", INIT, 1_300, 'Pulling image "kserve/storage-initializer:v0.20.0"'),
  pulled(INIT, 4_100, "kserve/storage-initializer:v0.20.0"),
  kubeletEvent("Pulling", MAIN, 64_000, 'Pulling image "kserve/huggingfaceserver:v0.20.0-gpu"'),
  pulled(MAIN, 301_000, "kserve/huggingfaceserver:v0.20.0-gpu"),
];
const base = (over: Partial<TimelineObjects>): TimelineObjects => ({ demandAt: T0, pods: [], replicaSets: [replicaSet(1)], events: [], ...over });

describe("cold-start timeline: milestones from the objects", () => {
  const cases: Array<[what: string, input: TimelineObjects, expected: Record<string, number>, extra?: Record<string, unknown>]> = [
    ["a ReplicaSet at zero: nothing reached", base({ replicaSets: [replicaSet(0)] }), {}],
    ["a ReplicaSet scaled to 1 (no timestamp: NaN)", base({}), { replicas_set: NaN }],
    [
      "a pod waiting for a node",
      base({ pods: [pod({ created: 900 })] }),
      { replicas_set: NaN, pod_created: at(900) },
    ],
    [
      "a pod on a node that was up: scheduler's MicroTime, kubelet's conditions, the runtime image's pull",
      base({
        pods: [pod({ created: 900, node: "ip-10-0-1-23.ec2.internal", scheduled: 1_250, initialized: 63_000, started: 302_000, ready: 390_000 })],
        events: warmNodeEvents,
        node: node("ip-10-0-1-23.ec2.internal", -3_600_000, -3_500_000),
      }),
      { replicas_set: NaN, pod_created: at(900), scheduled: T0 + 1_250, initialized: at(63_000), image_pulled: at(301_000), started: at(302_000), ready: at(390_000) },
      { pod: POD, node: "ip-10-0-1-23.ec2.internal", nodeAdded: false },
    ],
    [
      "a node Karpenter added: node_ready from the NodeClaim's Initialized",
      base({
        pods: [pod({ created: 900, node: "ip-10-0-7-9.ec2.internal", scheduled: 200_000, initialized: 260_000 })],
        events: [],
        node: node("ip-10-0-7-9.ec2.internal", 70_000, 150_000),
        nodeClaim: nodeClaim("ip-10-0-7-9.ec2.internal", 3_000, 190_000),
      }),
      { replicas_set: NaN, pod_created: at(900), node_ready: at(190_000), scheduled: at(200_000), initialized: at(260_000) },
      { nodeAdded: true, nodeClaim: "gpu-a100-xk2lp" },
    ],
    [
      "a node added without Karpenter (cluster-autoscaler): the Node's Ready",
      base({ pods: [pod({ created: 900, node: "ip-10-0-7-9.ec2.internal", scheduled: 200_000 })], node: node("ip-10-0-7-9.ec2.internal", 70_000, 150_000) }),
      { replicas_set: NaN, pod_created: at(900), node_ready: at(150_000), scheduled: at(200_000) },
      { nodeAdded: true },
    ],
    [
      "a NodeClaim of another node is not read",
      base({ pods: [pod({ created: 900, node: "n1", scheduled: 2_000 })], node: node("n1", -100_000, -90_000), nodeClaim: nodeClaim("n2", 1_000, 50_000) }),
      { replicas_set: NaN, pod_created: at(900), scheduled: at(2_000) },
      { nodeAdded: false },
    ],
    [
      "a pod with an image already present (kubelet writes Pulled too)",
      base({
        pods: [pod({ created: 900, node: "n1", scheduled: 1_250, initialized: 2_000, started: 3_000 })],
        events: [kubeletEvent("Pulled", MAIN, 2_000, 'Container image "kserve/sklearnserver:v0.20.0" already present on machine')],
      }),
      { replicas_set: NaN, pod_created: at(900), scheduled: at(1_250), initialized: at(2_000), image_pulled: at(2_000), started: at(3_000) },
    ],
    [
      "the init container's pull alone is not the runtime image's",
      base({ pods: [pod({ created: 900, node: "n1", scheduled: 1_250 })], events: warmNodeEvents.slice(0, 3) }),
      { replicas_set: NaN, pod_created: at(900), scheduled: T0 + 1_250 },
    ],
    [
      "a pod being deleted is not followed; the one furthest along is",
      base({
        pods: [
          pod({ created: -5_000, name: "old", uid: "u-old", node: "n1", scheduled: -4_000, initialized: -3_000, started: -2_000, ready: -1_000, deleting: true }),
          pod({ created: 2_000, name: "later", uid: "u-later" }),
          pod({ created: 900, node: "n1", scheduled: 1_250, initialized: 1_900 }),
        ],
        events: [kubeletEvent("Pulled", MAIN, -3_000, "x", "old", "u-old"), scheduledEvent(1_250, "n1")],
      }),
      { replicas_set: NaN, pod_created: at(900), scheduled: T0 + 1_250, initialized: at(1_900) },
      { pod: POD },
    ],
  ];
  for (const [what, input, expected, extra] of cases) {
    it(what, () => {
      const got = milestonesFromObjects(input);
      assert.deepEqual(got.at, expected);
      for (const [key, value] of Object.entries(extra ?? {})) assert.equal((got as unknown as Record<string, unknown>)[key], value, key);
    });
  }
});

describe("cold-start timeline: phases", () => {
  it("takes the activator's observation within the window, the API time past it, and clamps to the order", () => {
    const api = { replicas_set: NaN, pod_created: at(900), scheduled: T0 + 1_250, initialized: at(63_000), image_pulled: at(301_000), started: at(302_000), ready: at(390_000) };
    const observed = {
      replicas_set: T0 + 120,
      pod_created: T0 + 1_180, // 1.18 s after demand: the API's second (T0+0.6 s) is coarser
      scheduled: T0 + 1_290,
      ready: T0 + 390_300,
      endpoint_ready: T0 + 390_310,
      first_byte: T0 + 390_500,
      started: T0 + 600_000, // seen long after (a watch restart): the API time is used
    };
    const phases = phaseTimeline(T0, api, observed);
    assert.deepEqual(
      phases.map((p) => p.phase),
      ["replicas_set", "pod_created", "scheduled", "initialized", "image_pulled", "started", "ready", "endpoint_ready", "first_byte"],
    );
    const seconds = Object.fromEntries(phases.map((p) => [p.phase, Math.round(p.seconds * 1000) / 1000]));
    assert.equal(seconds["replicas_set"], 0.12);
    assert.equal(seconds["pod_created"], 1.06);
    assert.equal(seconds["scheduled"], 0.11);
    assert.equal(seconds["started"], 1);
    assert.equal(seconds["first_byte"], 0.19);
    const total = phases.reduce((sum, p) => sum + p.seconds, 0);
    assert.ok(Math.abs(total - 390.5) < 1e-9, `phases sum to first byte − demand: ${total}`);
  });

  it("never gives a negative phase: an API time before the demand or the previous milestone is clamped", () => {
    const phases = phaseTimeline(T0, { pod_created: T0 - 30_000, scheduled: T0 - 29_000, ready: T0 + 5_000, started: T0 + 6_000 }, {});
    assert.deepEqual(
      phases.map((p) => [p.phase, p.seconds]),
      [["pod_created", 0], ["scheduled", 0], ["started", 6], ["ready", 0]],
    );
  });

  it("skips what was not reached and what has no time at all", () => {
    assert.deepEqual(phaseTimeline(T0, { replicas_set: NaN }, {}), []);
    assert.deepEqual(phaseTimeline(T0, {}, { endpoint_ready: T0 + 50, first_byte: T0 + 80 }).map((p) => p.phase), ["endpoint_ready", "first_byte"]);
  });

  it("names ten phases, fixed", () => assert.equal(COLD_START_PHASES.length, 10));
});
