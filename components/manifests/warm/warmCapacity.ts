/**
 * Warm capacity, opt-in: per model a pre-warm KEDA `cron` trigger beside the activator's `external-push` one, and per
 * GPU pool whole nodes kept up always or on a schedule.
 *
 * Pre-warm trigger: safe beside `external-push` since KEDA v2.18.0. A ScaledObject is active when ANY trigger is
 * (kedacore/keda v2.20.2 `pkg/scaling/scale_handler.go` `getScaledObjectState`: `isScaledObjectActive = true` on the
 * first active trigger), so it goes to zero only when every trigger is inactive. Before v2.18.0 a push scaler's
 * "inactive" message went straight to `RequestScale(..., false, ...)` and could scale to zero while the cron window
 * was open; since kedacore/keda#7116 (`startPushScalers`: "inactivation events are ignored and inactivation happens
 * through the standard metric scaling logic") only activations are pushed. The cron scaler never errors once its
 * zone loads (checked in domain/warmSchedule.ts), so it cannot pin a model up the way an erroring trigger would.
 *
 * Warm nodes: a "balloon" Deployment in its own namespace whose pods each ask for a whole node's GPUs at a negative
 * priority, so the provisioner (Karpenter or cluster-autoscaler) keeps that many GPU nodes up; a model pod preempts a
 * balloon and starts on its node at once, and the evicted balloon asks for a fresh node, so the pool keeps N spare
 * nodes (cost: N nodes above what models use). `always` sets the replica count; `schedule` lets a KEDA ScaledObject
 * with one `cron` trigger move it between 0 and N.
 */
import { cronTrigger, type WarmSchedule, warmHoursPerWeek } from "../../domain/warmSchedule";

/** Namespace of the balloon pods (Pod Security `baseline`: they run a pause container and nothing else). */
export const warmCapacityNamespace = "warm-capacity";
/** PriorityClass of the balloon pods: below every workload (default 0), so the scheduler preempts them first. */
export const balloonPriorityClassName = "gpu-serverless-warm-capacity";
/** The pause image the balloons run (rewritten to ECR with the others). */
export const pauseImage = "registry.k8s.io/pause:3.10";

/** Name of a model's pre-warm trigger number `i`. */
export const prewarmTriggerName = (i: number) => `prewarm-${i}`;

interface ScaledObjectLike {
    metadata: { name: string };
    spec: { maxReplicaCount?: number; triggers: readonly Record<string, unknown>[] };
}

/** The ScaledObject with one `cron` trigger per pre-warm schedule appended after its existing triggers. */
export function withPrewarmTriggers<T extends ScaledObjectLike>(scaledObject: T, schedules: readonly WarmSchedule[]): T {
    schedules.forEach((s, i) => {
        const max = scaledObject.spec.maxReplicaCount;
        if (max !== undefined && s.desiredReplicas > max) {
            throw new Error(`ScaledObject ${scaledObject.metadata.name}: prewarm[${i}].desiredReplicas ${s.desiredReplicas} is above maxReplicas ${max}`);
        }
    });
    const triggers = [...scaledObject.spec.triggers, ...schedules.map((s, i) => cronTrigger(s, prewarmTriggerName(i)))];
    return { ...scaledObject, spec: { ...scaledObject.spec, triggers } };
}

export type WarmNodes = { mode: "always"; nodes: number } | ({ mode: "schedule"; nodes: number } & Omit<WarmSchedule, "desiredReplicas">);

export interface GpuPool {
    name: string;
    gpusPerNode: number;
    nodeSelector: Record<string, string>;
    tolerations: { key: string; operator: string; value?: string; effect: string }[];
}

/**
 * The objects that keep `warm.nodes` nodes of `pool` up: PriorityClass, balloon Deployment, and for a schedule its
 * ScaledObject. `image` is the pause image reference (default `pauseImage`); a Pulumi output of one may stand in for
 * it (it only lands in the container's `image`).
 */
export function warmNodeManifests<Image = string>(pool: GpuPool, warm: WarmNodes, image: Image | string = pauseImage) {
    if (!Number.isInteger(warm.nodes) || warm.nodes < 1) throw new Error(`gpuNodeGroups ${pool.name}: warm.nodes must be a whole number of at least 1, not ${warm.nodes}`);
    const name = `warm-${pool.name}`;
    const labels = { "app.kubernetes.io/part-of": "gpu-serverless", "gpu-serverless/warm-pool": pool.name };
    const gpus = String(pool.gpusPerNode);
    const priorityClass = {
        apiVersion: "scheduling.k8s.io/v1",
        kind: "PriorityClass",
        metadata: { name: balloonPriorityClassName },
        value: -10,
        globalDefault: false,
        preemptionPolicy: "Never",
        description: "Placeholder pods that keep warm GPU nodes; any model pod preempts them.",
    };
    const deployment = {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name, namespace: warmCapacityNamespace, labels },
        spec: {
            replicas: warm.mode === "always" ? warm.nodes : 0,
            selector: { matchLabels: labels },
            template: {
                metadata: { labels },
                spec: {
                    priorityClassName: balloonPriorityClassName,
                    terminationGracePeriodSeconds: 0,
                    nodeSelector: { ...pool.nodeSelector },
                    tolerations: pool.tolerations.map((t) => ({ ...t })),
                    containers: [
                        {
                            name: "pause",
                            image,
                            resources: { requests: { "nvidia.com/gpu": gpus, cpu: "10m", memory: "16Mi" }, limits: { "nvidia.com/gpu": gpus } },
                            securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, runAsUser: 65535, capabilities: { drop: ["ALL"] } },
                        },
                    ],
                },
            },
        },
    };
    if (warm.mode === "always") return { priorityClass, deployment };
    const scaledObject = {
        apiVersion: "keda.sh/v1alpha1",
        kind: "ScaledObject",
        metadata: { name, namespace: warmCapacityNamespace, labels },
        spec: {
            scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name },
            minReplicaCount: 0,
            maxReplicaCount: warm.nodes,
            triggers: [cronTrigger({ timezone: warm.timezone, start: warm.start, end: warm.end, desiredReplicas: warm.nodes }, "schedule")],
        },
    };
    return { priorityClass, deployment, scaledObject };
}

/**
 * Average cost per hour of a warm-capacity choice, in the price's currency: `units` nodes (or replicas' nodes) at
 * `pricePerUnitHour`, always or for the schedule's share of the week.
 */
export function warmCapacityHourlyCost(warm: { units: number; schedule?: Pick<WarmSchedule, "start" | "end"> }, pricePerUnitHour: number): number {
    const share = warm.schedule ? warmHoursPerWeek(warm.schedule) / (7 * 24) : 1;
    return warm.units * pricePerUnitHour * share;
}
