/**
 * WarmCapacity: spare GPU nodes kept up per pool (`gpuNodeGroups[].warm`), always or inside a schedule. Namespace
 * `warm-capacity` (Pod Security `baseline` enforced: the balloons run a pause container as a non-root user), one
 * PriorityClass below every workload, and per pool a balloon Deployment (and, for a schedule, a KEDA ScaledObject
 * with one `cron` trigger). How the balloons keep nodes and yield them: manifests/warm/warmCapacity.ts.
 * cluster-autoscaler counts them: their priority (-10) is not below its `--expendable-pods-priority-cutoff`
 * (default -10; pods *below* it neither trigger scale-up nor keep nodes: kubernetes/autoscaler FAQ, "How does
 * cluster-autoscaler work with Pod Priority and Preemption?").
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { WarmNodesConfig } from "../config/fastPath";
import { childName } from "../domain/naming";
import { gpuSchedulingFor } from "../domain/nodeGroups";
import { imageReference } from "../manifests/images/chartImages";
import { pauseImage, warmCapacityNamespace, type WarmNodes, warmNodeManifests } from "../manifests/warm/warmCapacity";
import type { ImageRewriteInput } from "./imageCache";

export interface WarmCapacityArgs {
    provider: k8s.Provider;
    /** GPU pools with a `warm` setting: name, GPUs per node. */
    pools: readonly { name: string; gpusPerNode: number; warm: WarmNodesConfig }[];
    /** The KEDA release (ScaledObject CRD), for scheduled pools. */
    keda: pulumi.Resource;
    imageRewrite?: ImageRewriteInput;
}

/** The config's `warm` as the builder's WarmNodes. */
export function warmNodesOf(warm: WarmNodesConfig): WarmNodes {
    return warm.schedule === undefined ? { mode: "always", nodes: warm.nodes } : { mode: "schedule", nodes: warm.nodes, ...warm.schedule };
}

export class WarmCapacity extends pulumi.ComponentResource {
    constructor(name: string, args: WarmCapacityArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gpu-serverless:warm:WarmCapacity", name, {}, opts);
        const k8sOpts = { parent: this, provider: args.provider };
        const namespace = new k8s.core.v1.Namespace(
            childName(name, "namespace"),
            {
                metadata: {
                    name: warmCapacityNamespace,
                    labels: { "pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/enforce-version": "latest" },
                },
            },
            k8sOpts,
        );
        const image = pulumi.output(args.imageRewrite).apply((r) => imageReference(pauseImage, r));
        let priorityClass: k8s.scheduling.v1.PriorityClass | undefined;
        for (const pool of args.pools) {
            const scheduling = gpuSchedulingFor(pool.name);
            // The image is an output (the cache's registry); names and everything else are known up front.
            const made = warmNodeManifests({ name: pool.name, gpusPerNode: pool.gpusPerNode, ...scheduling }, warmNodesOf(pool.warm), image);
            priorityClass ??= new k8s.scheduling.v1.PriorityClass(
                childName(name, "priority"),
                { ...made.priorityClass, apiVersion: "scheduling.k8s.io/v1", kind: "PriorityClass" },
                k8sOpts,
            );
            const deployment = new k8s.apps.v1.Deployment(
                childName(name, pool.name),
                { metadata: made.deployment.metadata, spec: made.deployment.spec },
                { ...k8sOpts, dependsOn: [namespace, priorityClass] },
            );
            if ("scaledObject" in made && made.scaledObject) {
                new k8s.apiextensions.CustomResource(
                    childName(name, `${pool.name}-schedule`),
                    { apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", metadata: made.scaledObject.metadata, spec: made.scaledObject.spec },
                    // KEDA owns the replica count from here on.
                    { ...k8sOpts, dependsOn: [args.keda, deployment] },
                );
            }
        }
        this.registerOutputs({});
    }
}
