/**
 * The one simulated part of the cluster: a node stand-in doing what kube-scheduler and a kubelet do for the pods the
 * real controllers create (kube-controller-manager's ReplicaSet controller, from KServe's Deployments scaled by KEDA):
 *
 * - registers one Node (`Ready`), binds each unscheduled pod of the watched namespaces to it (`pods/binding`, as the
 *   scheduler does) and writes the scheduler's `Scheduled` event; with {@link NodeStandIn.addNodeForNext}, the next
 *   pod of a model waits for a new Node registered for it (Ready after `E2E_NODE_READY_MS`, 300 ms), as a node
 *   Karpenter or cluster-autoscaler adds, and is bound there;
 * - starts the pod as a kubelet v1.33 does (./kubelet.ts, upstream sources cited there): status `Pending` with
 *   `PodReadyToStartContainers`, the sandbox's IP (10.244.0.n, local in the suite's network namespace), each init
 *   container (KServe's storage-initializer) pulled, created, started and `Completed` after `E2E_INIT_CONTAINER_MS`,
 *   `Initialized`, then each container pulled (`E2E_IMAGE_PULL_MS` per image not yet on the node), created and
 *   started, with the kubelet's `Pulling`/`Pulled`/`Created`/`Started` events; the container "runs" a
 *   {@link FakeModel} at its probe port;
 * - reports `Ready` once the container's readiness probe path (startupProbe/readinessProbe `httpGet` from the pod
 *   spec) answers 2xx, checked every 20 ms (a kubelet honours `periodSeconds`; that wait is not simulated);
 * - on deletion (`deletionTimestamp`), stops the server and confirms the deletion (grace period 0), as a kubelet does
 *   once containers have stopped.
 *
 * - on request of a test ({@link NodeStandIn.crashLoop}), reports the pod's containers crash-looping, in the shape a
 *   kubelet writes (k8s.io/api v0.33 core/v1 `ContainerStatus`: `state.waiting` reason `CrashLoopBackOff` with the
 *   kubelet's "back-off … restarting failed container=… pod=…" message, `lastState.terminated` reason `Error` exit code
 *   1, `restartCount` > 0, `ready`/`started` false; pod `Running` with `Ready`/`ContainersReady` False reason
 *   `ContainersNotReady`), and back to running ({@link NodeStandIn.recover}), restart count and last state kept.
 *
 * Not simulated: what the containers do (the init containers download nothing), volumes, resources, GPUs, the
 * kubelet's probe periods, node heartbeats.
 */
import { FakeModel, type FakeModelOptions } from "./fakeModel";
import { Kube, KubeError } from "./kube";
import { KubeletPod, kubeletTimingsFromEnv, scheduledEvent, type KubeletTimings } from "./kubelet";

export interface PodRecord {
    readonly namespace: string;
    readonly name: string;
    readonly ip: string;
    /** The Node it was bound to. */
    nodeName?: string;
    /** When the stand-in first saw the pod (ms, Date.now()). */
    readonly seenAt: number;
    /** When it reported the pod Ready, if it did. */
    readyAt?: number;
    deletedAt?: number;
    /** When its container was reported running (not Ready). */
    statusAt?: number;
    readonly model: FakeModel;
    /** The pod as the stand-in first saw it (spec, uid). */
    readonly pod: any;
    /** What the kubelet wrote and writes for it. */
    kubelet?: KubeletPod;
}

/** A Node the stand-in registered: its name, InternalIP and the images pulled on it. */
interface NodeRecord {
    name: string;
    ip: string;
    images: Set<string>;
}

export class NodeStandIn {
    readonly pods = new Map<string, PodRecord>();
    /** Nodes registered, by name (the first is `options.nodeName`). */
    readonly nodes = new Map<string, NodeRecord & { createdAt: number; readyAt?: number }>();
    private readonly handling = new Set<string>();
    private watch?: { stop(): void };
    private nextIp = 2;
    private readonly timers = new Set<NodeJS.Timeout>();
    /** InferenceService name → the Node its next pod waits for. */
    private readonly nodeForNext = new Map<string, string>();
    /** The simulated kubelet durations and node boot (ms) this stand-in uses. */
    readonly timings: KubeletTimings;
    readonly nodeReadyMs: number;

    constructor(
        private readonly kube: Kube,
        private readonly options: {
            nodeName: string;
            /** Pod IPs are `${ipPrefix}${n}`, e.g. "127.77.1.". */
            ipPrefix: string;
            namespaces: readonly string[];
            /** What the pod runs, from its labels; undefined: not ours to run (left Pending). */
            modelFor(pod: any): Omit<FakeModelOptions, "pod"> | undefined;
            /** Simulated image pull and init container run; default from E2E_IMAGE_PULL_MS / E2E_INIT_CONTAINER_MS. */
            timings?: KubeletTimings;
            /** A new Node's boot, ms; default E2E_NODE_READY_MS or 300. */
            nodeReadyMs?: number;
        },
    ) {
        this.timings = options.timings ?? kubeletTimingsFromEnv();
        this.nodeReadyMs = options.nodeReadyMs ?? Number(process.env.E2E_NODE_READY_MS ?? 300);
    }

    async start(): Promise<void> {
        await this.registerNode(this.options.nodeName);
        await this.setNodeReady(this.options.nodeName);
        this.watch = this.kube.watch("/api/v1/pods", (type, pod) => void this.onPod(type, pod).catch(() => undefined));
    }

    async stop(): Promise<void> {
        this.watch?.stop();
        for (const t of this.timers) clearTimeout(t);
        await Promise.all([...this.pods.values()].map((p) => p.model.close()));
    }

    /** Pods of a model (by InferenceService name) the stand-in runs now, newest last. */
    podsOf(isvc: string): PodRecord[] {
        return [...this.pods.values()].filter((p) => p.name.startsWith(`${isvc}-predictor-`) && p.deletedAt === undefined);
    }

    /**
     * The next pod of this InferenceService finds no room: a Node `nodeName` is registered when the pod is seen, turns
     * Ready after the node boot (`nodeReadyMs`), and the pod is bound to it (a new node's images are pulled again).
     */
    addNodeForNext(isvc: string, nodeName: string): void {
        this.nodeForNext.set(isvc, nodeName);
    }

    private async registerNode(name: string): Promise<NodeRecord> {
        const node = { apiVersion: "v1", kind: "Node", metadata: { name, labels: { "kubernetes.io/hostname": name } } };
        await this.kube.apply(node, "e2e-node");
        const record = { name, ip: `127.0.0.${this.nodes.size + 1}`, images: new Set<string>(), createdAt: Date.now() };
        this.nodes.set(name, record);
        return record;
    }

    private async setNodeReady(name: string): Promise<void> {
        const node = this.nodes.get(name)!;
        const now = new Date().toISOString();
        await this.kube.request("PATCH", `/api/v1/nodes/${name}/status`, {
            status: {
                conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "e2e node stand-in", lastHeartbeatTime: now, lastTransitionTime: now }],
                addresses: [{ type: "InternalIP", address: node.ip }],
                capacity: { cpu: "64", memory: "512Gi", pods: "250", "nvidia.com/gpu": "8" },
                allocatable: { cpu: "64", memory: "512Gi", pods: "250", "nvidia.com/gpu": "8" },
            },
        }, "application/merge-patch+json");
        node.readyAt = Date.now();
    }

    private async onPod(type: string, pod: any): Promise<void> {
        const { namespace, name } = pod.metadata;
        if (!this.options.namespaces.includes(namespace)) return;
        const key = `${namespace}/${name}`;
        if (type === "DELETED") {
            await this.release(key);
            return;
        }
        if (pod.metadata.deletionTimestamp) {
            await this.release(key);
            await this.kube.request("DELETE", `/api/v1/namespaces/${namespace}/pods/${name}`, { gracePeriodSeconds: 0 }).catch(ignoreNotFound);
            return;
        }
        if (this.handling.has(key)) return;
        const model = this.options.modelFor(pod);
        if (!model) return;
        this.handling.add(key);
        const ip = `${this.options.ipPrefix}${this.nextIp}`;
        this.nextIp = this.nextIp >= 254 ? 2 : this.nextIp + 1;
        const record: PodRecord = { namespace, name, ip, seenAt: Date.now(), model: new FakeModel({ ...model, pod: name, inferenceService: pod.metadata.labels?.["serving.kserve.io/inferenceservice"] }), pod };
        this.pods.set(key, record);
        record.nodeName = await this.schedule(pod);
        await this.run(record);
    }

    /** kube-scheduler's part: a node (a new one if a test asked), the binding, the `Scheduled` event. */
    private async schedule(pod: any): Promise<string> {
        if (pod.spec.nodeName) return pod.spec.nodeName;
        const isvc: string | undefined = pod.metadata.labels?.["serving.kserve.io/inferenceservice"];
        let nodeName = this.options.nodeName;
        const added = isvc === undefined ? undefined : this.nodeForNext.get(isvc);
        if (added !== undefined) {
            this.nodeForNext.delete(isvc!);
            await this.registerNode(added);
            await new Promise((r) => setTimeout(r, this.nodeReadyMs));
            await this.setNodeReady(added);
            nodeName = added;
        }
        const { namespace, name } = pod.metadata;
        await this.kube.request("POST", `/api/v1/namespaces/${namespace}/pods/${name}/binding`, {
            apiVersion: "v1",
            kind: "Binding",
            metadata: { name },
            target: { apiVersion: "v1", kind: "Node", name: nodeName },
        });
        await this.kube.request("POST", `/apis/events.k8s.io/v1/namespaces/${namespace}/events`, scheduledEvent(pod, nodeName));
        return nodeName;
    }

    /** The kubelet's part (./kubelet.ts): admit, sandbox, init containers, containers, then readiness by probe. */
    private async run(record: PodRecord): Promise<void> {
        const { pod, ip } = record;
        const gone = () => record.deletedAt !== undefined;
        const kubelet = new KubeletPod(this.kube, pod, this.nodes.get(record.nodeName!) ?? { name: record.nodeName!, ip: "127.0.0.1", images: new Set() }, this.timings, gone);
        record.kubelet = kubelet;
        const container = pod.spec.containers[0];
        const probe = container.startupProbe?.httpGet ?? container.readinessProbe?.httpGet;
        // Where the server listens: the probe's port (KServe's runtimes declare no containerPort), else the first
        // declared one, else KServe's default 8080.
        const port: number = typeof probe?.port === "number" ? probe.port : (container.ports?.[0]?.containerPort ?? 8080);
        await kubelet.admit(ip);
        if (!(await kubelet.runInitContainers())) return;
        const running = await kubelet.startContainers(async (c) => {
            if (c.name === container.name && !gone()) await record.model.listen(ip, port);
        });
        if (!running) return;
        record.statusAt = Date.now();
        const probePath: string = probe?.path ?? "/v2/health/ready";
        const check = async () => {
            if (gone()) return;
            if (!kubelet.crashLooping && (await probeOk(`http://${ip}:${port}${probePath}`))) {
                record.readyAt = Date.now();
                await kubelet.setReady(true).catch(() => undefined);
                return;
            }
            const t = setTimeout(() => void check(), 20);
            this.timers.add(t);
        };
        await check();
    }

    /**
     * Reports the pod's containers crash-looping (see the class comment); resolves once the API server has stored it.
     * The container exited `restarts` times with exit code 1.
     */
    async crashLoop(record: PodRecord, restarts = 3): Promise<void> {
        record.readyAt = undefined;
        await record.kubelet!.crashLoop(restarts);
    }

    /** The containers run again (restart count and last termination kept); Ready once the probe answers. */
    async recover(record: PodRecord): Promise<void> {
        await record.kubelet!.recover();
    }

    private async release(key: string): Promise<void> {
        const record = this.pods.get(key);
        if (!record || record.deletedAt !== undefined) return;
        record.deletedAt = Date.now();
        await record.model.close();
    }
}

async function probeOk(url: string): Promise<boolean> {
    try {
        const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        return res.status >= 200 && res.status < 400;
    } catch {
        return false;
    }
}

function ignoreNotFound(e: unknown): void {
    if (!(e instanceof KubeError && e.status === 404)) throw e;
}
