/**
 * A node-local cache on the GPU node's NVMe for `hf://` weights and vLLM's compile caches, so that a second start of
 * a model on the same node skips the download and the torch.compile/Triton compilation.
 *
 * How it passes Pod Security `baseline` in the model namespaces without relaxing it: the model pod never names a
 * hostPath (baseline refuses `hostPath` volumes; PersistentVolumeClaims and generic ephemeral volumes are allowed,
 * even under `restricted`). It asks for a generic ephemeral volume of the StorageClass below; the scheduler binds it
 * (WaitForFirstConsumer) to a *local PersistentVolume* on the node it picks. Those PVs, one per pod slot per GPU node,
 * all point at one directory on the RAID0 NVMe array, and have `persistentVolumeReclaimPolicy: Retain`, so nothing
 * is wiped when a pod goes; a small agent in its own namespace (`node-cache`, which alone is `privileged`) creates a
 * node's PVs when it joins and returns Released ones to Available by clearing `spec.claimRef`, and a DaemonSet there
 * makes the directory (../nodeCache/agent.ts; program: activator/src/nodeCacheAgent).
 * A model pod with the cache volume can only be scheduled on a node that has a free cache PV (the scheduler's
 * VolumeBinding filter): the cache is for the Karpenter GPU pools (their `instanceStorePolicy: RAID0` makes the mount),
 * and each node offers one PV per GPU.
 * Chosen over: a CSI driver (no maintained driver offers a persistent per-node directory as an inline volume; writing
 * one is a bigger component), sig-storage-local-static-provisioner (it wipes a released volume, which is the cache),
 * KServe's LocalModelCache (mounts without waiting for the download: no help on a node a cold start creates).
 *
 * For `hf://` models the cache is used by letting KServe's Hugging Face server download by `--model_id` and
 * `--model_revision` into `HF_HOME` on the cache, instead of a `storageUri` (the storage initializer downloads into
 * the pod's own emptyDir every start). Compile caches: `TORCHINDUCTOR_CACHE_DIR`, `TRITON_CACHE_DIR`,
 * `VLLM_CACHE_ROOT` (vLLM's torch.compile artefacts) and `XDG_CACHE_HOME` (what else defaults to `~/.cache`).
 */

import { cachePersistentVolume, reconcileNodeCache as reconcile, type NodeCacheAgentConfig, type PersistentVolumeView } from "../../../activator/src/index";

/** StorageClass of the cache volumes: no provisioner (local PVs made by the agent), bound where the pod lands. */
export const nodeCacheStorageClassName = "gpu-serverless-node-cache";
/** Namespace of the agent that creates and recycles the local PVs; the only one that may use hostPath. */
export const nodeCacheNamespace = "node-cache";
/** Directory on the node: under the RAID0 instance-store mount of the EKS AL2023 AMI (Karpenter `instanceStorePolicy: RAID0`). */
export const nodeCacheHostPath = "/mnt/k8s-disks/0/gpu-serverless-cache";
/** Where model containers see it. */
export const nodeCacheMountPath = "/cache";
/** Volume name in the model pod. */
export const nodeCacheVolumeName = "node-cache";

export function nodeCacheStorageClass() {
    return {
        apiVersion: "storage.k8s.io/v1",
        kind: "StorageClass",
        metadata: { name: nodeCacheStorageClassName },
        provisioner: "kubernetes.io/no-provisioner",
        volumeBindingMode: "WaitForFirstConsumer",
        reclaimPolicy: "Retain",
    };
}

/** Size each PV advertises (local volumes are not enforced; the NVMe array holds the real bytes). */
export const nodeCacheCapacity = "1Ti";
/** Label of every cache PV (the agent watches only those). */
export const nodeCacheVolumeLabel = { key: "gpu-serverless/node-cache", value: "true" } as const;
/**
 * Owner of the cache directory and the model pods' `fsGroup`: KServe's Hugging Face server image runs as uid 1000
 * (kserve/kserve v0.20.0 `python/huggingface_server.Dockerfile`, `USER 1000`).
 */
export const nodeCacheOwner = { uid: 1000, gid: 1000 } as const;

function agentConfig(): NodeCacheAgentConfig {
    return { storageClassName: nodeCacheStorageClassName, hostPath: nodeCacheHostPath, capacity: nodeCacheCapacity, defaultSlots: 1, nodeLabelSelector: "-", label: nodeCacheVolumeLabel };
}

/** Local PV number `slot` of `nodeName`, as the agent creates it (the agent's own builder: one definition). */
export function nodeCachePersistentVolume(nodeName: string, slot: number) {
    return cachePersistentVolume(nodeName, slot, agentConfig());
}

/** The model pod's volume: a generic ephemeral volume (a PVC per pod, deleted with it; the PV and its bytes stay). */
export function nodeCacheVolume() {
    return {
        name: nodeCacheVolumeName,
        ephemeral: {
            volumeClaimTemplate: {
                metadata: { labels: { [nodeCacheVolumeLabel.key]: nodeCacheVolumeLabel.value } },
                spec: { accessModes: ["ReadWriteOnce"], storageClassName: nodeCacheStorageClassName, resources: { requests: { storage: nodeCacheCapacity } } },
            },
        },
    };
}

export function nodeCacheVolumeMount() {
    return { name: nodeCacheVolumeName, mountPath: nodeCacheMountPath };
}

/** Env that points every cache the model server writes at the node cache. */
export function nodeCacheEnv(): { name: string; value: string }[] {
    return [
        { name: "HF_HOME", value: `${nodeCacheMountPath}/huggingface` },
        { name: "TORCHINDUCTOR_CACHE_DIR", value: `${nodeCacheMountPath}/torchinductor` },
        { name: "TRITON_CACHE_DIR", value: `${nodeCacheMountPath}/triton` },
        { name: "VLLM_CACHE_ROOT", value: `${nodeCacheMountPath}/vllm` },
        { name: "XDG_CACHE_HOME", value: `${nodeCacheMountPath}/xdg` },
    ];
}

const HF_URI = /^hf:\/\/([A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*):([0-9a-f]{40})$/;

/** KServe Hugging Face server arguments that download `hf://<org>/<model>:<commit>` into `HF_HOME` (the cache). */
export function hfCachedModelArgs(storageUri: string): string[] {
    const m = HF_URI.exec(storageUri);
    if (!m) throw new Error(`node cache: "${storageUri}" is not hf://<org>/<model>:<40-hex commit>`);
    return [`--model_id=${m[1]}`, `--model_revision=${m[2]}`];
}

/** The agent's rule: which cache PVs to make Available again (Released ones of our class and label; the data stays). */
export function persistentVolumesToRecycle(volumes: readonly PersistentVolumeView[]): string[] {
    return reconcile([], volumes, agentConfig()).flatMap((a) => (a.kind === "recycle" ? [a.name] : []));
}

/**
 * Pod Security `baseline` volume rule (kubernetes.io/docs/concepts/security/pod-security-standards, "HostPath
 * Volumes": `spec.volumes[*].hostPath` must be undefined): the volumes of `pod` that break it.
 */
export function baselineVolumeViolations(pod: { volumes?: readonly Record<string, unknown>[] }): string[] {
    return (pod.volumes ?? []).filter((v) => v.hostPath !== undefined).map((v) => String(v.name));
}
