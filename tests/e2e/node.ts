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
 * - on request of a test ({@link NodeStandIn.crashLoop}), reports the pod's containers crash-looping, in the shape a
 *   kubelet writes (k8s.io/api v0.33 core/v1 `ContainerStatus`: `state.waiting` reason `CrashLoopBackOff` with the
 *   kubelet's "back-off … restarting failed container=… pod=…" message, `lastState.terminated` reason `Error` exit code
 *   1, `restartCount` > 0, `ready`/`started` false; pod `Running` with `Ready`/`ContainersReady` False reason
 *   `ContainersNotReady`), and back to running ({@link NodeStandIn.recover}), restart count and last state kept.
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
    /** When its first status (Running, not Ready) was written. */
    statusAt?: number;
    readonly model: FakeModel;
    /** The pod as the stand-in first saw it (spec, uid). */
    readonly pod: any;
    restartCount: number;
    /** The containers' last termination while crash-looping (kept in `lastState` after a recovery, as a kubelet does). */
    lastTerminated?: { exitCode: number; reason: string; startedAt: string; finishedAt: string };
    crashLooping: boolean;
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
        const fake = new FakeModel({ ...model, pod: name, inferenceService: pod.metadata.labels?.["serving.kserve.io/inferenceservice"] });
        await fake.listen(ip, port);
        const record: PodRecord = { namespace, name, ip, seenAt, model: fake, pod, restartCount: 0, crashLooping: false };
        this.pods.set(key, record);
        await this.setStatus(pod, record, false);
        record.statusAt = Date.now();
        const probePath: string = probe?.path ?? "/v2/health/ready";
        const check = async () => {
            if (record.deletedAt !== undefined) return;
            if (!record.crashLooping && (await probeOk(`http://${ip}:${port}${probePath}`))) {
                record.readyAt = Date.now();
                await this.setStatus(pod, record, true).catch(() => undefined);
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
        record.crashLooping = true;
        record.readyAt = undefined;
        record.restartCount += restarts;
        const finished = new Date();
        record.lastTerminated = { exitCode: 1, reason: "Error", startedAt: new Date(finished.getTime() - 2000).toISOString(), finishedAt: finished.toISOString() };
        await this.setStatus(record.pod, record, false);
    }

    /** The containers run again (restart count and last termination kept); Ready once the probe answers. */
    async recover(record: PodRecord): Promise<void> {
        record.crashLooping = false;
        await this.setStatus(record.pod, record, false);
    }

    private async release(key: string): Promise<void> {
        const record = this.pods.get(key);
        if (!record || record.deletedAt !== undefined) return;
        record.deletedAt = Date.now();
        await record.model.close();
    }

    private async setStatus(pod: any, record: PodRecord, ready: boolean): Promise<void> {
        const now = new Date().toISOString();
        const unready = { reason: "ContainersNotReady", message: `containers with unready status: [${pod.spec.containers.map((c: any) => c.name).join(" ")}]` };
        const cond = (type: string, status: boolean) => ({ type, status: status ? "True" : "False", lastTransitionTime: now, ...(status || type === "PodScheduled" || type === "Initialized" ? {} : unready) });
        const podRef = `${record.name}_${record.namespace}(${pod.metadata.uid})`;
        const containers = pod.spec.containers.map((c: any) => ({
            name: c.name,
            image: c.image ?? "",
            imageID: "",
            ready,
            started: !record.crashLooping,
            restartCount: record.restartCount,
            state: record.crashLooping
                ? { waiting: { reason: "CrashLoopBackOff", message: `back-off 40s restarting failed container=${c.name} pod=${podRef}` } }
                : { running: { startedAt: record.lastTerminated?.finishedAt ?? new Date(record.seenAt).toISOString() } },
            // Merge patch replaces the list: an absent lastState is an empty one, as the kubelet reports before a restart.
            lastState: record.lastTerminated ? { terminated: record.lastTerminated } : {},
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
