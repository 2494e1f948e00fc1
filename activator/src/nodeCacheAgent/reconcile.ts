/**
 * The node-cache agent's rule, as a pure function: the GPU nodes and the cache PersistentVolumes it sees → the
 * actions that bring them in line (design: components/manifests/model/nodeCache.ts).
 *
 * - Every node gets `slots` local PersistentVolumes named `node-cache-<node>-<slot>` (slot 0..slots-1), where
 *   `slots` is the node's `nvidia.com/gpu` capacity (one model pod per GPU at most), or `config.defaultSlots` while
 *   the NVIDIA device plugin has not reported it yet. Missing ones are created; none is ever deleted (a PV of a node
 *   that is gone binds nothing: its nodeAffinity names that node only).
 * - A cache PV in phase `Released` (its claim, the model pod's generic ephemeral volume claim, was deleted with the
 *   pod) is made `Available` again by clearing `spec.claimRef` (Kubernetes docs, "Persistent Volumes", Retain:
 *   the volume is reusable once its claimRef is removed). Its bytes, the cache, stay on the node: the volume is
 *   `Retain` and nothing here deletes.
 * Only PVs of `config.storageClassName` carrying `config.label` are considered: the agent never touches other PVs.
 */

export interface NodeCacheAgentConfig {
    /** StorageClass of the cache PVs, e.g. `gpu-serverless-node-cache`. */
    storageClassName: string;
    /** Directory on the node the PVs point at (`spec.local.path`); must exist there (the prepare DaemonSet makes it). */
    hostPath: string;
    /** Capacity each PV advertises, a Kubernetes quantity, e.g. `1Ti` (local volumes are not size-enforced). */
    capacity: string;
    /** PVs per node while the node reports no `nvidia.com/gpu` capacity, ≥ 1 (8 on a p4d). */
    defaultSlots: number;
    /** Label selector of the nodes that get a cache (Kubernetes selector syntax), e.g. `k=v,karpenter.sh/nodepool`. */
    nodeLabelSelector: string;
    /** Label every cache PV carries, `key=value`; the agent watches only PVs with it. */
    label: { key: string; value: string };
}

export interface NodeView {
    metadata?: { name?: string };
    status?: { capacity?: Record<string, string> };
}

export interface PersistentVolumeView {
    metadata?: { name?: string; resourceVersion?: string; labels?: Record<string, string> };
    spec?: { storageClassName?: string; claimRef?: unknown };
    status?: { phase?: string };
}

export type NodeCacheAction =
    | { kind: "create"; volume: ReturnType<typeof cachePersistentVolume> }
    /** Merge-patch `spec.claimRef` to null, conditional on `resourceVersion` (a changed PV is left to the next pass). */
    | { kind: "recycle"; name: string; resourceVersion: string | undefined };

const MAX_NAME = 253;

/** `node-cache-<node>-<slot>`; a node name too long for that is cut and given a hash of the whole name. */
export function cacheVolumeName(nodeName: string, slot: number): string {
    const name = `node-cache-${nodeName}-${slot}`;
    if (name.length <= MAX_NAME) return name;
    const { createHash } = require("node:crypto") as typeof import("node:crypto");
    const hash = createHash("sha256").update(nodeName).digest("hex").slice(0, 10);
    const suffix = `-${hash}-${slot}`;
    return `node-cache-${nodeName}`.slice(0, MAX_NAME - suffix.length).replace(/[.-]+$/, "") + suffix;
}

/** The local PV number `slot` of `nodeName`: bound only to pods on that node, Retain, of the cache StorageClass. */
export function cachePersistentVolume(nodeName: string, slot: number, config: NodeCacheAgentConfig) {
    return {
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name: cacheVolumeName(nodeName, slot), labels: { [config.label.key]: config.label.value } },
        spec: {
            capacity: { storage: config.capacity },
            accessModes: ["ReadWriteOnce"],
            persistentVolumeReclaimPolicy: "Retain",
            storageClassName: config.storageClassName,
            volumeMode: "Filesystem",
            local: { path: config.hostPath },
            nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [nodeName] }] }] } },
        },
    };
}

/** PVs `node` should have: its `nvidia.com/gpu` capacity when positive, else `defaultSlots`. */
export function slotsOf(node: NodeView, defaultSlots: number): number {
    const gpus = Number.parseInt(node.status?.capacity?.["nvidia.com/gpu"] ?? "", 10);
    return Number.isInteger(gpus) && gpus > 0 ? gpus : defaultSlots;
}

/** True for a PV the agent manages: our StorageClass and our label. */
export function isCacheVolume(pv: PersistentVolumeView, config: NodeCacheAgentConfig): boolean {
    return pv.spec?.storageClassName === config.storageClassName && pv.metadata?.labels?.[config.label.key] === config.label.value;
}

/**
 * Actions for `nodes` (already the selected GPU nodes) and `volumes` (the PVs the agent sees): creates first, in node
 * and slot order, then recycles, in name order. Idempotent: applying them and calling again gives none.
 */
export function reconcile(nodes: readonly NodeView[], volumes: readonly PersistentVolumeView[], config: NodeCacheAgentConfig): NodeCacheAction[] {
    const existing = new Set(volumes.map((v) => v.metadata?.name).filter((n): n is string => n !== undefined));
    const actions: NodeCacheAction[] = [];
    for (const node of [...nodes].sort((a, b) => String(a.metadata?.name).localeCompare(String(b.metadata?.name)))) {
        const name = node.metadata?.name;
        if (!name) continue;
        for (let slot = 0; slot < slotsOf(node, config.defaultSlots); slot++) {
            if (!existing.has(cacheVolumeName(name, slot))) actions.push({ kind: "create", volume: cachePersistentVolume(name, slot, config) });
        }
    }
    const released = volumes
        .filter((v) => isCacheVolume(v, config) && v.status?.phase === "Released" && v.spec?.claimRef != null && v.metadata?.name)
        .sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
    for (const v of released) actions.push({ kind: "recycle", name: v.metadata!.name!, resourceVersion: v.metadata?.resourceVersion });
    return actions;
}
