/**
 * The serverless loop on a real control plane (tests/e2e/README.md): our objects from `npm run plan`, applied to
 * kube-apiserver, reconciled by the real KServe controller and KEDA operator, the activator as processes, pods run by
 * the node stand-in. Each scenario asserts what a user would see.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { call, percentile, sseData } from "./client";
import { Cluster } from "./cluster";
import { Kube } from "./kube";
import type { PodRecord } from "./node";
import { activatorConfig, devModels, repoRoot } from "./plan";

/** Simulated pod start (model load) of every fake model server, ms. */
const POD_START_MS = Number(process.env.E2E_POD_START_MS ?? 300);
/** Cold starts measured in scenario 3. */
const COLD_STARTS = Number(process.env.E2E_COLD_STARTS ?? 10);
/** KEDA settings for the run, set through the plan's model config (stack defaults: 300 s cooldown, 15 s polling). */
const COOLDOWN_SECONDS = 5;
const POLLING_SECONDS = 1;
const BROKEN_COLD_START_TIMEOUT_SECONDS = 8;

/** Crash-loop tries in scenario 5c (each: a held request, then the pod reported crash-looping). */
const CRASH_TRIES = 3;
/** Bound on pod status written (crash-looping) → the held client's 503, ms: the watch reports it, nothing polls. */
const CRASH_TO_503_BOUND_MS = 2000;
/** Bound on request sent → 503 when the model's pod cannot be created: the activator's grace (10 s) plus this. */
const REFUSED_SLACK_MS = 5000;

/**
 * KEDA warnings scenario 4 tolerates once the write was retried and took effect: a failed scale of the target (kedacore/keda
 * v2.20.2 pkg/scaling/executor/scale_scaledobjects.go, `scaleFromZeroOrIdle` / `scaleToZeroOrIdle`). KEDA reads the
 * Deployment's scale subresource and writes it back (`updateScaleOnScaleTarget`, no retry on conflict) with the
 * resourceVersion it read; kube-apiserver refuses it with 409 Conflict when the Deployment changed in between
 * (k8s.io/kubernetes v1.33 pkg/registry/apps/deployment/storage/storage.go, `scaleUpdatedObjectInfo.UpdatedObject`
 * carries the Scale's resourceVersion to the Deployment), as kube-controller-manager's deployment controller's status
 * writes do while a model scales to or from zero. KEDA records the warning and its next scale loop retries: the
 * activator's next `true` on StreamIsActive (every `activation.heartbeatSeconds` while requests are held) or KEDA's
 * next poll (`pollingSeconds`). Nothing of ours writes the Deployment.
 */
const RETRIED_SCALE_WRITES = ["KEDAScaleTargetActivationFailed", "KEDAScaleTargetDeactivationFailed"];

/** The dev stack's models with short KEDA timings, one whose pods never become ready, one whose pods crash-loop. */
function e2eModels(): any[] {
    const timing = { cooldownSeconds: COOLDOWN_SECONDS, pollingSeconds: POLLING_SECONDS };
    // A GPU model keeps its default hold: the stack refuses one shorter than cluster-autoscaler's node provisioning.
    const dev = devModels().map((m) => ({ ...m, ...timing, ...((m.gpus ?? 0) > 0 ? {} : { coldStartTimeoutSeconds: 60 }) }));
    const broken = { ...dev.find((m) => m.format === "sklearn"), name: "broken", coldStartTimeoutSeconds: BROKEN_COLD_START_TIMEOUT_SECONDS };
    // Its cold start may not time out while 5c holds it: the 503 must come from the crash-loop diagnosis.
    const crashing = { ...dev.find((m) => m.format === "sklearn"), name: "crashing", coldStartTimeoutSeconds: 60 };
    // 5d deletes its ServiceAccount: the ReplicaSet controller cannot create its pod.
    const refused = { ...dev.find((m) => m.format === "sklearn"), name: "refused", coldStartTimeoutSeconds: 60 };
    return [...dev, broken, crashing, refused];
}

describe("the serverless loop on a real control plane (kube-apiserver, KServe, KEDA)", function () {
    this.timeout(15 * 60_000);
    const models = e2eModels();
    const llm = models.find((m) => m.format === "vllm");
    const sklearn = models.find((m) => m.format === "sklearn" && !["broken", "crashing", "refused"].includes(m.name));
    const openaiModel: string = llm.routing.openaiModels[0];
    const cluster = new Cluster({
        // The dev stack file's API network is a placeholder the program refuses; any real network does here.
        planSettings: { models, apiEndpoint: { access: "public", publicAccessCidrs: ["1.2.3.4/32"] } },
        models: {
            [llm.name]: { kind: "openai", modelNames: llm.routing.openaiModels, startDelayMs: POD_START_MS },
            [sklearn.name]: { kind: "v2", modelNames: [sklearn.name], startDelayMs: POD_START_MS },
            broken: { kind: "v2", modelNames: ["broken"], startDelayMs: POD_START_MS, neverReady: true },
            // Not ready until 5c reports its pod recovered (NodeStandIn.recover + FakeModel.becomeReady).
            crashing: { kind: "v2", modelNames: ["crashing"], startDelayMs: POD_START_MS, neverReady: true },
            refused: { kind: "v2", modelNames: ["refused"], startDelayMs: POD_START_MS, neverReady: true },
        },
    });
    let kube: Kube;
    let config: any;
    const report: Record<string, unknown> = {};
    /** When the vLLM model last answered a request (Date.now()), for the idle time before it goes back to 0. */
    let lastRequestAt = 0;

    before(async function () {
        this.timeout(10 * 60_000);
        const started = Date.now();
        try {
            await cluster.start();
        } catch (e) {
            for (const name of ["kube-apiserver", "kserve-controller-manager", "keda-operator", "kube-controller-manager"]) {
                console.error(`--- ${name}\n${cluster.processes.tail(name, 15)}`);
            }
            throw e;
        }
        kube = cluster.kube;
        config = activatorConfig(cluster.plan).config;
        report.startSeconds = (Date.now() - started) / 1000;
        report.startPhases = cluster.timings;
        console.log(`    control plane up in ${report.startSeconds} s: ${JSON.stringify(cluster.timings)} (run dir ${cluster.runDir})`);
    });

    after(async () => {
        const out = path.join(repoRoot, "build", "e2e");
        fs.mkdirSync(out, { recursive: true });
        fs.writeFileSync(path.join(out, "report.json"), JSON.stringify(report, null, 2));
        await cluster.stop();
    });

    const modelOf = (name: string) => config.models.find((m: any) => m.name === name);
    const deploymentPath = (ns: string, name: string) => `/apis/apps/v1/namespaces/${ns}/deployments/${name}`;
    const scaledObjects = () => cluster.plan.all.filter((o) => o.kind === "ScaledObject");
    const proxyUrl = (i = 0) => `http://${cluster.activators[i].ip}:${cluster.activators[i].proxyPort}`;

    async function replicas(so: any): Promise<number> {
        const d = await kube.get(deploymentPath(so.metadata.namespace, so.spec.scaleTargetRef.name));
        return d.spec.replicas ?? 1;
    }

    const atZero = (so: any, timeoutMs: number) => cluster.atZero(so, timeoutMs);

    /**
     * The kubelet phases of a served cold start last at least what the stand-in simulated for its pod (half of it: the
     * activator times each milestone when its watch delivers it), so each milestone was read from the write that ends
     * it and not clamped onto its neighbour: node boot (pod created → scheduled, with node_ready between), each init
     * container's pull (if its image was not on the node) and run (→ initialized), the container's pull (→ image_pulled),
     * the model load (started → ready).
     */
    function assertKubeletPhases(phases: Array<{ phase: string; seconds: number }>, pod: PodRecord, nodeAdded: boolean): void {
        const ms = (name: string) => (phases.find((p) => p.phase === name)?.seconds ?? 0) * 1000;
        const { imagePullMs, initContainerMs } = cluster.node.timings;
        const inits: any[] = pod.pod.spec.initContainers ?? [];
        const pulled = pod.kubelet!.pulled;
        const expect: Record<string, number> = {
            "node_ready + scheduled": nodeAdded ? cluster.node.nodeReadyMs : 0,
            initialized: inits.length * initContainerMs + inits.filter((c) => pulled.includes(c.name)).length * imagePullMs,
            image_pulled: pod.pod.spec.containers.filter((c: any) => pulled.includes(c.name)).length * imagePullMs,
            // The model's load counts from its process start; its `running` status was written this much later.
            ready: POD_START_MS - pod.kubelet!.startWriteLagMs,
        };
        const got: Record<string, number> = { "node_ready + scheduled": ms("node_ready") + ms("scheduled"), initialized: ms("initialized"), image_pulled: ms("image_pulled"), ready: ms("ready") };
        for (const [name, simulated] of Object.entries(expect)) {
            assert.ok(got[name] >= simulated / 2, `${name}: ${got[name]} ms, simulated ${simulated} ms (the ready phase less the ${pod.kubelet!.startWriteLagMs} ms the running status took to write; init containers ${inits.map((c) => c.name).join(", ") || "none"}, pulled ${pulled.join(", ") || "none"})`);
        }
    }

    /**
     * What `kubectl describe pod` shows of a started pod, read back through core/v1: the events in order (the
     * scheduler's, written through events.k8s.io/v1, then the kubelet's per container, init containers first) and
     * every condition True with no leftover reason.
     */
    async function assertPodAsDescribed(pod: PodRecord): Promise<void> {
        const uid = pod.pod.metadata.uid;
        const list = await kube.get(`/api/v1/namespaces/${pod.namespace}/events?fieldSelector=involvedObject.uid=${uid}`);
        // Event names are `<pod>.<UnixNano in hex>`: name order is time order.
        const events = [...list.items].sort((a: any, b: any) => (a.metadata.name < b.metadata.name ? -1 : 1));
        const perContainer = (c: any) => [...(pod.kubelet!.pulled.includes(c.name) ? ["Pulling"] : []), "Pulled", "Created", "Started"];
        const expected = ["Scheduled", ...[...(pod.pod.spec.initContainers ?? []), ...pod.pod.spec.containers].flatMap(perContainer)];
        assert.deepEqual(events.map((e: any) => e.reason), expected, events.map((e: any) => `${e.reason}: ${e.message}`).join("\n"));
        const scheduled = events[0];
        assert.equal(scheduled.message, `Successfully assigned ${pod.namespace}/${pod.name} to ${pod.nodeName}`);
        assert.equal(scheduled.reportingComponent, "default-scheduler");
        assert.match(scheduled.eventTime, /\.\d{6}Z$/, "events.k8s.io/v1 eventTime in microseconds");
        assert.equal(events.at(-1).source.component, "kubelet");
        assert.equal(events.at(-1).involvedObject.fieldPath, `spec.containers{${pod.pod.spec.containers.at(-1).name}}`);
        const live = await kube.get(`/api/v1/namespaces/${pod.namespace}/pods/${pod.name}`);
        const conditions = Object.fromEntries(live.status.conditions.map((c: any) => [c.type, c]));
        for (const type of ["PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready", "PodScheduled"]) {
            assert.equal(conditions[type]?.status, "True", `${type}: ${JSON.stringify(conditions[type])}`);
            assert.equal(conditions[type].reason, undefined, `${type} keeps no reason once True`);
        }
        assert.equal(live.status.phase, "Running");
        for (const s of live.status.initContainerStatuses ?? []) assert.equal(s.state.terminated?.reason, "Completed", `init container ${s.name}`);
    }

    it("1. KServe turns each InferenceService into the Deployment and Service our ScaledObject and activator name", async () => {
        for (const isvc of cluster.plan.all.filter((o) => o.kind === "InferenceService")) {
            const { namespace, name } = isvc.metadata;
            const so = scaledObjects().find((s) => s.metadata.name === name && s.metadata.namespace === namespace);
            const model = modelOf(name);
            const deployment = await Kube.until(`Deployment ${so.spec.scaleTargetRef.name} from KServe`, 60_000, async () => {
                const live = await kube.get(`/apis/serving.kserve.io/v1beta1/namespaces/${namespace}/inferenceservices/${name}`);
                const failed = (live.status?.conditions ?? []).find((c: any) => c.status === "False" && /Runtime|Invalid|Fail/i.test(`${c.reason} ${c.message}`));
                if (failed) throw new Error(`InferenceService ${name}: ${failed.type} ${failed.reason}: ${failed.message}`);
                return kube.find(deploymentPath(namespace, so.spec.scaleTargetRef.name));
            });
            assert.equal(so.spec.scaleTargetRef.kind, "Deployment");
            const service = await Kube.until(`Service ${model.serviceName}`, 30_000, () => kube.find(`/api/v1/namespaces/${namespace}/services/${model.serviceName}`));
            assert.equal(new URL(model.backend).hostname, `${service.metadata.name}.${namespace}.svc.cluster.local`, "the activator's backend is the Service's DNS name");
            const backendPort = Number(new URL(model.backend).port || 80);
            const servicePort = service.spec.ports.find((p: any) => p.port === backendPort);
            assert.ok(servicePort, `Service ${service.metadata.name} has no port ${backendPort} (ports: ${JSON.stringify(service.spec.ports)})`);
            // The Service sends traffic where the model server listens: the port its probes check (KServe declares no
            // containerPort for the runtimes we use, so the probe port is the one place the pod states it).
            const container = deployment.spec.template.spec.containers[0];
            for (const probe of [container.readinessProbe, container.startupProbe].filter(Boolean)) {
                assert.equal(probe.httpGet.port, servicePort.targetPort, `Service targetPort ${servicePort.targetPort} vs the probe port`);
            }
            // The Service selects the Deployment's pods (what the activator's EndpointSlice watch relies on).
            for (const [k, v] of Object.entries<string>(service.spec.selector)) assert.equal(deployment.spec.template.metadata.labels[k], v, `selector ${k}`);
            console.log(`      ${namespace}/${name}: Deployment ${deployment.metadata.name} (${container.image}), Service ${service.metadata.name}:${backendPort} → ${servicePort.targetPort}`);
        }
    });

    it("1b. the activator's pods (from our StatefulSet template, admitted under their namespace's Pod Security level) are behind each of its Services", async () => {
        const sts = cluster.plan.all.find((o) => o.kind === "StatefulSet");
        const services = cluster.plan.all.filter((o) => o.kind === "Service" && o.metadata.namespace === sts.metadata.namespace);
        assert.ok(services.length > 0);
        const ips = cluster.activators.map((a) => a.ip).sort();
        for (const svc of services) {
            const listed = await Kube.until(`EndpointSlices of Service ${svc.metadata.name} listing every replica`, 30_000, async () => {
                const slices = await kube.get(`/apis/discovery.k8s.io/v1/namespaces/${svc.metadata.namespace}/endpointslices?labelSelector=kubernetes.io/service-name=${svc.metadata.name}`);
                const found = slices.items.flatMap((x: any) => (x.endpoints ?? []).filter((e: any) => e.conditions?.ready).flatMap((e: any) => e.addresses)).sort();
                const ports = slices.items.flatMap((x: any) => (x.ports ?? []).map((p: any) => p.name));
                return JSON.stringify(found) === JSON.stringify(ips) && svc.spec.ports.every((p: any) => ports.includes(p.name)) ? found : undefined;
            });
            assert.deepEqual(listed, ips);
        }
    });

    it("2. KEDA reports every ScaledObject Ready, and an idle model sits at 0 replicas", async () => {
        for (const so of scaledObjects()) {
            const { namespace, name } = so.metadata;
            // KEDA sets Ready when it has built the scalers and the HPA, Active after its first check of them.
            await Kube.until(`ScaledObject ${name} Ready and not Active`, 60_000, async () => {
                const o = await kube.get(`/apis/keda.sh/v1alpha1/namespaces/${namespace}/scaledobjects/${name}`);
                const cond = Object.fromEntries((o.status?.conditions ?? []).map((c: any) => [c.type, c]));
                if (cond.Ready?.status === "False") throw new Error(`ScaledObject ${name} not Ready: ${cond.Ready.reason}: ${cond.Ready.message}`);
                if (cond.Active?.status === "True") throw new Error(`ScaledObject ${name} is Active with no request: ${cond.Active.reason}: ${cond.Active.message}`);
                return cond.Ready?.status === "True" && cond.Active?.status === "False";
            });
            await atZero(so, 60_000);
            assert.ok(await kube.find(`/apis/autoscaling/v2/namespaces/${namespace}/horizontalpodautoscalers/keda-hpa-${name}`), `KEDA's HPA for ${name}`);
        }
    });

    it("3. a request to a model at zero: KEDA scales 0 → 1 on the activator's push, the held request is answered (JSON and SSE)", async function () {
        const so = scaledObjects().find((s) => s.metadata.name === llm.name);
        const model = modelOf(llm.name);
        const samples: Record<string, number>[] = [];
        for (let i = 0; i < COLD_STARTS; i++) {
            await atZero(so, 120_000);
            const stream = i % 2 === 1;
            const events: Record<string, number> = {};
            const deployments = kube.watch(`/apis/apps/v1/namespaces/${so.metadata.namespace}/deployments?fieldSelector=metadata.name=${so.spec.scaleTargetRef.name}`, (_t, d) => {
                if ((d.spec.replicas ?? 0) >= 1) events.replicas ??= Date.now();
            });
            const slices = kube.watch(`/apis/discovery.k8s.io/v1/namespaces/${so.metadata.namespace}/endpointslices?labelSelector=kubernetes.io/service-name=${model.serviceName}`, (_t, s) => {
                if ((s.endpoints ?? []).some((e: any) => e.conditions?.ready)) events.endpointReady ??= Date.now();
            });
            await new Promise((r) => setTimeout(r, 300)); // both watches open
            // The last cold start finds no room: the stand-in registers a Node for its pod (as Karpenter would add one).
            const addedNode = i === COLD_STARTS - 1 ? `e2e-node-added-${Date.now()}` : undefined;
            if (addedNode) cluster.node.addNodeForNext(llm.name, addedNode);
            const answer = await call(`${proxyUrl(i % cluster.activators.length)}/v1/chat/completions`, {
                body: { model: openaiModel, messages: [{ role: "user", content: "Say hello." }], stream },
            });
            deployments.stop();
            slices.stop();
            assert.equal(answer.status, 200, answer.body);
            if (stream) {
                assert.match(String(answer.headers["content-type"]), /^text\/event-stream/);
                const data = sseData(answer.body);
                assert.equal(data.at(-1), "[DONE]");
                const text = data.slice(0, -1).map((d) => JSON.parse(d).choices[0].delta.content ?? "").join("");
                assert.equal(text, "Hello from the e2e model.");
            } else {
                const body = JSON.parse(answer.body);
                assert.equal(body.object, "chat.completion");
                assert.equal(body.model, openaiModel);
                assert.equal(body.choices[0].message.content, "Hello from the e2e model.");
            }
            const pod = cluster.node.podsOf(llm.name).at(-1)!;
            assert.ok(events.replicas && events.endpointReady && pod?.readyAt, `timeline incomplete: ${JSON.stringify(events)}`);
            const podStart = pod.readyAt! - pod.seenAt;
            const sample = {
                toReplicas: events.replicas - answer.sentAt,
                toPodSeen: pod.seenAt - answer.sentAt,
                podStart,
                toEndpointReady: events.endpointReady - answer.sentAt,
                toFirstByte: answer.firstByteAt - answer.sentAt,
                overhead: answer.firstByteAt - answer.sentAt - podStart,
            };
            // The activator's own timeline of this cold start (docs/cold-start-timeline.md): replicas_set, pod_created,
            // endpoint_ready and first_byte come from the real controllers and the activator; node_ready (the added
            // node's Ready condition), scheduled (the Scheduled event), initialized, image_pulled (the kubelet's Pulled
            // events), started and ready from what the node stand-in writes as kube-scheduler and a kubelet v1.33 do.
            const served = cluster.activators[i % cluster.activators.length];
            const queue = JSON.parse((await call(`http://${served.ip}:${served.adminPort}/queue`)).body);
            const timeline = queue.models[`${so.metadata.namespace}/${llm.name}`]?.coldStarts?.at(-1);
            assert.equal(timeline?.outcome, "served", `/queue of ${served.name}: ${JSON.stringify(timeline)}`);
            const phases: string[] = timeline.phases.map((p: { phase: string }) => p.phase);
            assert.deepEqual(
                phases,
                ["replicas_set", "pod_created", ...(addedNode ? ["node_ready"] : []), "scheduled", "initialized", "image_pulled", "started", "ready", "endpoint_ready", "first_byte"],
                `every phase, in order: ${phases.join(" → ")}`,
            );
            assert.equal(timeline.pod, pod.name, "the timeline follows the pod that served");
            assert.equal(timeline.node, addedNode ?? pod.nodeName, "and names its node");
            assert.equal(Boolean(timeline.nodeAdded), addedNode !== undefined, `nodeAdded ${timeline.nodeAdded}`);
            assertKubeletPhases(timeline.phases, pod, addedNode !== undefined);
            if (addedNode) await assertPodAsDescribed(pod);
            const sec = (name: string) => timeline.phases.find((p: { phase: string }) => p.phase === name)?.seconds ?? 0;
            const total = timeline.phases.reduce((sum: number, p: { seconds: number }) => sum + p.seconds, 0);
            assert.ok(Math.abs(total * 1000 - (answer.firstByteAt - answer.sentAt)) < 1000, `the phases sum to the client's first byte: ${total} s`);
            Object.assign(sample, {
                ourShareMs: Math.round((sec("replicas_set") + sec("pod_created") + sec("endpoint_ready") + sec("first_byte")) * 1000),
                phasesMs: Object.fromEntries(timeline.phases.map((p: { phase: string; seconds: number }) => [p.phase, Math.round(p.seconds * 1000)])),
            });
            Object.assign(sample, { node: pod.nodeName, initContainers: (pod.pod.spec.initContainers ?? []).map((c: any) => c.name).join(",") || "none", pulled: pod.kubelet!.pulled.join(",") || "none" });
            samples.push(sample);
            lastRequestAt = answer.firstByteAt;
            console.log(`      cold start ${i + 1} (${stream ? "SSE" : "JSON"}, via ${cluster.activators[i % cluster.activators.length].name}): ${JSON.stringify(sample)} ms`);
        }
        const overheads = samples.map((s) => s.overhead);
        const summary = {
            coldStarts: samples.length,
            simulatedPodStartMs: POD_START_MS,
            overheadP50Ms: percentile(overheads, 50),
            overheadP99Ms: percentile(overheads, 99),
            toReplicasP50Ms: percentile(samples.map((s) => s.toReplicas), 50),
            toEndpointReadyP50Ms: percentile(samples.map((s) => s.toEndpointReady), 50),
            samples,
        };
        report.coldStart = summary;
        // Our own share by the activator's timeline (request → pod created, pod ready → first byte): ≤ 1 s p99.
        const ourShare = samples.map((s) => s.ourShareMs);
        Object.assign(summary, { ourShareP50Ms: percentile(ourShare, 50), ourShareP99Ms: percentile(ourShare, 99) });
        console.log(`      our share by the timeline (replicas_set + pod_created + endpoint_ready + first_byte): p50 ${percentile(ourShare, 50)} ms, p99 ${percentile(ourShare, 99)} ms (target ≤ 1000 ms)`);
        assert.ok(percentile(ourShare, 99) <= 1000, `our share p99 ${percentile(ourShare, 99)} ms`);
        console.log(`      control-plane overhead (arrival → first byte minus simulated pod start): p50 ${summary.overheadP50Ms} ms, p99 ${summary.overheadP99Ms} ms over ${samples.length} cold starts (target ≤ 1000 ms)`);

        // The sklearn model through the Open Inference Protocol, once.
        const isoSo = scaledObjects().find((s) => s.metadata.name === sklearn.name);
        await atZero(isoSo, 60_000);
        const infer = await call(`${proxyUrl()}${modelOf(sklearn.name).pathPrefix}/infer`, {
            body: { inputs: [{ name: "input-0", shape: [2, 4], datatype: "FP32", data: [6.8, 2.8, 4.8, 1.4, 6.0, 3.4, 4.5, 1.6] }] },
        });
        assert.equal(infer.status, 200, infer.body);
        assert.deepEqual(JSON.parse(infer.body).outputs[0].shape, [2]);
    });

    it("4. idle past the cooldown: back to 0, nothing of KEDA's in an error state", async () => {
        const so = scaledObjects().find((s) => s.metadata.name === llm.name);
        if ((await replicas(so)) === 0) {
            const warm = await call(`${proxyUrl()}/v1/chat/completions`, { body: { model: openaiModel, messages: [{ role: "user", content: "hi" }] } });
            assert.equal(warm.status, 200, warm.body);
            lastRequestAt = warm.firstByteAt;
        }
        await atZero(so, (COOLDOWN_SECONDS + 30) * 1000);
        report.scaleToZeroSeconds = (Date.now() - lastRequestAt) / 1000;
        console.log(`      ${so.metadata.name} back to 0 replicas ${report.scaleToZeroSeconds} s after its last request (cooldown ${COOLDOWN_SECONDS} s, polling ${POLLING_SECONDS} s)`);
        for (const s of scaledObjects()) {
            const live = await kube.get(`/apis/keda.sh/v1alpha1/namespaces/${s.metadata.namespace}/scaledobjects/${s.metadata.name}`);
            const cond = Object.fromEntries(live.status.conditions.map((c: any) => [c.type, c]));
            assert.equal(cond.Ready?.status, "True", `${s.metadata.name} Ready: ${JSON.stringify(cond.Ready)}`);
            assert.notEqual(cond.Fallback?.status, "True", `${s.metadata.name} is in fallback`);
            assert.notEqual(cond.Paused?.status, "True");
        }
        const events = await kube.get(`/api/v1/events`);
        const kedaWarnings = events.items.filter((e: any) => e.type === "Warning" && /keda/i.test(`${e.source?.component} ${e.reportingComponent}`));
        const retried = kedaWarnings.filter((e: any) => RETRIED_SCALE_WRITES.includes(e.reason));
        assert.deepEqual(kedaWarnings.filter((e: any) => !retried.includes(e)).map((e: any) => `${e.involvedObject.kind} ${e.involvedObject.name}: ${e.reason}: ${e.message}`), [], "KEDA warnings");
        // A failed scale write is tolerated only once a later one took effect: after a failed activation the model got a
        // pod again, after a failed deactivation it is at 0 now.
        for (const e of retried) {
            const so = scaledObjects().find((s) => s.metadata.name === e.involvedObject.name && s.metadata.namespace === e.involvedObject.namespace);
            assert.ok(so, `${e.reason} on ${e.involvedObject.kind} ${e.involvedObject.name}, not one of ours`);
            const when = e.series?.lastObservedTime ?? e.eventTime ?? e.lastTimestamp ?? e.firstTimestamp;
            const at = Date.parse(when);
            assert.ok(Number.isFinite(at), `${e.reason} on ${so.metadata.name} has no time: ${JSON.stringify(e)}`);
            if (e.reason === "KEDAScaleTargetActivationFailed") {
                const later = [...cluster.node.pods.values()].filter((p) => p.name.startsWith(`${so.spec.scaleTargetRef.name}-`) && p.seenAt >= at);
                assert.ok(later.length > 0, `${so.metadata.name}: ${e.message} at ${when}, and no pod was created after it (not retried)`);
            } else {
                await atZero(so, (COOLDOWN_SECONDS + 30) * 1000);
            }
            console.log(`      retried by KEDA's next scale loop: ${so.metadata.name}: ${e.reason}: ${e.message} (${e.series?.count ?? e.count ?? 1}×)`);
        }
        report.retriedScaleWrites = retried.map((e: any) => `${e.involvedObject.name}: ${e.reason}`);
    });

    it("5a. an activator replica down: the other replicas still wake a model at zero", async function () {
        if (cluster.activators.length < 2) this.skip();
        const so = scaledObjects().find((s) => s.metadata.name === llm.name);
        await atZero(so, 60_000);
        await cluster.stopActivator(cluster.activators[0].name);
        const viaOther = await call(`${proxyUrl(1)}/v1/chat/completions`, { body: { model: openaiModel, messages: [{ role: "user", content: "hi" }] } });
        assert.equal(viaOther.status, 200, viaOther.body);
        lastRequestAt = viaOther.firstByteAt;
    });

    it("5a. ... and while it is down, an idle model still goes back to 0 with its ScaledObject Ready", async function () {
        const so = scaledObjects().find((s) => s.metadata.name === llm.name);
        // One trigger, to the activator's scaler Service: KEDA reaches a live replica, so no trigger errors and the idle
        // model goes to zero (with a trigger per replica it would keep its replicas: kedacore/keda v2.20.2
        // pkg/scaling/executor/scale_scaledobjects.go, RequestScale, never scales to zero while a trigger errors).
        assert.deepEqual(so.spec.triggers.map((t: any) => t.type), ["external-push"]);
        await atZero(so, (COOLDOWN_SECONDS + 30) * 1000);
        const live = await kube.get(`/apis/keda.sh/v1alpha1/namespaces/${so.metadata.namespace}/scaledobjects/${so.metadata.name}`);
        assert.equal(live.status.conditions.find((c: any) => c.type === "Ready").status, "True");
    });

    it("5a. the replica restarts: KEDA reconnects to it and its push wakes a model at zero again", async () => {
        const so = scaledObjects().find((s) => s.metadata.name === llm.name);
        const replica = cluster.activators[0];
        if (cluster.processes.get(replica.name)?.hasExited() === false) await cluster.stopActivator(replica.name);
        const restartedAt = Date.now();
        await cluster.startActivator(replica.name);
        // KEDA re-opens the push stream after 2 s, doubling up to 1 min (keda v2.20.2 pkg/scalers/external_scaler.go);
        // until then it reaches the restarted scaler through polling.
        await atZero(so, (COOLDOWN_SECONDS + 90) * 1000);
        const answer = await call(`${proxyUrl(0)}/v1/chat/completions`, { body: { model: openaiModel, messages: [{ role: "user", content: "hi" }] } });
        assert.equal(answer.status, 200, answer.body);
        report.afterRestartColdStartMs = answer.firstByteAt - answer.sentAt;
        console.log(`      after ${replica.name} restarted: a cold start through it answered in ${report.afterRestartColdStartMs} ms (${answer.sentAt - restartedAt} ms after the restart)`);
        const live = await kube.get(`/apis/keda.sh/v1alpha1/namespaces/${so.metadata.namespace}/scaledobjects/${so.metadata.name}`);
        assert.equal(live.status.conditions.find((c: any) => c.type === "Ready").status, "True");
    });

    it("5a2. the replica holding KEDA's connection freezes without a FIN (SIGSTOP): the KEDA relay drops it and KEDA still wakes a model at zero through another replica", async function () {
        // Bound (docs/operations.md, the KEDA relay): the relay closes KEDA's side after 15 s of silence, checked every
        // 5 s (≤ 20 s); KEDA's next poll (pollingSeconds) goes over a new connection to a live replica; then the cold start.
        const boundMs = (20 + POLLING_SECONDS + 15) * 1000;
        this.timeout(boundMs + 120_000);
        const so = scaledObjects().find((s) => s.metadata.name === llm.name);
        await atZero(so, (COOLDOWN_SECONDS + 90) * 1000);
        // The replica whose scaler port has KEDA's connection (by way of the relay and the Service stand-in).
        const scalerPort = cluster.scalerUpstreams()[0]!.port;
        const holder = await Kube.until("the replica holding KEDA's connection", 30_000, async () => {
            const lines = execFileSync("ss", ["-tnpH", "state", "established", `( sport = :${scalerPort} )`], { encoding: "utf8" });
            return cluster.activators.find((a) => {
                const pid = cluster.processes.get(a.name)?.child.pid;
                return lines.includes(`${a.ip}:${scalerPort}`) && lines.split("\n").some((l) => l.includes(`${a.ip}:${scalerPort}`) && l.includes(`pid=${pid},`));
            });
        }, 200);
        const other = cluster.activators.findIndex((a) => a.name !== holder.name);
        const child = cluster.processes.get(holder.name)!.child;
        const relayLog = cluster.processes.get("keda-relay")!.log;
        const relayLogOffset = fs.statSync(relayLog).size;
        child.kill("SIGSTOP");
        const frozenAt = Date.now();
        try {
            const answer = await call(`${proxyUrl(other)}/v1/chat/completions`, { body: { model: openaiModel, messages: [{ role: "user", content: "hi" }] } });
            assert.equal(answer.status, 200, answer.body);
            const wokeMs = answer.firstByteAt - frozenAt;
            report.frozenHolderWakeMs = wokeMs;
            console.log(`      ${holder.name} frozen: a cold start through ${cluster.activators[other]!.name} answered ${wokeMs} ms later (bound ${boundMs} ms)`);
            assert.ok(wokeMs <= boundMs, `woke after ${wokeMs} ms, bound ${boundMs} ms`);
            assert.match(fs.readFileSync(relayLog, "utf8").slice(relayLogOffset), /upstream silent/, "the relay closed the frozen connection");
        } finally {
            child.kill("SIGCONT");
        }
    });

    it("5b. a model that cannot start: scaled 0 → 1, the held request gets 504 cold_start_timeout, and it goes back to 0", async () => {
        const so = scaledObjects().find((s) => s.metadata.name === "broken");
        await atZero(so, 60_000);
        let scaledUp = false;
        const watch = kube.watch(`/apis/apps/v1/namespaces/${so.metadata.namespace}/deployments?fieldSelector=metadata.name=${so.spec.scaleTargetRef.name}`, (_t, d) => {
            if ((d.spec.replicas ?? 0) >= 1) scaledUp = true;
        });
        const pending = call(`${proxyUrl()}${modelOf("broken").pathPrefix}/infer`, { body: { inputs: [] } });
        // Running but never ready is no failure the activator may fail fast on (it may still load): held, no cause.
        await Kube.until("the broken model's pod running (not ready)", 30_000, async () => cluster.node.podsOf("broken").find((p) => p.statusAt !== undefined));
        await new Promise((r) => setTimeout(r, 1000));
        const q = await call(`http://${cluster.activators[0].ip}:${cluster.activators[0].adminPort}/queue`);
        const entry = Object.entries<any>(JSON.parse(q.body).models).find(([key]) => key.endsWith("broken"))?.[1];
        assert.equal(entry?.held, 1, `/queue: ${q.body}`);
        assert.equal(entry.failure, undefined, `/queue: ${q.body}`);
        const answer = await pending;
        watch.stop();
        assert.equal(answer.status, 504, answer.body);
        assert.equal(JSON.parse(answer.body).error.code, "cold_start_timeout");
        const waited = (answer.firstByteAt - answer.sentAt) / 1000;
        assert.ok(waited >= BROKEN_COLD_START_TIMEOUT_SECONDS - 0.5 && waited < BROKEN_COLD_START_TIMEOUT_SECONDS + 5, `answered after ${waited} s`);
        assert.ok(scaledUp, "KEDA scaled the broken model up");
        assert.equal(cluster.node.podsOf("broken").at(-1)?.readyAt, undefined, "its pod never became ready");
        await atZero(so, (COOLDOWN_SECONDS + 40) * 1000);
        const live = await kube.get(`/apis/keda.sh/v1alpha1/namespaces/${so.metadata.namespace}/scaledobjects/${so.metadata.name}`);
        assert.equal(live.status.conditions.find((c: any) => c.type === "Ready").status, "True");
    });

    it("5c. a model whose pod crash-loops: the held and new requests get 503 model_cannot_start naming CrashLoopBackOff; recovered or back at 0, requests are held again", async () => {
        const so = scaledObjects().find((s) => s.metadata.name === "crashing");
        const model = modelOf("crashing");
        const inferUrl = `${proxyUrl()}${model.pathPrefix}/infer`;
        const infer = () => call(inferUrl, { body: { inputs: [{ name: "input-0", shape: [1, 4], datatype: "FP32", data: [6.8, 2.8, 4.8, 1.4] }] } });
        const queue = async (a: (typeof cluster.activators)[number]) => {
            const q = await call(`http://${a.ip}:${a.adminPort}/queue`);
            assert.equal(q.status, 200, q.body);
            const entry = Object.entries<any>(JSON.parse(q.body).models).find(([key]) => key.endsWith("crashing"));
            assert.ok(entry, `/queue of ${a.name} lists the model: ${q.body}`);
            return entry[1];
        };
        const live = () => cluster.activators.filter((a) => cluster.processes.get(a.name)?.hasExited() === false);
        /** Sends a request to the model at zero and asserts it is held (not answered) while its new pod runs, not ready. */
        const heldRequest = async () => {
            const before = new Set(cluster.node.podsOf("crashing").map((p) => p.name));
            let answered: string | undefined;
            const pending = infer().then((a) => ((answered = `${a.status} ${a.body}`), a));
            const pod = await Kube.until("the crashing model's new pod running (not ready)", 30_000, async () => cluster.node.podsOf("crashing").find((p) => !before.has(p.name) && p.statusAt !== undefined));
            await new Promise((r) => setTimeout(r, 500));
            assert.equal(answered, undefined, "the request is held while the pod starts");
            for (const a of live()) assert.equal((await queue(a)).failure, undefined, `${a.name} reports no failure for a pod still starting`);
            return { pending, pod };
        };
        const assertCannotStart = (answer: Awaited<ReturnType<typeof call>>) => {
            assert.equal(answer.status, 503, answer.body);
            assert.ok(Number(answer.headers["retry-after"]) > 0, `Retry-After: ${answer.headers["retry-after"]}`);
            const error = JSON.parse(answer.body).error;
            assert.equal(error.code, "model_cannot_start");
            assert.equal(error.cause, "CrashLoopBackOff");
            assert.ok(error.object.startsWith(`Pod ${model.namespace}/crashing-predictor-`), error.object);
            assert.match(error.objectMessage, /exit code 1/);
            assert.match(error.message, /CrashLoopBackOff/);
        };

        const latencies: number[] = [];
        await atZero(so, 60_000);
        let held = await heldRequest();
        for (let i = 1; i <= CRASH_TRIES; i++) {
            const writtenAt = Date.now();
            await cluster.node.crashLoop(held.pod);
            const answer = await held.pending;
            assertCannotStart(answer);
            const latency = answer.firstByteAt - writtenAt;
            latencies.push(latency);
            // A new request is refused at once, with the same cause.
            const fresh = await infer();
            assertCannotStart(fresh);
            const freshMs = fresh.firstByteAt - fresh.sentAt;
            for (const a of live()) {
                const entry = await queue(a);
                assert.equal(entry.failure?.cause, "CrashLoopBackOff", `${a.name} /queue: ${JSON.stringify(entry)}`);
                assert.equal(entry.held, 0);
            }
            console.log(`      try ${i}: pod status written (CrashLoopBackOff) → held client's 503 in ${latency} ms; a new request's 503 in ${freshMs} ms`);
            assert.ok(latency <= CRASH_TO_503_BOUND_MS, `503 came ${latency} ms after the crash-loop status (bound ${CRASH_TO_503_BOUND_MS} ms)`);
            assert.ok(freshMs < 1000, `a new request waited ${freshMs} ms for its 503`);

            if (i % 2 === 1) {
                // The pod recovers: the failure clears, a request is held (not refused) and answered once it is ready.
                await cluster.node.recover(held.pod);
                await Kube.until("every replica clears the failure", 10_000, async () => (await Promise.all(live().map(queue))).every((e) => e.failure === undefined));
                let answered: string | undefined;
                const pending = infer().then((a) => ((answered = `${a.status}`), a));
                await new Promise((r) => setTimeout(r, 300));
                assert.equal(answered, undefined, "after the recovery a request is held, not refused");
                held.pod.model.becomeReady();
                const ok = await pending;
                assert.equal(ok.status, 200, ok.body);
                console.log(`      try ${i}: the pod recovered; a request was held and answered 200 in ${ok.firstByteAt - ok.sentAt} ms`);
                if (i < CRASH_TRIES) {
                    await atZero(so, (COOLDOWN_SECONDS + 40) * 1000);
                    held = await heldRequest();
                }
            } else {
                // Nobody waits for it any more: KEDA takes it back to 0, the failure goes with its pod, and a request is
                // held again (that request starts the next try).
                await atZero(so, (COOLDOWN_SECONDS + 40) * 1000);
                await Kube.until("every replica clears the failure at 0 replicas", 10_000, async () => (await Promise.all(live().map(queue))).every((e) => e.failure === undefined));
                console.log(`      try ${i}: back to 0 replicas; the failure cleared`);
                if (i < CRASH_TRIES) held = await heldRequest();
            }
        }
        report.crashLoopTo503 = { tries: latencies.length, p50Ms: percentile(latencies, 50), maxMs: Math.max(...latencies), samplesMs: latencies, boundMs: CRASH_TO_503_BOUND_MS };
        console.log(`      crash-loop status written → held client's 503: p50 ${percentile(latencies, 50)} ms, max ${Math.max(...latencies)} ms over ${latencies.length} tries`);
        await atZero(so, (COOLDOWN_SECONDS + 40) * 1000);
    });

    it("5d. a model whose pod cannot be created (its ServiceAccount is gone): the held request gets 503 model_cannot_start naming FailedCreate and the API server's refusal", async () => {
        const so = scaledObjects().find((s) => s.metadata.name === "refused");
        const model = modelOf("refused");
        const namespace: string = so.metadata.namespace;
        const account = cluster.plan.all.find((o) => o.kind === "ServiceAccount" && o.metadata.namespace === namespace && o.metadata.name === "refused-model");
        assert.ok(account, "the plan gives the model its own ServiceAccount");
        await atZero(so, 60_000);
        await kube.request("DELETE", `/api/v1/namespaces/${namespace}/serviceaccounts/refused-model`);
        const infer = () => call(`${proxyUrl()}${model.pathPrefix}/infer`, { body: { inputs: [{ name: "input-0", shape: [1, 4], datatype: "FP32", data: [6.8, 2.8, 4.8, 1.4] }] } });
        const answer = await infer();
        assert.equal(answer.status, 503, answer.body);
        const error = JSON.parse(answer.body).error;
        assert.equal(error.code, "model_cannot_start");
        assert.equal(error.cause, "FailedCreate");
        assert.ok(error.object.startsWith(`ReplicaSet ${namespace}/refused-predictor-`), error.object);
        // kube-apiserver's ServiceAccount admission, as the ReplicaSet controller recorded it.
        assert.match(error.objectMessage, /forbidden: error looking up service account .*"refused-model" not found/);
        const waited = answer.firstByteAt - answer.sentAt;
        console.log(`      request sent → 503 FailedCreate in ${waited} ms (grace 10 s): ${error.objectMessage}`);
        // Not before the grace: the condition's lastTransitionTime is in whole seconds, so up to 1 s of it may pass early.
        assert.ok(waited >= 9_000 && waited <= 10_000 + REFUSED_SLACK_MS, `${waited} ms`);
        report.failedCreateTo503Ms = waited;

        // The ServiceAccount back: the next pod is created, the failure clears, requests are held again.
        await kube.apply(account);
        await atZero(so, (COOLDOWN_SECONDS + 40) * 1000);
        let answered: string | undefined;
        const pending = infer().then((a) => ((answered = `${a.status} ${a.body}`), a));
        await Kube.until("the model's pod created once its ServiceAccount is back", 30_000, async () => cluster.node.podsOf("refused").length > 0);
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(answered, undefined, "held again, not refused");
        void pending.catch(() => undefined);
    });
});
