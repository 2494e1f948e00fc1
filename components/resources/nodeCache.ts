/**
 * NodeCache: the node-local NVMe cache of the Karpenter GPU pools (stack key `nodeCache`; design in
 * manifests/model/nodeCache.ts): its StorageClass, and the agent's namespace, RBAC, Deployment and prepare DaemonSet
 * (manifests/nodeCache/agent.ts), run from the activator's image. Models using the cache depend on `storageClass`.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { childName } from "../domain/naming";
import { nodeCacheStorageClass } from "../manifests/model/nodeCache";
import { nodeCacheAgentManifests, type NodeCacheAgentOptions } from "../manifests/nodeCache/agent";

export interface NodeCacheArgs extends Omit<NodeCacheAgentOptions, "image"> {
    provider: k8s.Provider;
    /** The activator's image (activator.image). */
    image: pulumi.Input<string>;
}

/** An object's fields without apiVersion and kind (the Pulumi resource type carries those). */
function body<T extends { apiVersion: string; kind: string }>(object: T): Omit<T, "apiVersion" | "kind"> {
    const { apiVersion: _apiVersion, kind: _kind, ...rest } = object;
    return rest;
}

export class NodeCache extends pulumi.ComponentResource {
    /** The cache StorageClass: an InferenceService using the cache depends on it. */
    readonly storageClass: k8s.storage.v1.StorageClass;

    constructor(name: string, args: NodeCacheArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gpu-serverless:cache:NodeCache", name, {}, opts);
        const k8sOpts = (dependsOn: pulumi.Resource[] = []) => ({ parent: this, provider: args.provider, dependsOn });
        this.storageClass = new k8s.storage.v1.StorageClass(childName(name, "storage-class"), body(nodeCacheStorageClass()), k8sOpts());
        const { image, provider: _provider, ...options } = args;
        const manifests = pulumi.output(image).apply((img) => nodeCacheAgentManifests({ ...options, image: img }));
        const first = nodeCacheAgentManifests({ ...options, image: "" });
        const namespace = new k8s.core.v1.Namespace(childName(name, "namespace"), body(first.namespace), k8sOpts());
        const serviceAccount = new k8s.core.v1.ServiceAccount(childName(name, "service-account"), body(first.serviceAccount), k8sOpts([namespace]));
        const role = new k8s.rbac.v1.ClusterRole(childName(name, "cluster-role"), body(first.clusterRole), k8sOpts());
        const binding = new k8s.rbac.v1.ClusterRoleBinding(childName(name, "cluster-role-binding"), body(first.clusterRoleBinding), k8sOpts([role, serviceAccount]));
        new k8s.apps.v1.Deployment(
            childName(name, "agent"),
            { metadata: first.deployment.metadata, spec: manifests.apply((m) => m.deployment.spec) },
            k8sOpts([binding, this.storageClass]),
        );
        new k8s.apps.v1.DaemonSet(childName(name, "prepare"), { metadata: first.daemonSet.metadata, spec: manifests.apply((m) => m.daemonSet.spec) }, k8sOpts([namespace]));
        this.registerOutputs({ storageClass: this.storageClass });
    }
}
