/** Fail-fast diagnosis from real object shapes: each cause, and the states that must NOT fail a model. */
import { strict as assert } from "node:assert";
import { diagnose, FAILED_CREATE_GRACE_MS, nextGraceDeadline, type DiagnoseInput } from "../../../activator/src/health/causes";
import { autoscalerEvent, containers, inferenceService, predictorPod, predictorReplicaSet } from "../../../testing/activator/kubeObjects";

const NOW = Date.parse("2026-11-30T12:00:00Z");
const GRACE = 900_000;
const input = (over: Partial<DiagnoseInput>): DiagnoseInput => ({ pods: [], events: [], now: NOW, unschedulableGraceMs: GRACE, ...over });
const pod = (o: Omit<Parameters<typeof predictorPod>[0], "model">) => predictorPod({ model: "llama", createdAt: NOW - 60_000, ...o });

describe("activator fail-fast: diagnosis", () => {
  const unschedulable = pod({ unschedulableSince: NOW - 120_000 });
  const failing: Array<[what: string, over: Partial<DiagnoseInput>, cause: string, message: RegExp]> = [
    ["CrashLoopBackOff", { pods: [pod({ containerStatuses: [containers.crashLoop("Error", 1)] })], }, "CrashLoopBackOff", /kserve-container: Error \(exit code 1\); back-off 1m20s restarting/],
    ["last termination OOMKilled", { pods: [pod({ containerStatuses: [containers.crashLoop("OOMKilled", 137)] })] }, "OOMKilled", /OOMKilled \(exit code 137\)/],
    ["ImagePullBackOff", { pods: [pod({ containerStatuses: [containers.imagePull("ImagePullBackOff")] })] }, "ImagePullBackOff", /Back-off pulling image "kserve\/huggingfaceserver:v0.99.0"/],
    ["ErrImagePull", { pods: [pod({ containerStatuses: [containers.imagePull("ErrImagePull")] })] }, "ErrImagePull", /not found/],
    [
      "a missing Secret or ConfigMap (CreateContainerConfigError)",
      { pods: [pod({ containerStatuses: [{ name: "kserve-container", image: "x", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason: "CreateContainerConfigError", message: 'secret "llama-hf-token" not found' } } }] })] },
      "CreateContainerConfigError",
      /kserve-container: secret "llama-hf-token" not found/,
    ],
    [
      "the storage initializer failing",
      { pods: [pod({ initContainerStatuses: [containers.storageInitializer("Error", 1, "RuntimeError: Failed to fetch model. No model found in hf://x/y")] })] },
      "StorageInitializerFailed",
      /storage-initializer: Error \(exit code 1\); RuntimeError: Failed to fetch model/,
    ],
    ["the storage initializer OOMKilled", { pods: [pod({ initContainerStatuses: [containers.storageInitializer("OOMKilled", 137)] })] }, "OOMKilled", /storage-initializer: OOMKilled/],
    [
      "unschedulable with cluster-autoscaler's NotTriggerScaleUp",
      { pods: [unschedulable], events: [autoscalerEvent(unschedulable, "NotTriggerScaleUp", "pod didn't trigger scale-up: 1 max node group size reached", NOW - 10_000)] },
      "NotTriggerScaleUp",
      /^pod didn't trigger scale-up: 1 max node group size reached$/,
    ],
    [
      "NotTriggerScaleUp after an earlier TriggeredScaleUp (the new node never came; now at max)",
      {
        pods: [unschedulable],
        events: [
          autoscalerEvent(unschedulable, "TriggeredScaleUp", "pod triggered scale-up: [{eks-a100 0->1 (max: 1)}]", NOW - 100_000),
          autoscalerEvent(unschedulable, "NotTriggerScaleUp", "pod didn't trigger scale-up: 1 not ready for scale-up", NOW - 5_000),
        ],
      },
      "NotTriggerScaleUp",
      /not ready for scale-up/,
    ],
    [
      "a NotTriggerScaleUp recurring as an event series after a TriggeredScaleUp",
      {
        pods: [unschedulable],
        events: [
          autoscalerEvent(unschedulable, "TriggeredScaleUp", "pod triggered scale-up: [{eks-a100 0->1 (max: 1)}]", NOW - 50_000),
          { ...autoscalerEvent(unschedulable, "NotTriggerScaleUp", "pod didn't trigger scale-up: 1 max node group size reached", NOW - 90_000), lastTimestamp: undefined, series: { count: 3, lastObservedTime: new Date(NOW - 1000) } },
        ],
      },
      "NotTriggerScaleUp",
      /max node group size reached/,
    ],
    ["unschedulable past the grace, even while a node was said to be coming", { pods: [pod({ unschedulableSince: NOW - GRACE - 1000 })] }, "Unschedulable", /unschedulable for 901s \(grace 900s\): 0\/3 nodes are available: 3 Insufficient nvidia.com\/gpu/],
    ["no serving runtime (InferenceService InvalidSpec)", { inferenceService: inferenceService("llama", "noRuntime") }, "NoSupportingRuntime", /^No runtime found to support specified framework\/version$/],
    [
      "no pod, its ReplicaSet refused creating one past the grace (the namespace's GPU quota exceeded)",
      { replicaSets: [predictorReplicaSet({ model: "llama", replicas: 1, failedCreateSince: NOW - FAILED_CREATE_GRACE_MS - 1000 })] },
      "FailedCreate",
      /is forbidden: exceeded quota: gpu-quota, requested: requests.nvidia.com\/gpu=1, used: requests.nvidia.com\/gpu=8, limited: requests.nvidia.com\/gpu=8$/,
    ],
  ];
  for (const [what, over, cause, message] of failing) {
    it(`fails on ${what}`, () => {
      const found = diagnose(input(over));
      assert.ok(found, "a cause");
      assert.equal(found.cause, cause);
      assert.match(found.message, message);
      assert.match(found.object, /^(Pod models\/llama-predictor-|ReplicaSet models\/llama-predictor-|InferenceService models\/llama$)/);
    });
  }

  const fine: Array<[what: string, over: Partial<DiagnoseInput>]> = [
    ["no pod (scaled to zero)", {}],
    ["a pod pulling, initializing, starting", { pods: [pod({ initContainerStatuses: [containers.storageInitializerRunning()] })] }],
    ["a running container not yet ready", { pods: [pod({ phase: "Running", containerStatuses: [containers.running()] })] }],
    ["unschedulable while cluster-autoscaler adds a node (TriggeredScaleUp), within the grace", {
      pods: [unschedulable],
      events: [autoscalerEvent(unschedulable, "TriggeredScaleUp", "pod triggered scale-up: [{eks-a100 0->1 (max: 1)}]", NOW - 100_000)],
    }],
    ["unschedulable, no word from cluster-autoscaler yet, within the grace", { pods: [unschedulable] }],
    ["a NotTriggerScaleUp older than a TriggeredScaleUp", {
      pods: [unschedulable],
      events: [
        autoscalerEvent(unschedulable, "NotTriggerScaleUp", "pod didn't trigger scale-up: 1 max node group size reached", NOW - 100_000),
        autoscalerEvent(unschedulable, "TriggeredScaleUp", "pod triggered scale-up: [{eks-a100 0->1 (max: 1)}]", NOW - 5_000),
      ],
    }],
    ["a NotTriggerScaleUp about another pod", {
      pods: [unschedulable],
      events: [autoscalerEvent(pod({ name: "llama-predictor-old-1", unschedulableSince: NOW }), "NotTriggerScaleUp", "pod didn't trigger scale-up: 1 max node group size reached", NOW)],
    }],
    ["one crashing replica while another is starting fine", {
      pods: [pod({ containerStatuses: [containers.crashLoop()] }), pod({ name: "llama-predictor-7d9f8b6c5-b", containerStatuses: [containers.running()] })],
    }],
    ["a crashing pod being deleted (rolled away)", { pods: [{ ...pod({ containerStatuses: [containers.crashLoop()] }), metadata: { ...pod({}).metadata, deletionTimestamp: new Date() } }] }],
    ["an InferenceService in progress or ready", { inferenceService: inferenceService("llama", "pending") }],
    ["a ReplicaSet refused within the grace (a one-off webhook timeout clears)", {
      replicaSets: [predictorReplicaSet({ model: "llama", replicas: 1, failedCreateSince: NOW - FAILED_CREATE_GRACE_MS + 1000 })],
    }],
    ["a ReplicaSet refused once, with a pod created since that is starting", {
      pods: [pod({ phase: "Pending" })],
      replicaSets: [predictorReplicaSet({ model: "llama", replicas: 2, current: 1, failedCreateSince: NOW - 60_000 })],
    }],
    ["a refused ReplicaSet scaled back to zero", { replicaSets: [predictorReplicaSet({ model: "llama", replicas: 0, failedCreateSince: NOW - 60_000 })] }],
    ["a ReplicaSet that wants a pod and was not refused (the pod is about to appear)", { replicaSets: [predictorReplicaSet({ model: "llama", replicas: 1 })] }],
  ];
  for (const [what, over] of fine) {
    it(`does not fail on ${what}`, () => {
      assert.equal(diagnose(input(over)), null);
    });
  }

  it("names the time to look again when an unschedulable pod's grace ends", () => {
    assert.equal(nextGraceDeadline([unschedulable], GRACE), NOW - 120_000 + GRACE + 1);
    assert.equal(nextGraceDeadline([pod({})], GRACE), undefined);
  });

  it("names the time to look again when a refused ReplicaSet's grace ends, while the model has no pod", () => {
    const refused = predictorReplicaSet({ model: "llama", replicas: 1, failedCreateSince: NOW - 3000 });
    assert.equal(nextGraceDeadline([], GRACE, [refused]), NOW - 3000 + FAILED_CREATE_GRACE_MS + 1);
    assert.equal(nextGraceDeadline([pod({})], GRACE, [refused]), undefined, "a pod decides instead");
  });
});
