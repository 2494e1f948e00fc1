/**
 * The node-local cache on a real control plane (tests/e2e/README.md, "Node cache"): etcd, kube-apiserver (RBAC, Pod
 * Security admission) and kube-controller-manager running the PersistentVolume binder, ephemeral-volume,
 * PVC/PV-protection, garbage-collector and ServiceAccount controllers; the node-cache agent as a process
 * (`activator/dist/nodeCacheAgent/main.js agent`) with a token of its own ServiceAccount, so our ClusterRole is all it
 * may do. The objects are those of `npm run plan -- --stack dev --set nodeCache=true`.
 *
 * Simulated: the scheduler's part of binding. No kube-scheduler is built; the test does what its VolumeBinding plugin
 * does for a WaitForFirstConsumer claim of a static volume (kubernetes v1.33 pkg/scheduler/framework/plugins/
 * volumebinding/binder.go `bindAPIUpdate`: set the chosen PV's claimRef, the PV controller completes the binding) and
 * then binds the pod to the node. No kubelet: nothing mounts the volume or runs the DaemonSet.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import { builtComponents } from "./cluster";
import { Kube, KubeError } from "./kube";
import { renderPlan, repoRoot, type PlanObjects } from "./plan";
import { apiServerArgs, etcdArgs, freePort, makeCertificates, Processes } from "./processes";

const nodeName = "ip-10-0-7-9.us-west-2.compute.internal";

describe("node cache on a real control plane (kube-apiserver, PV controller, the agent)", function () {
    this.timeout(240_000);
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-serverless-e2e-cache-"));
    const processes = new Processes(runDir);
    let kube: Kube;
    let agentKube: Kube;
    let plan: PlanObjects;
    let server = "";
    let ca = "";
    const find = (kind: string, name?: string) => plan.all.find((o) => o?.kind === kind && (name === undefined || o.metadata?.name === name));

    function writeKubeconfig(file: string, token: string): void {
        fs.writeFileSync(
            file,
            YAML.stringify({
                apiVersion: "v1",
                kind: "Config",
                clusters: [{ name: "e2e", cluster: { server, "certificate-authority": path.join(runDir, "pki", "ca.crt") } }],
                users: [{ name: "e2e", user: { token } }],
                contexts: [{ name: "e2e", context: { cluster: "e2e", user: "e2e" } }],
                "current-context": "e2e",
            }),
        );
    }

    before(async function () {
        const bins = builtComponents();
        if (!fs.existsSync(path.join(repoRoot, "activator/dist/nodeCacheAgent/main.js"))) throw new Error("activator/dist/nodeCacheAgent/main.js is missing: npm run build");
        plan = renderPlan("dev", path.join(runDir, "plan"), { nodeCache: true, apiEndpoint: { access: "public", publicAccessCidrs: ["1.2.3.4/32"] } });
        makeCertificates(path.join(runDir, "pki"));
        const pki = (f: string) => path.join(runDir, "pki", f);
        const ports = await Promise.all([0, 1, 2].map(() => freePort()));
        processes.start("etcd", path.join(bins.etcd, "etcd"), etcdArgs(path.join(runDir, "etcd"), ports[0]!, ports[1]!));
        const { token, args } = apiServerArgs({ runDir, etcdPort: ports[0]!, apiPort: ports[2]!, pki });
        processes.start("kube-apiserver", path.join(bins.kubernetes, "kube-apiserver"), args);
        server = `https://127.0.0.1:${ports[2]}`;
        ca = fs.readFileSync(pki("ca.crt"), "utf8");
        kube = new Kube({ server, ca, token });
        await Kube.until("kube-apiserver /readyz", 120_000, async () => {
            if (processes.get("kube-apiserver")!.hasExited()) throw new Error(`kube-apiserver exited:\n${processes.tail("kube-apiserver")}`);
            return (await kube.get("/readyz")) === "ok";
        }, 250);
        const admin = path.join(runDir, "admin.kubeconfig");
        writeKubeconfig(admin, token);
        processes.start("kube-controller-manager", path.join(bins.kubernetes, "kube-controller-manager"), [
            `--kubeconfig=${admin}`,
            "--leader-elect=false",
            "--secure-port=0",
            "--controllers=persistentvolume-binder,ephemeral-volume,pvc-protection,pv-protection,garbagecollector,serviceaccount,namespace",
            "--pvclaimbinder-sync-period=1s",
        ]);
        // Our objects: the cache's StorageClass, namespace, RBAC, agent Deployment and DaemonSet, and the model namespace.
        for (const o of [
            find("Namespace", "node-cache"),
            find("Namespace", "models"),
            find("StorageClass", "gpu-serverless-node-cache"),
            ...plan.all.filter((o) => o?.metadata?.namespace === "node-cache"),
            find("ClusterRole", "gpu-serverless-node-cache-agent"),
            find("ClusterRoleBinding", "gpu-serverless-node-cache-agent"),
        ]) {
            assert.ok(o, "the plan with nodeCache=true has every node-cache object");
            await kube.apply(o);
        }
        // A GPU node of the Karpenter pool, as it registers (labels from the NodePool template; no GPUs reported yet).
        const nodePool = find("NodePool");
        const labels = { ...nodePool.spec.template.metadata.labels, "kubernetes.io/hostname": nodeName, "karpenter.sh/nodepool": nodePool.metadata.name };
        await kube.request("POST", "/api/v1/nodes", { apiVersion: "v1", kind: "Node", metadata: { name: nodeName, labels }, spec: { taints: nodePool.spec.template.spec.taints } });
        // The agent, authenticated as its ServiceAccount.
        const agentToken = await Kube.until("the agent's ServiceAccount token", 30_000, async () =>
            (await kube.request("POST", "/api/v1/namespaces/node-cache/serviceaccounts/node-cache-agent/token", { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: {} })).status.token as string,
        );
        agentKube = new Kube({ server, ca, token: agentToken });
        const agentConfig = path.join(runDir, "agent.kubeconfig");
        writeKubeconfig(agentConfig, agentToken);
        const container = find("Deployment", "node-cache-agent").spec.template.spec.containers[0];
        const env = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));
        processes.start("node-cache-agent", process.execPath, [path.join(repoRoot, container.args[0]), ...container.args.slice(1)], {
            env: { ...env, KUBECONFIG: agentConfig, KUBERNETES_SERVICE_HOST: "" },
            cwd: repoRoot,
        });
    });

    after(async function () {
        kube?.close();
        agentKube?.close();
        await processes.stopAll();
        if (!process.env.E2E_KEEP) fs.rmSync(runDir, { recursive: true, force: true });
        else console.log(`kept ${runDir}`);
    });

    const cacheVolumes = async () => (await kube.get("/api/v1/persistentvolumes?labelSelector=gpu-serverless%2Fnode-cache%3Dtrue")).items as any[];

    it("the agent creates the new node's local volumes, the PV controller makes them Available", async function () {
        const volumes = await Kube.until("8 Available cache volumes", 60_000, async () => {
            const items = await cacheVolumes();
            return items.length === 8 && items.every((v) => v.status?.phase === "Available") ? items : undefined;
        }, 200).catch((e) => {
            throw new Error(`${e.message}\nagent log:\n${processes.tail("node-cache-agent")}`);
        });
        for (const v of volumes) {
            assert.equal(v.spec.local.path, "/mnt/k8s-disks/0/gpu-serverless-cache");
            assert.deepEqual(v.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values, [nodeName]);
            assert.equal(v.spec.persistentVolumeReclaimPolicy, "Retain");
        }
    });

    it("the agent may not delete a volume, nor read pods (least privilege, enforced by RBAC)", async function () {
        const [v] = await cacheVolumes();
        await assert.rejects(agentKube.request("DELETE", `/api/v1/persistentvolumes/${v.metadata.name}`), (e: KubeError) => e.status === 403);
        await assert.rejects(agentKube.get("/api/v1/namespaces/models/pods"), (e: KubeError) => e.status === 403);
    });

    it("Pod Security: the prepare DaemonSet's hostPath pod is admitted in node-cache only; the model namespace enforces baseline", async function () {
        const template = find("DaemonSet", "node-cache-prepare").spec.template;
        const pod = (namespace: string) => ({ apiVersion: "v1", kind: "Pod", metadata: { name: "prepare-check", namespace, labels: template.metadata.labels }, spec: template.spec });
        await kube.request("POST", "/api/v1/namespaces/node-cache/pods?dryRun=All", pod("node-cache"));
        await assert.rejects(kube.request("POST", "/api/v1/namespaces/models/pods?dryRun=All", pod("models")), (e: KubeError) => e.status === 403 && /violates PodSecurity "baseline:latest": .*hostPath volumes/.test(e.message));
    });

    let podName = "";
    let boundVolume = "";

    it("a model pod with the ephemeral cache volume is admitted under baseline, its claim binds to a cache volume of the node", async function () {
        const isvc = plan.all.find((o) => o?.kind === "InferenceService" && o.spec.predictor.model.storageUri === undefined && o.spec.predictor.volumes?.some((v: any) => v.ephemeral));
        assert.ok(isvc, "the dev stack's hf:// vLLM model uses the cache");
        const predictor = isvc.spec.predictor;
        // The pod KServe's Standard mode makes of it (its container is `kserve-container`), pinned to our node's pool.
        const pod = {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: `${isvc.metadata.name}-predictor-0`, namespace: isvc.metadata.namespace, labels: { "serving.kserve.io/inferenceservice": isvc.metadata.name } },
            spec: {
                automountServiceAccountToken: false,
                nodeSelector: predictor.nodeSelector,
                tolerations: predictor.tolerations,
                securityContext: predictor.securityContext,
                volumes: predictor.volumes,
                containers: [
                    {
                        name: "kserve-container",
                        image: "kserve/huggingfaceserver:v0.20.0",
                        args: predictor.model.args,
                        env: predictor.model.env,
                        volumeMounts: predictor.model.volumeMounts,
                        resources: predictor.model.resources,
                    },
                ],
            },
        };
        await Kube.until("the default ServiceAccount of models", 30_000, async () => !!(await kube.find("/api/v1/namespaces/models/serviceaccounts/default")));
        const created = await kube.request("POST", "/api/v1/namespaces/models/pods", pod);
        podName = created.metadata.name;
        // The ephemeral-volume controller makes the claim `<pod>-<volume>`, owned by the pod.
        const claimName = `${podName}-node-cache`;
        const claim = await Kube.until("the pod's ephemeral claim", 30_000, () => kube.find(`/api/v1/namespaces/models/persistentvolumeclaims/${claimName}`));
        assert.equal(claim.metadata.ownerReferences[0].uid, created.metadata.uid);
        assert.equal(claim.status.phase, "Pending", "WaitForFirstConsumer: nothing binds before the pod is scheduled");
        // The scheduler's VolumeBinding for the node it picked: an Available cache volume of that node gets the claimRef.
        const volume = (await cacheVolumes()).find((v) => v.status.phase === "Available" && v.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values.includes(nodeName));
        const claimRef = { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "models", name: claimName, uid: claim.metadata.uid, resourceVersion: claim.metadata.resourceVersion };
        await kube.request("PATCH", `/api/v1/persistentvolumes/${volume.metadata.name}`, { metadata: { annotations: { "pv.kubernetes.io/bound-by-controller": "yes" } }, spec: { claimRef } }, "application/merge-patch+json");
        await kube.request("POST", `/api/v1/namespaces/models/pods/${podName}/binding`, { apiVersion: "v1", kind: "Binding", metadata: { name: podName }, target: { apiVersion: "v1", kind: "Node", name: nodeName } });
        const bound = await Kube.until("the claim Bound by the PV controller", 60_000, async () => {
            const c = await kube.get(`/api/v1/namespaces/models/persistentvolumeclaims/${claimName}`);
            return c.status.phase === "Bound" ? c : undefined;
        });
        assert.equal(bound.spec.volumeName, volume.metadata.name);
        boundVolume = volume.metadata.name;
        assert.equal((await kube.get(`/api/v1/persistentvolumes/${boundVolume}`)).status.phase, "Bound");
    });

    it("when the pod goes, its claim is deleted, the volume is Released, and the agent makes it Available again with its data", async function () {
        assert.ok(podName && boundVolume, "needs the previous test");
        const before = await kube.get(`/api/v1/persistentvolumes/${boundVolume}`);
        await kube.request("DELETE", `/api/v1/namespaces/models/pods/${podName}?gracePeriodSeconds=0`);
        const phases: string[] = [];
        const watch = kube.watch(`/api/v1/persistentvolumes?fieldSelector=metadata.name%3D${boundVolume}`, (_type, o) => {
            if (phases[phases.length - 1] !== o.status?.phase) phases.push(o.status?.phase);
        });
        try {
            const available = await Kube.until("the volume Available again", 90_000, async () => {
                const v = await kube.get(`/api/v1/persistentvolumes/${boundVolume}`);
                return v.status.phase === "Available" && phases.includes("Released") ? v : undefined;
            }, 200).catch((e) => {
                throw new Error(`${e.message} (phases seen: ${phases.join(" → ")})\nagent log:\n${processes.tail("node-cache-agent")}`);
            });
            assert.equal(available.spec.claimRef, undefined);
            assert.equal(available.metadata.uid, before.metadata.uid, "the same volume object: never deleted and re-made");
            assert.deepEqual(available.spec.local, before.spec.local);
            assert.match(processes.tail("node-cache-agent", 50), /released cache volume made available again/);
        } finally {
            watch.stop();
        }
    });
});
