/**
 * What kube-scheduler and a kubelet of Kubernetes v1.33 write to the API server while a pod starts, for the node
 * stand-in (./node.ts), which runs no scheduler, kubelet or container runtime. The shapes and the order are upstream's
 * (kubernetes v1.33.13 and k8s.io/client-go v0.33.13, file:line below); the durations are simulated
 * ({@link KubeletTimings}).
 *
 * Scheduler (after its `pods/binding` POST, which makes the API server set `PodScheduled=True`:
 * pkg/registry/core/pod/storage/storage.go:255):
 * - one events.k8s.io/v1 Event (kube-scheduler records through client-go's `events` broadcaster whenever the API
 *   serves events.k8s.io/v1: cmd/kube-scheduler/app/options/options.go:318, client-go tools/events/
 *   event_broadcaster.go:415-427): reason `Scheduled`, action `Binding`, type `Normal`, note "Successfully assigned
 *   ns/pod to node" (pkg/scheduler/schedule_one.go:997, `finishBinding`), `reportingController` the profile's
 *   scheduler name `default-scheduler`, `reportingInstance` "default-scheduler-<hostname>" (event_broadcaster.go:165),
 *   `eventTime` in microseconds, `regarding` the pod (event_recorder.go:91-113). Read as core/v1, it has `eventTime`
 *   and no `firstTimestamp`/`source`.
 *
 * Kubelet (core/v1 Events through client-go's `record` broadcaster, source `{component: kubelet, host: <node>}`,
 * `reportingComponent` kubelet, `reportingInstance` the node: cmd/kubelet/app/server.go:575, client-go
 * tools/record/event.go:451-455 and 484-503; `firstTimestamp` = `lastTimestamp`, count 1, whole seconds), about the
 * container (`involvedObject.fieldPath` `spec.initContainers{name}` / `spec.containers{name}`:
 * pkg/kubelet/container/ref.go:33-72), per container, init containers one after another first
 * (pkg/kubelet/kuberuntime/kuberuntime_manager.go:1202 sandbox, :1388 init containers, :1413 containers):
 * - `Pulling` "Pulling image \"img\"", then `Pulled` "Successfully pulled image \"img\" in 150ms (152ms including
 *   waiting). Image size: N bytes." (pkg/kubelet/images/image_manager.go:296, :309-310), or, for an image already on
 *   the node under `imagePullPolicy` IfNotPresent/Never, only `Pulled` "Container image \"img\" already present on
 *   machine" (:211; the API server defaults the policy from the tag);
 * - `Created` "Created container: name", `Started` "Started container name" (kuberuntime_container.go:286, :295).
 *
 * Pod status (strategic merge patch of the changed fields, as the status manager sends it: pkg/util/pod/pod.go:43,
 * pkg/kubelet/status/status_manager.go:915), conditions in the kubelet's order (pkg/kubelet/kubelet_pods.go:1852-1863),
 * each `lastTransitionTime` moved only when its status changes (status_manager.go:766-778):
 * 1. admitted: `Pending`, `hostIP`, `startTime`; `PodReadyToStartContainers=False`; `Initialized=False`
 *    `ContainersNotInitialized` "containers with incomplete status: [storage-initializer]" (True with no init
 *    containers); `Ready`/`ContainersReady=False` `ContainersNotReady` "containers with unready status: [c]"
 *    (pkg/kubelet/status/generate.go:46-118, :181-250); every container `waiting` `PodInitializing` with init
 *    containers, else `ContainerCreating` (kubelet_pods.go:2151-2154);
 * 2. sandbox up: `PodReadyToStartContainers=True` (generate.go:252-269), `podIP`;
 * 3. per init container: pull, created, `running`; after its run `terminated` `Completed` exit code 0, `ready: true`,
 *    `started: false` (pkg/kubelet/prober/prober_manager.go:319-331); after the last, `Initialized=True`;
 * 4. per container: pull, created, `running` (`startedAt`), `started` false while a startupProbe has not passed
 *    (prober_manager.go:290-292), `Running`;
 * 5. probe passed ({@link KubeletPod.setReady}): `started`/`ready` true, `ContainersReady` and `Ready` True.
 */
import { createHash, randomBytes } from "node:crypto";
import * as os from "node:os";
import type { Kube } from "./kube";

/** Simulated durations, ms. */
export interface KubeletTimings {
    /** One image pull (the runtime's part; no other pull waits on the node). Env E2E_IMAGE_PULL_MS, default 150. */
    readonly imagePullMs: number;
    /** One init container's run, e.g. KServe's storage-initializer downloading weights. Env E2E_INIT_CONTAINER_MS, default 150. */
    readonly initContainerMs: number;
}

export function kubeletTimingsFromEnv(env: NodeJS.ProcessEnv = process.env): KubeletTimings {
    const read = (name: string, fallback: number): number => {
        const value = Number(env[name] ?? fallback);
        if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number of milliseconds ≥ 0, got ${JSON.stringify(env[name])}`);
        return value;
    };
    return { imagePullMs: read("E2E_IMAGE_PULL_MS", 150), initContainerMs: read("E2E_INIT_CONTAINER_MS", 150) };
}

/** The scheduler name of the default profile (k8s.io/api core/v1 `DefaultSchedulerName`). */
export const DEFAULT_SCHEDULER = "default-scheduler";
/** Image size the simulated runtime reports in `Pulled` messages, bytes. */
const SIMULATED_IMAGE_BYTES = 1_073_741_824;

/** Go's `time.Duration.String()` of a whole number of milliseconds (`150ms`, `1.5s`, `2m3.25s`). */
export function goDuration(ms: number): string {
    const whole = Math.max(0, Math.round(ms));
    if (whole === 0) return "0s";
    if (whole < 1000) return `${whole}ms`;
    const h = Math.floor(whole / 3_600_000);
    const m = Math.floor((whole % 3_600_000) / 60_000);
    const s = ((whole % 60_000) / 1000).toFixed(3).replace(/\.?0+$/, "");
    return `${h ? `${h}h` : ""}${h || m ? `${m}m` : ""}${s}s`;
}

/** metav1.MicroTime (RFC 3339, six fractional digits). */
const microTime = (ms: number): string => new Date(ms).toISOString().replace(/Z$/, "000Z");
/** metav1.Time (RFC 3339, whole seconds). */
const time = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

let eventSerial = 0;
/** client-go's event name: `<object name>.<UnixNano in hex>` (tools/record/util/util.go:50-51). */
function eventName(object: string, ms: number): string {
    eventSerial = (eventSerial + 1) % 1_000_000;
    return `${object}.${(BigInt(ms) * 1_000_000n + BigInt(eventSerial)).toString(16)}`;
}

const podReference = (pod: any, fieldPath?: string) => ({
    kind: "Pod",
    namespace: pod.metadata.namespace,
    name: pod.metadata.name,
    uid: pod.metadata.uid,
    apiVersion: "v1",
    resourceVersion: pod.metadata.resourceVersion,
    ...(fieldPath ? { fieldPath } : {}),
});

/** kube-scheduler's `Scheduled` event (events.k8s.io/v1), see the module comment. */
export function scheduledEvent(pod: any, nodeName: string, at = Date.now()): any {
    const { namespace, name } = pod.metadata;
    return {
        apiVersion: "events.k8s.io/v1",
        kind: "Event",
        metadata: { name: eventName(name, at), namespace },
        eventTime: microTime(at),
        reportingController: DEFAULT_SCHEDULER,
        reportingInstance: `${DEFAULT_SCHEDULER}-${os.hostname()}`,
        action: "Binding",
        reason: "Scheduled",
        regarding: podReference(pod),
        note: `Successfully assigned ${namespace}/${name} to ${nodeName}`,
        type: "Normal",
    };
}

/** A kubelet event (core/v1) about one container of the pod, see the module comment. */
export function kubeletEvent(pod: any, nodeName: string, fieldPath: string, reason: string, message: string, at = Date.now()): any {
    return {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: eventName(pod.metadata.name, at), namespace: pod.metadata.namespace },
        involvedObject: podReference(pod, fieldPath),
        reason,
        message,
        source: { component: "kubelet", host: nodeName },
        firstTimestamp: time(at),
        lastTimestamp: time(at),
        count: 1,
        type: "Normal",
        reportingComponent: "kubelet",
        reportingInstance: nodeName,
    };
}

type State = { waiting: { reason: string; message?: string } } | { running: { startedAt: string } } | { terminated: Record<string, unknown> };
interface Status {
    name: string;
    image: string;
    imageID: string;
    containerID?: string;
    state: State;
    lastState: { terminated?: Record<string, unknown> };
    ready: boolean;
    restartCount: number;
    started: boolean;
}
interface Condition {
    type: string;
    status: "True" | "False";
    reason?: string;
    message?: string;
    lastTransitionTime: string;
}

/** The last termination of a crash-looping container (kept in `lastState` after a recovery, as a kubelet does). */
export interface Termination {
    exitCode: number;
    reason: string;
    startedAt: string;
    finishedAt: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One pod as a kubelet runs it, writing what the module comment lists. Each step resolves once the API server has
 * stored its writes; `stopped()` (the pod is being deleted) ends a start early.
 */
export class KubeletPod {
    private readonly conditions = new Map<string, Condition>();
    private readonly initStatuses: Status[];
    private readonly statuses: Status[];
    private phase: "Pending" | "Running" = "Pending";
    private podIP?: string;
    restartCount = 0;
    lastTerminated?: Termination;
    crashLooping = false;
    /** Images pulled for this pod (not found present on the node), by container name. */
    readonly pulled: string[] = [];
    /**
     * How long after a regular container's process started (`run`) its `running` status was written, ms, the longest:
     * the Started event and the status write in between. A model's load time counts from its process start, so the
     * `started` → `ready` phase the activator sees is shorter by this much.
     */
    startWriteLagMs = 0;

    constructor(
        private readonly kube: Kube,
        private readonly pod: any,
        private readonly node: { name: string; ip: string; images: Set<string> },
        private readonly timings: KubeletTimings,
        private readonly stopped: () => boolean = () => false,
    ) {
        const initial = (c: any): Status => ({
            name: c.name,
            image: c.image ?? "",
            imageID: "",
            state: { waiting: { reason: this.initContainers.length > 0 ? "PodInitializing" : "ContainerCreating" } },
            lastState: {},
            ready: false,
            restartCount: 0,
            started: false,
        });
        this.initStatuses = this.initContainers.map(initial);
        this.statuses = this.containers.map(initial);
    }

    private get containers(): any[] {
        return this.pod.spec.containers;
    }
    private get initContainers(): any[] {
        return this.pod.spec.initContainers ?? [];
    }

    /** Admitted (step 1), then the sandbox up with `ip` (step 2). */
    async admit(ip: string): Promise<void> {
        this.condition("PodReadyToStartContainers", false);
        this.condition("Initialized", this.initContainers.length === 0, "ContainersNotInitialized", `containers with incomplete status: [${this.initContainers.map((c) => c.name).join(" ")}]`);
        this.setContainersReady(false);
        await this.write({ hostIP: this.node.ip, hostIPs: [{ ip: this.node.ip }], startTime: time(Date.now()) });
        this.podIP = ip;
        this.condition("PodReadyToStartContainers", true);
        await this.write();
    }

    /** Runs the init containers one after another (step 3); false if the pod was deleted meanwhile. */
    async runInitContainers(): Promise<boolean> {
        for (const [i, c] of this.initContainers.entries()) {
            if (!(await this.startContainer(c, `spec.initContainers{${c.name}}`, this.initStatuses[i]))) return false;
            const startedAt = (this.initStatuses[i].state as { running: { startedAt: string } }).running.startedAt;
            // A sidecar (restartable init container) keeps running; the kubelet moves on once it has started.
            if (c.restartPolicy === "Always") continue;
            await sleep(this.timings.initContainerMs);
            if (this.stopped()) return false;
            const finishedAt = time(Date.now());
            this.initStatuses[i] = { ...this.initStatuses[i], state: { terminated: { exitCode: 0, reason: "Completed", startedAt, finishedAt, containerID: this.initStatuses[i].containerID } }, ready: true, started: false };
            if (i === this.initContainers.length - 1) this.condition("Initialized", true);
            await this.write();
        }
        if (this.conditions.get("Initialized")?.status !== "True") {
            this.condition("Initialized", true);
            await this.write();
        }
        return !this.stopped();
    }

    /**
     * Starts the regular containers (step 4); `run(container)` starts what the container runs before the kubelet reports
     * it started. False if the pod was deleted meanwhile.
     */
    async startContainers(run: (container: any) => Promise<void>): Promise<boolean> {
        for (const [i, c] of this.containers.entries()) {
            if (!(await this.startContainer(c, `spec.containers{${c.name}}`, this.statuses[i], () => run(c)))) return false;
        }
        return true;
    }

    /** The probes passed (or failed again): step 5. */
    async setReady(ready: boolean): Promise<void> {
        for (const s of this.statuses) Object.assign(s, { ready, started: ready || !this.hasStartupProbe(s.name) });
        this.setContainersReady(ready);
        await this.write();
    }

    /** The containers crash-loop: exited `restarts` more times with exit code 1, now in back-off (see ./node.ts). */
    async crashLoop(restarts: number): Promise<void> {
        this.crashLooping = true;
        this.restartCount += restarts;
        const finished = Date.now();
        this.lastTerminated = { exitCode: 1, reason: "Error", startedAt: new Date(finished - 2000).toISOString(), finishedAt: new Date(finished).toISOString() };
        const podRef = `${this.pod.metadata.name}_${this.pod.metadata.namespace}(${this.pod.metadata.uid})`;
        for (const s of this.statuses) {
            Object.assign(s, {
                state: { waiting: { reason: "CrashLoopBackOff", message: `back-off 40s restarting failed container=${s.name} pod=${podRef}` } },
                lastState: { terminated: this.lastTerminated },
                restartCount: this.restartCount,
                ready: false,
                started: false,
            });
        }
        this.setContainersReady(false);
        await this.write();
    }

    /** The containers run again, restart count and last termination kept; Ready once the probe passes. */
    async recover(): Promise<void> {
        this.crashLooping = false;
        for (const s of this.statuses) Object.assign(s, { state: { running: { startedAt: this.lastTerminated?.finishedAt ?? time(Date.now()) } }, started: !this.hasStartupProbe(s.name) });
        await this.write();
    }

    /** Pull (or find) the image, create and start one container; `run` is what it runs. */
    private async startContainer(c: any, fieldPath: string, status: Status, run?: () => Promise<void>): Promise<boolean> {
        const image: string = c.image ?? "";
        const event = (reason: string, message: string) => this.kube.request("POST", `/api/v1/namespaces/${this.pod.metadata.namespace}/events`, kubeletEvent(this.pod, this.node.name, fieldPath, reason, message));
        const policy = c.imagePullPolicy ?? "IfNotPresent";
        if (policy !== "Always" && this.node.images.has(image)) {
            await event("Pulled", `Container image "${image}" already present on machine`);
        } else {
            // Pulling and Pulled name the image with the default tag applied (image_manager.go:154-155).
            const tagged = /[@]|:[^/]*$/.test(image) ? image : `${image}:latest`;
            await event("Pulling", `Pulling image "${tagged}"`);
            const begun = Date.now();
            await sleep(this.timings.imagePullMs);
            if (this.stopped()) return false;
            this.node.images.add(image);
            this.pulled.push(c.name);
            await event("Pulled", `Successfully pulled image "${tagged}" in ${goDuration(this.timings.imagePullMs)} (${goDuration(Date.now() - begun)} including waiting). Image size: ${SIMULATED_IMAGE_BYTES} bytes.`);
        }
        const containerID = `containerd://${randomBytes(32).toString("hex")}`;
        await event("Created", `Created container: ${c.name}`);
        if (run) await run();
        const ran = Date.now();
        if (this.stopped()) return false;
        await event("Started", `Started container ${c.name}`);
        Object.assign(status, {
            imageID: `${image.replace(/[:@].*$/, "")}@sha256:${createHash("sha256").update(image).digest("hex")}`,
            containerID,
            state: { running: { startedAt: time(Date.now()) } },
            started: !this.hasStartupProbe(c.name),
        });
        if (fieldPath.startsWith("spec.containers") && this.statuses.every((s) => "running" in s.state)) this.phase = "Running";
        await this.write();
        if (run && fieldPath.startsWith("spec.containers")) this.startWriteLagMs = Math.max(this.startWriteLagMs, Date.now() - ran);
        return true;
    }

    private hasStartupProbe(name: string): boolean {
        return this.containers.some((c) => c.name === name && c.startupProbe);
    }

    private setContainersReady(ready: boolean): void {
        const message = `containers with unready status: [${this.statuses.filter((s) => !s.ready).map((s) => s.name).join(" ")}]`;
        this.condition("Ready", ready, "ContainersNotReady", message);
        this.condition("ContainersReady", ready, "ContainersNotReady", message);
    }

    /** Sets a condition; its lastTransitionTime moves only when its status changes (status_manager.go:766-778). */
    private condition(type: string, value: boolean, reason?: string, message?: string): void {
        const status = value ? "True" : "False";
        const old = this.conditions.get(type);
        const lastTransitionTime = old && old.status === status ? old.lastTransitionTime : time(Date.now());
        this.conditions.set(type, { type, status, ...(value || !reason ? {} : { reason, message }), lastTransitionTime });
    }

    private async write(extra: Record<string, unknown> = {}): Promise<void> {
        const conditions = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady"].flatMap((t) => this.conditions.get(t) ?? []);
        // Strategic merge: conditions merge by type (the binding's PodScheduled stays); the status lists are replaced.
        const patch = {
            status: {
                phase: this.phase,
                ...extra,
                ...(this.podIP ? { podIP: this.podIP, podIPs: [{ ip: this.podIP }] } : {}),
                conditions: conditions.map((c) => ({ ...c, reason: c.reason ?? null, message: c.message ?? null })),
                ...(this.initStatuses.length > 0 ? { initContainerStatuses: this.initStatuses } : {}),
                containerStatuses: this.statuses,
            },
        };
        await this.kube.request("PATCH", `/api/v1/namespaces/${this.pod.metadata.namespace}/pods/${this.pod.metadata.name}/status`, patch, "application/strategic-merge-patch+json");
    }
}
