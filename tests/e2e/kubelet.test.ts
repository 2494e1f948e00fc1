/**
 * The node stand-in's scheduler and kubelet writes (./kubelet.ts), against a recording API client (pure; runs in
 * `npm test`). The expected strings are kubernetes v1.33.13's, cited in kubelet.ts.
 */
import * as assert from "node:assert/strict";
import type { Kube } from "./kube";
import { goDuration, KubeletPod, kubeletTimingsFromEnv, scheduledEvent } from "./kubelet";

interface Call {
    method: string;
    path: string;
    body: any;
    contentType?: string;
}

function recordingKube(): { kube: Kube; calls: Call[] } {
    const calls: Call[] = [];
    const kube = { request: async (method: string, path: string, body: unknown, contentType?: string) => (calls.push({ method, path, body: structuredClone(body), contentType }), {}) };
    return { kube: kube as unknown as Kube, calls };
}

const pod = (name: string) => ({
    metadata: { namespace: "models", name, uid: `uid-${name}`, resourceVersion: "7" },
    spec: {
        initContainers: [{ name: "storage-initializer", image: "kserve/storage-initializer:v0.20.0", imagePullPolicy: "IfNotPresent" }],
        containers: [{ name: "kserve-container", image: "kserve/huggingfaceserver:v0.20.0", imagePullPolicy: "IfNotPresent", startupProbe: { httpGet: { path: "/health", port: 8080 } } }],
    },
});

const events = (calls: Call[]) => calls.filter((c) => c.path.endsWith("/events")).map((c) => `${c.body.involvedObject.fieldPath} ${c.body.reason}: ${c.body.message}`);
const statuses = (calls: Call[]) => calls.filter((c) => c.path.endsWith("/status")).map((c) => c.body.status);
const condition = (status: any, type: string) => status.conditions.find((c: any) => c.type === type);

async function start(kube: Kube, p: any, node: { name: string; ip: string; images: Set<string> }): Promise<KubeletPod> {
    const kubelet = new KubeletPod(kube, p, node, { imagePullMs: 0, initContainerMs: 0 });
    await kubelet.admit("10.244.0.9");
    assert.equal(await kubelet.runInitContainers(), true);
    assert.equal(await kubelet.startContainers(async () => undefined), true);
    await kubelet.setReady(true);
    return kubelet;
}

describe("e2e node stand-in: what kube-scheduler and a kubelet v1.33 write", () => {
    it("formats durations as Go's time.Duration does", () => {
        assert.deepEqual([0, 150, 999, 1000, 1500, 10_250, 60_000, 123_250, 3_600_000].map(goDuration), ["0s", "150ms", "999ms", "1s", "1.5s", "10.25s", "1m0s", "2m3.25s", "1h0m0s"]);
    });

    it("writes the Scheduled event through events.k8s.io/v1 as default-scheduler", () => {
        const e = scheduledEvent(pod("qwen-predictor-abc"), "e2e-node", Date.parse("2026-12-05T12:00:00.123Z"));
        assert.equal(e.apiVersion, "events.k8s.io/v1");
        assert.deepEqual([e.reason, e.action, e.type, e.note, e.reportingController], ["Scheduled", "Binding", "Normal", "Successfully assigned models/qwen-predictor-abc to e2e-node", "default-scheduler"]);
        assert.equal(e.eventTime, "2026-12-05T12:00:00.123000Z");
        assert.deepEqual(e.regarding, { kind: "Pod", namespace: "models", name: "qwen-predictor-abc", uid: "uid-qwen-predictor-abc", apiVersion: "v1", resourceVersion: "7" });
        assert.match(e.metadata.name, /^qwen-predictor-abc\.[0-9a-f]+$/);
    });

    it("pulls, creates and starts the init container, then the container, and reports each condition in turn", async () => {
        const { kube, calls } = recordingKube();
        const node = { name: "e2e-node", ip: "127.0.0.1", images: new Set<string>() };
        const kubelet = await start(kube, pod("a"), node);
        assert.deepEqual(events(calls).map((e) => e.replace(/ in [0-9.hms]+ \([0-9.hms]+ including waiting\)/, " in T (T including waiting)")), [
            'spec.initContainers{storage-initializer} Pulling: Pulling image "kserve/storage-initializer:v0.20.0"',
            'spec.initContainers{storage-initializer} Pulled: Successfully pulled image "kserve/storage-initializer:v0.20.0" in T (T including waiting). Image size: 1073741824 bytes.',
            "spec.initContainers{storage-initializer} Created: Created container: storage-initializer",
            "spec.initContainers{storage-initializer} Started: Started container storage-initializer",
            'spec.containers{kserve-container} Pulling: Pulling image "kserve/huggingfaceserver:v0.20.0"',
            'spec.containers{kserve-container} Pulled: Successfully pulled image "kserve/huggingfaceserver:v0.20.0" in T (T including waiting). Image size: 1073741824 bytes.',
            "spec.containers{kserve-container} Created: Created container: kserve-container",
            "spec.containers{kserve-container} Started: Started container kserve-container",
        ]);
        const kubeletEvent = calls.find((c) => c.path.endsWith("/events"))!;
        assert.equal(kubeletEvent.path, "/api/v1/namespaces/models/events");
        assert.deepEqual([kubeletEvent.body.source, kubeletEvent.body.count, kubeletEvent.body.reportingComponent], [{ component: "kubelet", host: "e2e-node" }, 1, "kubelet"]);
        assert.match(kubeletEvent.body.firstTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, "core/v1 timestamps are whole seconds");
        assert.deepEqual(kubelet.pulled, ["storage-initializer", "kserve-container"]);

        const s = statuses(calls);
        assert.ok(calls.filter((c) => c.path.endsWith("/status")).every((c) => c.contentType === "application/strategic-merge-patch+json"));
        assert.equal(s[0].phase, "Pending");
        assert.equal(s[0].podIP, undefined, "no address before the sandbox");
        assert.deepEqual(condition(s[0], "PodReadyToStartContainers").status, "False");
        assert.deepEqual(condition(s[0], "Initialized"), { ...condition(s[0], "Initialized"), status: "False", reason: "ContainersNotInitialized", message: "containers with incomplete status: [storage-initializer]" });
        assert.deepEqual(s[0].containerStatuses[0].state, { waiting: { reason: "PodInitializing" } });
        assert.equal(s[1].podIP, "10.244.0.9");
        assert.equal(condition(s[1], "PodReadyToStartContainers").status, "True");
        assert.ok(s.every((x) => !x.conditions.some((c: any) => c.type === "PodScheduled")), "PodScheduled is the binding's");
        const initDone = s.findIndex((x) => x.initContainerStatuses[0].state.terminated);
        assert.deepEqual(
            [s[initDone].initContainerStatuses[0].state.terminated.reason, s[initDone].initContainerStatuses[0].state.terminated.exitCode, s[initDone].initContainerStatuses[0].ready],
            ["Completed", 0, true],
        );
        assert.equal(condition(s[initDone], "Initialized").status, "True");
        assert.equal(condition(s[initDone - 1], "Initialized").status, "False", "not initialized while the init container runs");
        const running = s.at(-2);
        assert.equal(running.phase, "Running");
        assert.ok(running.containerStatuses[0].state.running.startedAt);
        assert.equal(running.containerStatuses[0].started, false, "not started before its startupProbe passes");
        assert.equal(condition(running, "Ready").reason, "ContainersNotReady");
        const ready = s.at(-1);
        assert.deepEqual([ready.containerStatuses[0].ready, ready.containerStatuses[0].started, condition(ready, "Ready").status, condition(ready, "ContainersReady").status], [true, true, "True", "True"]);
        assert.equal(condition(ready, "Ready").reason, null, "a True condition's reason is cleared (merge patch null)");
    });

    it("finds an image already on the node (IfNotPresent): only a Pulled event, nothing pulled", async () => {
        const node = { name: "e2e-node", ip: "127.0.0.1", images: new Set<string>() };
        await start(recordingKube().kube, pod("a"), node);
        const { kube, calls } = recordingKube();
        const second = await start(kube, pod("b"), node);
        assert.deepEqual(second.pulled, []);
        assert.deepEqual(events(calls).filter((e) => /Pull/.test(e)), [
            'spec.initContainers{storage-initializer} Pulled: Container image "kserve/storage-initializer:v0.20.0" already present on machine',
            'spec.containers{kserve-container} Pulled: Container image "kserve/huggingfaceserver:v0.20.0" already present on machine',
        ]);
    });

    it("names an untagged image with the default tag in Pulling/Pulled, as the kubelet applies it", async () => {
        const { kube, calls } = recordingKube();
        const p = pod("c");
        p.spec.containers[0].image = "registry.local:5000/model-server";
        await start(kube, p, { name: "n", ip: "127.0.0.1", images: new Set() });
        assert.ok(events(calls).includes('spec.containers{kserve-container} Pulling: Pulling image "registry.local:5000/model-server:latest"'), events(calls).join("\n"));
    });

    it("keeps a condition's lastTransitionTime while its status stays", async () => {
        const { kube, calls } = recordingKube();
        await start(kube, pod("a"), { name: "n", ip: "127.0.0.1", images: new Set() });
        const times = new Set(statuses(calls).map((x) => condition(x, "PodReadyToStartContainers")).filter((c) => c.status === "True").map((c) => c.lastTransitionTime));
        assert.equal(times.size, 1);
    });

    it("refuses a bad simulated duration with a one-line error naming the variable", () => {
        assert.throws(() => kubeletTimingsFromEnv({ E2E_IMAGE_PULL_MS: "soon" }), /^Error: E2E_IMAGE_PULL_MS must be a number of milliseconds ≥ 0, got "soon"$/);
        assert.deepEqual(kubeletTimingsFromEnv({}), { imagePullMs: 150, initContainerMs: 150 });
    });
});
