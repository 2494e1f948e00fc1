/**
 * "A new model boots no GPU node" on the real Karpenter controller (tests/e2e/README.md, "Karpenter"): Karpenter's core
 * with its KWOK cloud provider (sigs.k8s.io/karpenter v1.14.1 `kwok/`, built by tests/e2e/build.sh) against the suite's
 * control plane (./cluster.ts: kube-apiserver, kube-controller-manager, KServe, KEDA, the activators), our dev plan's
 * NodePool (requirements, taints, limits, disruption as planned) with its `nodeClassRef` pointed at a KWOKNodeClass of
 * the same name, and p4d-shaped instance types.
 *
 * Simulated, and why:
 * - kube-scheduler's verdict. None is built; for a pending pod that asks for `nvidia.com/gpu` the scheduler stand-in
 *   below writes the `PodScheduled=False` condition with reason `Unschedulable` that kube-scheduler writes
 *   (kubernetes v1.33.13 pkg/scheduler/schedule_one.go L1011-L1094, `handleSchedulingFailure`), which is what
 *   Karpenter reads (sigs.k8s.io/karpenter v1.14.1 pkg/utils/pod/scheduling.go L102-L108 `IsProvisionable`,
 *   L125-L132 `FailedToSchedule`). It is the verdict a real scheduler reaches here: the only node, the node
 *   stand-in's, lacks the labels the GPU pods select (asserted below).
 * - The KWOKNodeClass's `Ready` condition: the KWOK provider has no node class controller; Karpenter uses a NodePool only
 *   once its node class is Ready, and a missing condition reads as Unknown (pkg/controllers/nodepool/readiness/controller.go
 *   L95-L104, pkg/controllers/provisioning/provisioner.go L280; awslabs/operatorpkg status/condition.go L46-L51).
 * - Nothing runs the nodes KWOK creates (no kubelet, no KWOK stage controller): the assertions stop at the NodeClaim,
 *   Karpenter's decision to buy a node.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { a100InstanceTypes } from "../../components/domain/nodeGroups";
import { nodeCacheStorageClass, nodeCacheVolume } from "../../components/manifests/model/nodeCache";
import { bindingEnforcedAfterMs } from "../../components/manifests/model/firstReplicaAdmission";
import { call } from "./client";
import { builtComponents, Cluster } from "./cluster";
import { plannedReleases } from "./helm";
import { Kube } from "./kube";
import { devModels } from "./plan";
import { freePort } from "./processes";

/**
 * Karpenter's batch window (settings.batchIdleDuration / batchMaxDuration): the plan's karpenter values when set, else
 * the controller's defaults, 1 s and 10 s (sigs.k8s.io/karpenter v1.14.1 pkg/operator/options/options.go L129-L130;
 * the v1.14.1 chart's defaults are the same).
 */
function batchWindowSeconds(values: any): { idle: number; max: number } {
    const seconds = (d: string | undefined, fallback: number) => {
        if (d === undefined) return fallback;
        const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(d);
        if (!m) throw new Error(`karpenter settings: cannot read the duration ${JSON.stringify(d)}`);
        return Number(m[1]) * ({ ms: 0.001, s: 1, m: 60 } as const)[m[2] as "ms" | "s" | "m"];
    };
    return { idle: seconds(values?.settings?.batchIdleDuration, 1), max: seconds(values?.settings?.batchMaxDuration, 10) };
}

/**
 * The instance types the KWOK provider offers (its `--instance-types-file-path` JSON: kwok/cloudprovider/helpers.go
 * `InstanceTypeOptions`): the A100 types the stack knows, shaped as EC2 describes them (96 vCPU, 1152 GiB; GPUs from
 * components/domain/nodeGroups.ts), on-demand and spot in one zone, and a cheaper 1-GPU type that our NodePool's
 * instance-type requirement must keep Karpenter from choosing.
 */
function instanceTypes(zone: string): unknown[] {
    const offerings = (price: number) =>
        ["on-demand", "spot"].map((capacityType, i) => ({
            Price: price * (i === 0 ? 1 : 0.4),
            Available: true,
            Requirements: [
                { key: "karpenter.sh/capacity-type", operator: "In", values: [capacityType] },
                { key: "topology.kubernetes.io/zone", operator: "In", values: [zone] },
            ],
        }));
    const a100 = Object.entries(a100InstanceTypes).map(([name, t], i) => ({
        name,
        offerings: offerings(32.77 + i * 8),
        architecture: "amd64",
        operatingSystems: ["linux"],
        resources: { cpu: "96", memory: "1152Gi", pods: "737", "nvidia.com/gpu": String(t.gpus) },
    }));
    return [...a100, { name: "g5.xlarge", offerings: offerings(1.006), architecture: "amd64", operatingSystems: ["linux"], resources: { cpu: "4", memory: "16Gi", "nvidia.com/gpu": "1" } }];
}

const requestsGpu = (pod: any) => pod.spec.containers.some((c: any) => c.resources?.limits?.["nvidia.com/gpu"] ?? c.resources?.requests?.["nvidia.com/gpu"]);

describe("Karpenter (KWOK provider) on a real control plane: a new model boots no GPU node", function () {
    this.timeout(10 * 60_000);
    const timing = { cooldownSeconds: 5, pollingSeconds: 1 };
    const models = devModels().map((m) => ({ ...m, ...timing }));
    const gpuModel = models.find((m) => (m.gpus ?? 0) > 0);
    const isNewModel = (o: any) =>
        // (The dev stack's model names are unique across its namespaces.)
        ((o.kind === "InferenceService" || o.kind === "ScaledObject") && o.metadata.name === gpuModel.name) ||
        (o.kind === "ValidatingAdmissionPolicyBinding" && o.spec.paramRef?.name === gpuModel.name);
    const cluster = new Cluster({
        planSettings: { models, apiEndpoint: { access: "public", publicAccessCidrs: ["1.2.3.4/32"] } },
        // The GPU model's pods are not the node stand-in's to run: they stay pending, for Karpenter.
        models: Object.fromEntries(models.filter((m) => m !== gpuModel).map((m) => [m.name, { kind: "v2" as const, modelNames: [m.name], startDelayMs: 300 }])),
        // The NodePool is applied by the test, on the KWOK node class (nodeClassRef's group and kind are immutable).
        deferred: (o) => isNewModel(o) || o.kind === "NodePool",
    });
    let kube: Kube;
    let nodePool: any;
    let batch = { idle: 1, max: 10 };
    /** Every NodeClaim Karpenter created, with when the suite saw it (Date.now()). */
    const nodeClaims: { at: number; claim: any }[] = [];
    /** Every pod of the new model that the API server admitted: when the suite saw it, and saw it deleted (Date.now()). */
    const newModelPods = new Map<string, { seenAt: number; goneAt?: number }>();
    const watches: { stop(): void }[] = [];

    before(async function () {
        try {
            await cluster.start();
        } catch (e) {
            for (const name of ["kube-apiserver", "kserve-controller-manager", "keda-operator"]) console.error(`--- ${name}\n${cluster.processes.tail(name, 15)}`);
            throw e;
        }
        kube = cluster.kube;
        const bin = builtComponents()["karpenter-kwok"]!;
        // Karpenter's KWOK node class CRD, from the module at the pinned tag (the karpenter.sh CRDs came from ../shared).
        const crd = YAML.parse(fs.readFileSync(path.join(bin, "..", "share", "karpenter.kwok.sh_kwoknodeclasses.yaml"), "utf8"));
        await kube.apply(crd, "e2e");
        await Kube.until("the KWOKNodeClass CRD Established", 60_000, async () =>
            (await kube.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`)).status?.conditions?.some((c: any) => c.type === "Established" && c.status === "True"),
        );
        const planned = cluster.plan.all.find((o) => o.kind === "NodePool");
        assert.ok(planned, "the dev plan has a Karpenter NodePool");
        const nodeClass = { apiVersion: "karpenter.kwok.sh/v1alpha1", kind: "KWOKNodeClass", metadata: { name: planned.spec.template.spec.nodeClassRef.name } };
        await kube.apply(nodeClass, "e2e");
        const now = new Date().toISOString();
        await kube.request("PATCH", `/apis/karpenter.kwok.sh/v1alpha1/kwoknodeclasses/${nodeClass.metadata.name}/status`, {
            status: { conditions: [{ type: "Ready", status: "True", reason: "Ready", message: "", lastTransitionTime: now, observedGeneration: 1 }] },
        }, "application/merge-patch+json");
        // Our NodePool as planned, on the KWOK node class instead of the EC2NodeClass.
        nodePool = { ...planned, spec: { ...planned.spec, template: { ...planned.spec.template, spec: { ...planned.spec.template.spec, nodeClassRef: { group: "karpenter.kwok.sh", kind: "KWOKNodeClass", name: nodeClass.metadata.name } } } } };
        await kube.apply(nodePool);

        const karpenter = plannedReleases(path.join(cluster.runDir, "plan")).find((r) => /(^|\/)karpenter$/.test(r.chart));
        batch = batchWindowSeconds(karpenter?.values);
        const typesFile = path.join(cluster.runDir, "kwok-instance-types.json");
        fs.writeFileSync(typesFile, JSON.stringify(instanceTypes("us-west-2a"), null, 2));
        const adminKubeconfig = cluster.adminKubeconfig;
        const p = cluster.processes.start("karpenter", path.join(bin, "karpenter-kwok"), [
            "--disable-leader-election",
            `--metrics-port=${await freePort()}`,
            `--health-probe-port=${await freePort()}`,
            `--instance-types-file-path=${typesFile}`,
            `--batch-idle-duration=${batch.idle}s`,
            `--batch-max-duration=${batch.max}s`,
            "--log-level=debug",
        ], { env: { KUBECONFIG: adminKubeconfig } });

        // kube-scheduler's verdict for GPU pods (see the file comment): the node stand-in's node is no GPU node.
        watches.push(kube.watch("/api/v1/pods", (type, pod) => {
            if (pod.metadata.labels?.["serving.kserve.io/inferenceservice"] === gpuModel.name) {
                const seen = newModelPods.get(pod.metadata.name) ?? { seenAt: Date.now() };
                if (type === "DELETED" || pod.metadata.deletionTimestamp) seen.goneAt ??= Date.now();
                newModelPods.set(pod.metadata.name, seen);
            }
            if (type === "DELETED" || pod.spec.nodeName || pod.metadata.deletionTimestamp || !requestsGpu(pod)) return;
            if ((pod.status?.conditions ?? []).some((c: any) => c.type === "PodScheduled")) return;
            void kube.request("PATCH", `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/status`, {
                status: {
                    conditions: [{
                        type: "PodScheduled",
                        status: "False",
                        reason: "Unschedulable",
                        message: "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
                        lastProbeTime: null,
                        lastTransitionTime: new Date().toISOString(),
                    }],
                },
            }, "application/merge-patch+json").catch(() => undefined);
        }));
        watches.push(kube.watch("/apis/karpenter.sh/v1/nodeclaims", (type, claim) => {
            if (type === "ADDED") nodeClaims.push({ at: Date.now(), claim });
        }));
        await Kube.until(`NodePool ${nodePool.metadata.name} Ready (Karpenter validated it and its node class)`, 90_000, async () => {
            if (p.hasExited()) throw new Error(`karpenter exited:\n${cluster.processes.tail("karpenter")}`);
            const live = await kube.get(`/apis/karpenter.sh/v1/nodepools/${nodePool.metadata.name}`);
            return live.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True");
        }, 250).catch((e) => {
            throw new Error(`${e.message}\nkarpenter log:\n${cluster.processes.tail("karpenter", 30)}`);
        });
    });

    after(async () => {
        for (const w of watches) w.stop();
        await cluster.stop();
    });

    const isvc = () => cluster.plan.all.find((o) => o.kind === "InferenceService" && o.metadata.name === gpuModel.name);

    /** A pending pod as the model's predictor would be: its node selector, tolerations and GPU request. */
    function gpuPod(name: string, extra: { volumes?: any[] } = {}): any {
        const predictor = isvc().spec.predictor;
        return {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name, namespace: "default" },
            spec: {
                nodeSelector: predictor.nodeSelector,
                tolerations: predictor.tolerations,
                containers: [{ name: "kserve-container", image: "e2e/none", resources: predictor.model.resources }],
                ...extra,
            },
        };
    }

    async function nodeClaimAfter(since: number, what: string, timeoutMs: number): Promise<any> {
        return Kube.until(what, timeoutMs, async () => nodeClaims.find((n) => n.at >= since)?.claim, 100).catch((e) => {
            throw new Error(`${e.message}\nkarpenter log:\n${cluster.processes.tail("karpenter", 40)}`);
        });
    }

    /** The NodeClaim bought for our pool: of our NodePool, a p4d-shaped type, our taints. */
    async function assertOurs(claim: any): Promise<void> {
        const live = await Kube.until(`NodeClaim ${claim.metadata.name} launched`, 30_000, async () => {
            const c = await kube.find(`/apis/karpenter.sh/v1/nodeclaims/${claim.metadata.name}`);
            return c?.metadata?.labels?.["node.kubernetes.io/instance-type"] ? c : undefined;
        });
        assert.equal(live.metadata.labels["karpenter.sh/nodepool"], nodePool.metadata.name);
        const planned = nodePool.spec.template.spec;
        const wanted = planned.requirements.find((r: any) => r.key === "node.kubernetes.io/instance-type").values;
        assert.ok(wanted.includes(live.metadata.labels["node.kubernetes.io/instance-type"]), `instance type ${live.metadata.labels["node.kubernetes.io/instance-type"]} is one of ${wanted}`);
        assert.deepEqual(live.spec.taints, planned.taints);
        for (const [k, v] of Object.entries(nodePool.spec.template.metadata.labels)) assert.equal(live.metadata.labels[k], v, `NodeClaim label ${k}`);
    }

    const poolNodes = async () => (await kube.get(`/api/v1/nodes?labelSelector=karpenter.sh%2Fnodepool%3D${nodePool.metadata.name}`)).items as any[];

    /**
     * Deletes the pod, the NodeClaim and its KWOK node, and waits until Karpenter counts no GPU in use by the pool, so
     * the pool's limit (the dev plan's: one p4d) has room again. The node is waited for first: the KWOK provider creates
     * it in the background after `Create` returns (kwok/cloudprovider/cloudprovider.go L77-L84), and one created after
     * its NodeClaim went would keep counting against the limit.
     */
    async function cleanUp(pod: string, claim: any): Promise<void> {
        await kube.request("DELETE", `/api/v1/namespaces/default/pods/${pod}?gracePeriodSeconds=0`).catch(() => undefined);
        await Kube.until(`the KWOK node of ${claim.metadata.name}`, 30_000, async () => (await poolNodes()).length > 0, 100);
        await kube.request("DELETE", `/apis/karpenter.sh/v1/nodeclaims/${claim.metadata.name}`).catch(() => undefined);
        await Kube.until("no NodeClaim and no node of the pool left, no GPU counted against its limit", 90_000, async () => {
            if ((await kube.get("/apis/karpenter.sh/v1/nodeclaims")).items.length > 0) return false;
            for (const n of await poolNodes()) if (!n.metadata.deletionTimestamp) await kube.request("DELETE", `/api/v1/nodes/${n.metadata.name}`).catch(() => undefined);
            if ((await poolNodes()).length > 0) return false;
            const used = (await kube.get(`/apis/karpenter.sh/v1/nodepools/${nodePool.metadata.name}`)).status?.resources?.["nvidia.com/gpu"];
            return used === undefined || used === "0";
        }, 250).catch(async (e) => {
            const left = (await kube.get("/apis/karpenter.sh/v1/nodeclaims")).items.map((c: any) => `${c.metadata.name} finalizers=${c.metadata.finalizers}`);
            const nodes = (await poolNodes()).map((n) => `${n.metadata.name} finalizers=${n.metadata.finalizers}`);
            throw new Error(`${e.message}: NodeClaims ${left.join(", ")}; nodes ${nodes.join(", ")}\nkarpenter log:\n${cluster.processes.tail("karpenter", 30)}`);
        });
    }

    it("the GPU pods select labels the node stand-in's node lacks (so kube-scheduler would find them unschedulable)", async () => {
        const node = await kube.get("/api/v1/nodes/e2e-node");
        const selector: Record<string, string> = isvc().spec.predictor.nodeSelector ?? {};
        assert.ok(Object.keys(selector).length > 0, "the GPU predictor has a node selector");
        assert.ok(Object.entries(selector).some(([k, v]) => node.metadata.labels?.[k] !== v));
    });

    it("(a) positive control: a pending GPU pod gets a NodeClaim of a p4d-shaped type from our NodePool", async () => {
        const since = Date.now();
        await kube.request("POST", "/api/v1/namespaces/default/pods", gpuPod("gpu-probe"));
        const claim = await nodeClaimAfter(since, "a NodeClaim for the pending GPU pod", 60_000);
        console.log(`    pod created → NodeClaim ${claim.metadata.name}: ${nodeClaims.find((n) => n.claim === claim)!.at - since} ms (batch idle ${batch.idle} s, max ${batch.max} s)`);
        await assertOurs(claim);
        await cleanUp("gpu-probe", claim);
    });

    it("(d) a pending GPU pod whose claim's StorageClass has no provisioner (WaitForFirstConsumer) gets a NodeClaim too", async () => {
        await kube.apply(nodeCacheStorageClass());
        const volume = nodeCacheVolume();
        const since = Date.now();
        const pod = await kube.request("POST", "/api/v1/namespaces/default/pods", gpuPod("gpu-probe-cache", { volumes: [volume] }));
        // The claim the ephemeral-volume controller makes (`<pod>-<volume>`, owned by the pod; not run in this cluster).
        await kube.request("POST", "/api/v1/namespaces/default/persistentvolumeclaims", {
            apiVersion: "v1",
            kind: "PersistentVolumeClaim",
            metadata: { name: `${pod.metadata.name}-${volume.name}`, namespace: "default", ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: pod.metadata.name, uid: pod.metadata.uid, controller: true, blockOwnerDeletion: true }] },
            spec: volume.ephemeral.volumeClaimTemplate.spec,
        });
        const claim = await nodeClaimAfter(since, "a NodeClaim for the GPU pod with the node-cache claim", 60_000);
        await assertOurs(claim);
        await cleanUp("gpu-probe-cache", claim);
    });

    it("(b) a NEW GPU model: the admission policy refuses its first pod, KEDA takes it to 0, no NodeClaim past Karpenter's batch window", async () => {
        const since = Date.now();
        const ns: string = isvc().metadata.namespace;
        const objects = cluster.plan.all.filter(isNewModel);
        // As Pulumi orders them (components/resources/serverlessModel.ts): the binding, the InferenceService, then the
        // ScaledObject once the InferenceService exists.
        // The ReplicaSet controller reports a refused create in the ReplicaSet's ReplicaFailure condition (read as the
        // activator reads it), each message once.
        const refusals = new Set<string>();
        const rsWatch = kube.watch(`/apis/apps/v1/namespaces/${ns}/replicasets`, (_type, rs) => {
            if (!rs.metadata.name.startsWith(`${gpuModel.name}-predictor-`)) return;
            for (const c of rs.status?.conditions ?? []) if (c.type === "ReplicaFailure" && c.status === "True") refusals.add(c.message.replace(/^.*denied request: /, ""));
        });
        watches.push(rsWatch);
        // The binding first, then the InferenceService `bindingEnforcedAfterMs` later, as the stack orders them
        // (ServerlessModel: the InferenceService depends on the binding and waits that long after it was created).
        // kube-apiserver enforces a new binding only once its policy source has recompiled, which it checks for once a
        // second (k8s.io/apiserver v0.33.13 pkg/admission/plugin/policy/generic/policy_source.go L193-L198,
        // L229-L253): a pod created in that gap is admitted. Asserted: when the stack's wait is over, the real API
        // server refuses a dry-run GPU pod of the model.
        const bindingAt = Date.now();
        await kube.apply(objects.find((o) => o.kind === "ValidatingAdmissionPolicyBinding"));
        const probe = { apiVersion: "v1", kind: "Pod", metadata: { name: "first-replica-probe", namespace: ns, labels: { "serving.kserve.io/inferenceservice": gpuModel.name } }, spec: gpuPod("x").spec };
        const refusesProbe = async () => {
            try {
                await kube.request("POST", `/api/v1/namespaces/${ns}/pods?dryRun=All`, probe);
                return false;
            } catch (e) {
                if (/ValidatingAdmissionPolicy/.test(String(e))) return true;
                throw e;
            }
        };
        let inForceAfterMs: number | undefined;
        while (Date.now() - bindingAt < bindingEnforcedAfterMs) {
            if (inForceAfterMs === undefined && (await refusesProbe())) inForceAfterMs = Date.now() - bindingAt;
            await new Promise((r) => setTimeout(r, 50));
        }
        assert.ok(await refusesProbe(), `the binding is not in force ${bindingEnforcedAfterMs} ms after it was applied (the stack's wait before the InferenceService)`);
        console.log(`    binding applied → in force: ${inForceAfterMs ?? "≥ " + (Date.now() - bindingAt)} ms (the stack waits ${bindingEnforcedAfterMs} ms)`);
        await kube.apply(objects.find((o) => o.kind === "InferenceService"));
        await Kube.until("the ReplicaSet controller's pod create refused by the first-replica policy", 60_000, async () => refusals.size > 0, 100);
        console.log(`    refused by the real API server: ${[...refusals].join(" | ")}`);
        await kube.apply(objects.find((o) => o.kind === "ScaledObject"));
        const active = await Kube.until("KEDA sets the ScaledObject's Active False", 60_000, async () => {
            const so = await kube.get(`/apis/keda.sh/v1alpha1/namespaces/${ns}/scaledobjects/${gpuModel.name}`);
            return so.status?.conditions?.find((c: any) => c.type === "Active" && c.status === "False");
        }, 250);
        const target = objects.find((o) => o.kind === "ScaledObject").spec.scaleTargetRef.name;
        const deployment = await kube.get(`/apis/apps/v1/namespaces/${ns}/deployments/${target}`);
        assert.equal(deployment.spec.replicas, 0, "KEDA scaled the new model to 0");
        const quietSince = Date.now();
        // Past Karpenter's window: a pod pending at the last moment would be batched for at most `max` s.
        const waitMs = (batch.max + batch.idle + 4) * 1000;
        await new Promise((r) => setTimeout(r, waitMs));
        rsWatch.stop();
        console.log(`    Active=False (${active.reason}) ${quietSince - since} ms after the InferenceService; the policy's refusals: ${[...refusals].join(" | ")}`);
        // A pod admitted between KEDA's Active=False and the ReplicaSet's scale-down lives until the ReplicaSet controller
        // deletes it (reported, see docs/karpenter.md); what the user pays for is a NodeClaim.
        const slipped = [...newModelPods.values()].map((p) => (p.goneAt === undefined ? "never deleted" : `${p.goneAt - p.seenAt} ms`));
        console.log(`    pods of the new model admitted before its scale to 0: ${slipped.length}${slipped.length ? ` (lived ${slipped.join(", ")})` : ""}`);
        assert.ok([...newModelPods.values()].every((p) => p.goneAt !== undefined), "every pod of the new model admitted before the scale to 0 is gone");
        assert.deepEqual(nodeClaims.filter((n) => n.at >= since).map((n) => n.claim.metadata.name), [], `no NodeClaim in the ${waitMs / 1000} s after KEDA's check`);
    });

    it("(c) then a request to it (cold start) gets a NodeClaim: later pods pass the admission policy", async () => {
        const a = cluster.activators[0]!;
        const since = Date.now();
        // Held by the activator (no node will come up): the answer is not awaited; stopping the cluster ends it.
        void call(`http://${a.ip}:${a.proxyPort}/v1/chat/completions`, {
            body: { model: gpuModel.routing.openaiModels[0], messages: [{ role: "user", content: "hi" }] },
            timeoutMs: 5 * 60_000,
        }).catch(() => undefined);
        const claim = await nodeClaimAfter(since, "a NodeClaim for the new model's cold start", 90_000);
        console.log(`    request → NodeClaim ${claim.metadata.name}: ${nodeClaims.find((n) => n.claim === claim)!.at - since} ms`);
        assert.ok([...newModelPods.values()].some((p) => p.seenAt >= since), "the cold start's pod was admitted");
        await assertOurs(claim);
    });
});
