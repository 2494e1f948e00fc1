/**
 * The one simulated part of the cluster: a node stand-in doing what a kubelet does for the pods the real controllers
 * create (kube-controller-manager's ReplicaSet controller, from KServe's Deployments scaled by KEDA):
 *
 * - registers one Node (`Ready`), binds each unscheduled pod of the watched namespaces to it (no scheduler runs);
 * - "starts" the pod: a {@link FakeModel} on a fresh address (10.244.0.n, local in the suite's network namespace) at
 *   the first container's probe port, and pod status `Running` with that `podIP`;
 * - reports `Ready` once the container's readiness probe path (startupProbe/readinessProbe `httpGet` from the pod
 *   spec) answers 2xx, checked every 20 ms (a kubelet honours `periodSeconds`; that wait is not simulated);
 * - on deletion (`deletionTimestamp`), stops the server and confirms the deletion (grace period 0), as a kubelet does
 *   once containers have stopped.
 *
 * Images, init containers (KServe's storage-initializer), volumes, resources and GPUs are not simulated.
 */
import { FakeModel, type FakeModelOptions } from "./fakeModel";
import { Kube, KubeError } from "./kube";

export interface PodRecord {
    readonly namespace: string;
    readonly name: string;
    readonly ip: string;
    /** When the stand-in first saw the pod (ms, Date.now()). */
    readonly seenAt: number;
    /** When it reported the pod Ready, if it did. */
    readyAt?: number;
    deletedAt?: number;
    readonly model: FakeModel;
}

export class NodeStandIn {
    readonly pods = new Map<string, PodRecord>();
    private readonly handling = new Set<string>();
    private watch?: { stop(): void };
    private nextIp = 2;
    private readonly timers = new Set<NodeJS.Timeout>();

    constructor(
        private readonly kube: Kube,
        private readonly options: {
            nodeName: string;
            /** Pod IPs are `${ipPrefix}${n}`, e.g. "127.77.1.". */
            ipPrefix: string;
            namespaces: readonly string[];
            /** What the pod runs, from its labels; undefined: not ours to run (left Pending). */
            modelFor(pod: any): Omit<FakeModelOptions, "pod"> | undefined;
        },
    ) {}

    async start(): Promise<void> {
        const node = { apiVersion: "v1", kind: "Node", metadata: { name: this.options.nodeName, labels: { "kubernetes.io/hostname": this.options.nodeName } } };
        await this.kube.apply(node, "e2e-node");
        const now = new Date().toISOString();
        await this.kube.request("PATCH", `/api/v1/nodes/${this.options.nodeName}/status`, {
            status: {
                conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "e2e node stand-in", lastHeartbeatTime: now, lastTransitionTime: now }],
                addresses: [{ type: "InternalIP", address: "127.0.0.1" }],
                capacity: { cpu: "64", memory: "512Gi", pods: "250", "nvidia.com/gpu": "8" },
                allocatable: { cpu: "64", memory: "512Gi", pods: "250", "nvidia.com/gpu": "8" },
            },
        }, "application/merge-patch+json");
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
        const seenAt = Date.now();
        if (!pod.spec.nodeName) {
            await this.kube.request("POST", `/api/v1/namespaces/${namespace}/pods/${name}/binding`, {
                apiVersion: "v1",
                kind: "Binding",
                metadata: { name },
                target: { apiVersion: "v1", kind: "Node", name: this.options.nodeName },
            });
        }
        const container = pod.spec.containers[0];
        const probe = container.startupProbe?.httpGet ?? container.readinessProbe?.httpGet;
        // Where the server listens: the probe's port (KServe's runtimes declare no containerPort), else the first
        // declared one, else KServe's default 8080.
        const port: number = typeof probe?.port === "number" ? probe.port : (container.ports?.[0]?.containerPort ?? 8080);
        const ip = `${this.options.ipPrefix}${this.nextIp}`;
        this.nextIp = this.nextIp >= 254 ? 2 : this.nextIp + 1;
        const fake = new FakeModel({ ...model, pod: name });
        await fake.listen(ip, port);
        const record: PodRecord = { namespace, name, ip, seenAt, model: fake };
        this.pods.set(key, record);
        await this.setStatus(pod, record, false);
        const probePath: string = probe?.path ?? "/v2/health/ready";
        const check = async () => {
            if (record.deletedAt !== undefined) return;
            if (await probeOk(`http://${ip}:${port}${probePath}`)) {
                record.readyAt = Date.now();
                await this.setStatus(pod, record, true).catch(() => undefined);
                return;
            }
            const t = setTimeout(() => void check(), 20);
            this.timers.add(t);
        };
        await check();
    }

    private async release(key: string): Promise<void> {
        const record = this.pods.get(key);
        if (!record || record.deletedAt !== undefined) return;
        record.deletedAt = Date.now();
        await record.model.close();
    }

    private async setStatus(pod: any, record: PodRecord, ready: boolean): Promise<void> {
        const now = new Date().toISOString();
        const cond = (type: string, status: boolean) => ({ type, status: status ? "True" : "False", lastTransitionTime: now });
        const containers = pod.spec.containers.map((c: any) => ({
            name: c.name,
            image: c.image ?? "",
            imageID: "",
            ready,
            started: true,
            restartCount: 0,
            state: { running: { startedAt: new Date(record.seenAt).toISOString() } },
        }));
        await this.kube.request(
            "PATCH",
            `/api/v1/namespaces/${record.namespace}/pods/${record.name}/status`,
            {
                status: {
                    phase: "Running",
                    hostIP: "127.0.0.1",
                    hostIPs: [{ ip: "127.0.0.1" }],
                    podIP: record.ip,
                    podIPs: [{ ip: record.ip }],
                    startTime: new Date(record.seenAt).toISOString(),
                    conditions: [cond("PodScheduled", true), cond("Initialized", true), cond("ContainersReady", ready), cond("Ready", ready)],
                    containerStatuses: containers,
                },
            },
            "application/merge-patch+json",
        );
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
