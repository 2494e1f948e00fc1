/**
 * The node-cache agent's objects (design: ../model/nodeCache.ts; program: activator/src/nodeCacheAgent), all in the
 * `node-cache` namespace:
 * - the agent: a Deployment (one replica, on the system nodes) running `main.js agent` from the activator's image;
 *   it creates each GPU node's local PersistentVolumes and returns Released ones to Available. Its ServiceAccount is
 *   bound to a ClusterRole with exactly: nodes get/list/watch, persistentvolumes get/list/watch/create/update/patch.
 *   Its pod meets Pod Security `restricted` (non-root, no privilege escalation, all capabilities dropped,
 *   RuntimeDefault seccomp, no host namespaces or volumes).
 * - who makes the directory a local PV needs: a DaemonSet on every cache node running `main.js prepare` as root
 *   with only CAP_CHOWN, with the RAID0 mount `/mnt/k8s-disks/0` as a hostPath (type `Directory`). Chosen over
 *   nodeadm / Karpenter userData: it needs no change to the node classes and shows up as a pod (a node without the
 *   RAID0 mount shows a failed mount event instead of silently caching on the root volume). hostPath is why the
 *   namespace enforces Pod Security `privileged`; its pod gets no ServiceAccount token and no RBAC. The model
 *   namespaces stay `baseline`: model pods see the cache only through a PersistentVolumeClaim.
 * The DaemonSet tolerates every taint of every GPU pool (tests/components/manifests/gpuDaemons.test.ts checks the
 * rule for it with the add-ons' pods); the agent runs on the system nodes and needs no GPU toleration.
 */
import { cacheVolumeName, nodeCacheAgentConfigVariable as configEnvironmentVariable, type NodeCacheAgentConfig } from "../../../activator/src/index";
import { acceleratorLabel, acceleratorValue, nodeGroupLabel } from "../../domain/nodeGroups";
import {
    nodeCacheCapacity,
    nodeCacheHostPath,
    nodeCacheNamespace,
    nodeCacheOwner,
    nodeCacheStorageClassName,
    nodeCacheVolumeLabel,
} from "../model/nodeCache";

/** Where the prepare DaemonSet mounts the node's RAID0 array, and what it creates under it. */
const RAID0_MOUNT = "/mnt/k8s-disks/0";
const CONTAINER_ROOT = "/host/k8s-disks-0";

export interface NodeCacheAgentOptions {
    /** The activator's image (it holds activator/dist/nodeCacheAgent). */
    image: string;
    /** GPU pools with the cache (Karpenter pools; the RAID0 mount is theirs). Non-empty. */
    pools: readonly string[];
    /** PVs per node until the device plugin reports `nvidia.com/gpu` (GPUs of the instance type, 8 on a p4d). */
    defaultSlots: number;
    /** Node selector of the controllers (the system nodes). */
    systemNodeSelector: Record<string, string>;
    /** Tolerations of every taint of every GPU pool (nodeMonitoring/agent.ts `tolerationsFor(gpuPoolTaints(...))`). */
    gpuTolerations: readonly { key?: string; operator?: string; value?: string; effect?: string }[];
}

/** The GPU nodes that get a cache: `<accelerator>=nvidia-a100,<node-group> in (<pools>)`. */
export function cacheNodeSelector(pools: readonly string[]) {
    if (pools.length === 0) throw new Error("node cache: no GPU pool to cache on");
    return {
        labelSelector: `${acceleratorLabel}=${acceleratorValue},${nodeGroupLabel} in (${[...pools].sort().join(",")})`,
        nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                    {
                        matchExpressions: [
                            { key: acceleratorLabel, operator: "In", values: [acceleratorValue] },
                            { key: nodeGroupLabel, operator: "In", values: [...pools].sort() },
                        ],
                    },
                ],
            },
        },
    };
}

/** The agent's config, as its Deployment passes it in NODE_CACHE_AGENT_CONFIG. */
export function nodeCacheAgentConfig(options: Pick<NodeCacheAgentOptions, "pools" | "defaultSlots">): NodeCacheAgentConfig {
    return {
        storageClassName: nodeCacheStorageClassName,
        hostPath: nodeCacheHostPath,
        capacity: nodeCacheCapacity,
        defaultSlots: options.defaultSlots,
        nodeLabelSelector: cacheNodeSelector(options.pools).labelSelector,
        label: nodeCacheVolumeLabel,
    };
}

const restrictedContainer = {
    allowPrivilegeEscalation: false,
    privileged: false,
    runAsNonRoot: true,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
};

const labels = (component: string) => ({ "app.kubernetes.io/name": "node-cache", "app.kubernetes.io/component": component, "app.kubernetes.io/part-of": "gpu-serverless" });

/** Every object of the agent, in apply order. */
export function nodeCacheAgentManifests(options: NodeCacheAgentOptions) {
    const config = nodeCacheAgentConfig(options);
    const selector = cacheNodeSelector(options.pools);
    const namespace = {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: {
            name: nodeCacheNamespace,
            labels: {
                // hostPath (the prepare DaemonSet) is refused by baseline and restricted.
                "pod-security.kubernetes.io/enforce": "privileged",
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/warn": "baseline",
                "pod-security.kubernetes.io/warn-version": "latest",
            },
        },
    };
    const serviceAccount = { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "node-cache-agent", namespace: nodeCacheNamespace, labels: labels("agent") } };
    const clusterRole = {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: { name: "gpu-serverless-node-cache-agent", labels: labels("agent") },
        rules: [
            { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
            { apiGroups: [""], resources: ["persistentvolumes"], verbs: ["get", "list", "watch", "create", "update", "patch"] },
        ],
    };
    const clusterRoleBinding = {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: "gpu-serverless-node-cache-agent", labels: labels("agent") },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterRole.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: serviceAccount.metadata.name, namespace: nodeCacheNamespace }],
    };
    const agentLabels = labels("agent");
    const deployment = {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "node-cache-agent", namespace: nodeCacheNamespace, labels: agentLabels },
        spec: {
            replicas: 1,
            // Never two at once: both would race to create and recycle the same volumes (harmless, but noisy).
            strategy: { type: "Recreate" },
            selector: { matchLabels: agentLabels },
            template: {
                metadata: { labels: agentLabels },
                spec: {
                    serviceAccountName: serviceAccount.metadata.name,
                    nodeSelector: { ...options.systemNodeSelector },
                    securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: "RuntimeDefault" } },
                    containers: [
                        {
                            name: "agent",
                            image: options.image,
                            // The image's entrypoint is node (distroless nodejs); only its arguments change.
                            args: ["activator/dist/nodeCacheAgent/main.js", "agent"],
                            env: [{ name: configEnvironmentVariable, value: JSON.stringify(config) }],
                            securityContext: restrictedContainer,
                            resources: { requests: { cpu: "10m", memory: "64Mi" }, limits: { memory: "256Mi" } },
                        },
                    ],
                },
            },
        },
    };
    const prepareLabels = labels("prepare");
    const daemonSet = {
        apiVersion: "apps/v1",
        kind: "DaemonSet",
        metadata: { name: "node-cache-prepare", namespace: nodeCacheNamespace, labels: prepareLabels },
        spec: {
            selector: { matchLabels: prepareLabels },
            template: {
                metadata: { labels: prepareLabels },
                spec: {
                    automountServiceAccountToken: false,
                    affinity: { nodeAffinity: selector.nodeAffinity },
                    tolerations: options.gpuTolerations.map((t) => ({ ...t })),
                    priorityClassName: "system-node-critical",
                    securityContext: { seccompProfile: { type: "RuntimeDefault" } },
                    containers: [
                        {
                            name: "prepare",
                            image: options.image,
                            args: ["activator/dist/nodeCacheAgent/main.js", "prepare"],
                            env: [
                                { name: "NODE_CACHE_ROOT", value: CONTAINER_ROOT },
                                { name: "NODE_CACHE_DIRECTORY", value: nodeCacheHostPath.slice(RAID0_MOUNT.length + 1) },
                                { name: "NODE_CACHE_UID", value: String(nodeCacheOwner.uid) },
                                { name: "NODE_CACHE_GID", value: String(nodeCacheOwner.gid) },
                            ],
                            // Root to create a directory in the root-owned mount; CAP_CHOWN to hand it to the model user.
                            securityContext: { runAsUser: 0, runAsNonRoot: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"], add: ["CHOWN"] } },
                            volumeMounts: [{ name: "raid0", mountPath: CONTAINER_ROOT }],
                            resources: { requests: { cpu: "5m", memory: "32Mi" }, limits: { memory: "128Mi" } },
                        },
                    ],
                    volumes: [{ name: "raid0", hostPath: { path: RAID0_MOUNT, type: "Directory" } }],
                },
            },
        },
    };
    return { namespace, serviceAccount, clusterRole, clusterRoleBinding, deployment, daemonSet };
}

export { cacheVolumeName };
