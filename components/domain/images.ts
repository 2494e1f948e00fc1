/**
 * Every container image the stack makes nodes pull, listed in one place, and the registries they come from.
 *
 * Pure facts: imports nothing. Each image names the chart (or manifest) whose default it is and the values key that
 * sets it, so that a test can read the upstream default back from `../shared/upstream` and a builder can point the
 * key at ECR instead (see `manifests/images/pullThroughCache.ts`).
 *
 * Registries (AWS ECR user guide, "Sync an upstream registry with an Amazon ECR private registry", and the
 * `CreatePullThroughCacheRule` API reference, `upstreamRegistryUrl`): ECR pull-through cache rules exist for ECR
 * Public, the Kubernetes registry and Quay without credentials; Docker Hub, GitHub Container Registry, GitLab, Azure
 * Container Registry and Chainguard only with credentials in a Secrets Manager secret whose name starts with
 * `ecr-pullthroughcache/` (the `credentialArn` pattern `...:secret:ecr\-pullthroughcache\/...`). NVIDIA's `nvcr.io`
 * is not supported: its images must be mirrored (copied into a private ECR repository once per version).
 */

/** Where a node pulls an image from, as containerd resolves the reference (`kserve/x` is Docker Hub). */
export type UpstreamRegistryHost = "docker.io" | "ghcr.io" | "quay.io" | "registry.k8s.io" | "public.ecr.aws" | "nvcr.io";

export interface UpstreamRegistry {
    host: UpstreamRegistryHost;
    /** `upstreamRegistryUrl` of a pull-through cache rule; undefined when ECR cannot cache it (then: mirror). */
    pullThroughCacheUrl?: string;
    /** `upstreamRegistry` value ECR reports for the rule. */
    upstreamRegistry?: "docker-hub" | "github-container-registry" | "quay" | "k8s" | "ecr-public";
    /** Whether ECR needs credentials (a Secrets Manager secret `ecr-pullthroughcache/<...>`) to pull from it. */
    needsCredentials: boolean;
    /** The keys that secret holds (ECR user guide, "Storing your upstream repository credentials"). */
    credentialKeys?: readonly ["username", "accessToken"];
    /** ECR repository prefix (2-30 characters) under which its images are cached or mirrored: `<ecr>/<prefix>/<repo>`. */
    ecrPrefix: string;
}

export const upstreamRegistries: Readonly<Record<UpstreamRegistryHost, UpstreamRegistry>> = {
    // Docker Hub's registry API host is registry-1.docker.io; official images live under `library/`.
    "docker.io": {
        host: "docker.io",
        pullThroughCacheUrl: "registry-1.docker.io",
        upstreamRegistry: "docker-hub",
        needsCredentials: true,
        credentialKeys: ["username", "accessToken"],
        ecrPrefix: "docker-hub",
    },
    "ghcr.io": {
        host: "ghcr.io",
        pullThroughCacheUrl: "ghcr.io",
        upstreamRegistry: "github-container-registry",
        needsCredentials: true,
        credentialKeys: ["username", "accessToken"],
        ecrPrefix: "github",
    },
    "quay.io": { host: "quay.io", pullThroughCacheUrl: "quay.io", upstreamRegistry: "quay", needsCredentials: false, ecrPrefix: "quay" },
    "registry.k8s.io": { host: "registry.k8s.io", pullThroughCacheUrl: "registry.k8s.io", upstreamRegistry: "k8s", needsCredentials: false, ecrPrefix: "kubernetes" },
    "public.ecr.aws": { host: "public.ecr.aws", pullThroughCacheUrl: "public.ecr.aws", upstreamRegistry: "ecr-public", needsCredentials: false, ecrPrefix: "ecr-public" },
    // No pull-through cache for NVIDIA's registry: a mirror under this prefix, filled by copying each pinned image.
    "nvcr.io": { host: "nvcr.io", needsCredentials: false, ecrPrefix: "nvcr" },
};

/** Which nodes pull it: GPU images sit on the cold-start path of every new GPU node. */
export type ImageNodes = "gpu" | "cpu-models" | "system";

export interface StackImage {
    /** Registry host and repository, e.g. `docker.io/kserve/huggingfaceserver`. */
    repository: string;
    /** The tag the pinned chart renders (its values tag, else its app/KServe version). */
    tag: string;
    /** Chart (key of `versions.ts` charts, or `activator`) whose default it is. */
    chart: string;
    /** Dotted values key of the image's repository in that chart (`kserve.storage.image`). */
    valuesKey: string;
    /** Dotted values key of the registry the chart puts before `valuesKey`, where it splits them (KEDA's `image.keda.registry`). */
    registryKey?: string;
    nodes: ImageNodes;
    /** Approximate compressed size, GB, when it matters for a cold start (estimate unless a source is named). */
    sizeGb?: number;
}

const kserveTag = "v0.20.0";
/** `chart` of the images our own manifests name (no Helm values: the builders take the reference). */
export const ourManifests = "gpu-serverless";

/**
 * The images of the charts and runtimes we install, at their pinned defaults. Model-serving runtimes are listed for
 * the formats we deploy (config/models.ts `modelFormats`); KServe's TensorFlow, AutoGluon, predictive and vLLM-only
 * runtimes are installed by the chart but no model of ours selects them, so nothing pulls them.
 */
export const stackImages: readonly StackImage[] = [
    // GPU nodes: the LLM runtime (KServe's Hugging Face server with vLLM; ~10-15 GB, issue 17's table: estimate).
    { repository: "docker.io/kserve/huggingfaceserver", tag: kserveTag, chart: "kserve-runtime-configs", valuesKey: "kserve.servingruntime.huggingfaceserver.image", nodes: "gpu", sizeGb: 12 },
    { repository: "docker.io/kserve/storage-initializer", tag: kserveTag, chart: "kserve-resources", valuesKey: "kserve.storage.image", nodes: "gpu" },
    { repository: "nvcr.io/nvidia/tritonserver", tag: "23.05-py3", chart: "kserve-runtime-configs", valuesKey: "kserve.servingruntime.tritonserver.image", nodes: "gpu", sizeGb: 7 },
    { repository: "nvcr.io/nvidia/k8s-device-plugin", tag: "v0.20.0", chart: "nvidia-device-plugin", valuesKey: "image.repository", nodes: "gpu" },
    { repository: "nvcr.io/nvidia/k8s/dcgm-exporter", tag: "4.5.3-4.8.2-distroless", chart: "dcgm-exporter", valuesKey: "image.repository", nodes: "gpu" },
    { repository: "docker.io/pytorch/torchserve-kfs", tag: "0.9.0", chart: "kserve-runtime-configs", valuesKey: "kserve.servingruntime.torchserve.image", nodes: "gpu" },
    // CPU model runtimes.
    { repository: "docker.io/kserve/sklearnserver", tag: kserveTag, chart: "kserve-runtime-configs", valuesKey: "kserve.servingruntime.sklearnserver.image", nodes: "cpu-models" },
    { repository: "docker.io/kserve/xgbserver", tag: kserveTag, chart: "kserve-runtime-configs", valuesKey: "kserve.servingruntime.xgbserver.image", nodes: "cpu-models" },
    { repository: "docker.io/kserve/lgbserver", tag: kserveTag, chart: "kserve-runtime-configs", valuesKey: "kserve.servingruntime.lgbserver.image", nodes: "cpu-models" },
    { repository: "docker.io/kserve/pmmlserver", tag: kserveTag, chart: "kserve-runtime-configs", valuesKey: "kserve.servingruntime.pmmlserver.image", nodes: "cpu-models" },
    { repository: "docker.io/kserve/paddleserver", tag: kserveTag, chart: "kserve-runtime-configs", valuesKey: "kserve.servingruntime.paddleserver.image", nodes: "cpu-models" },
    { repository: "docker.io/seldonio/mlserver", tag: "1.5.0", chart: "kserve-runtime-configs", valuesKey: "kserve.servingruntime.mlserver.image", nodes: "cpu-models" },
    // System nodes.
    { repository: "docker.io/kserve/kserve-controller", tag: kserveTag, chart: "kserve-resources", valuesKey: "kserve.controller.image", nodes: "system" },
    { repository: "ghcr.io/kedacore/keda", tag: "2.20.2", chart: "keda", valuesKey: "image.keda.repository", registryKey: "image.keda.registry", nodes: "system" },
    { repository: "ghcr.io/kedacore/keda-metrics-apiserver", tag: "2.20.2", chart: "keda", valuesKey: "image.metricsApiServer.repository", registryKey: "image.metricsApiServer.registry", nodes: "system" },
    { repository: "ghcr.io/kedacore/keda-admission-webhooks", tag: "2.20.2", chart: "keda", valuesKey: "image.webhooks.repository", registryKey: "image.webhooks.registry", nodes: "system" },
    { repository: "registry.k8s.io/autoscaling/cluster-autoscaler", tag: "v1.35.0", chart: "cluster-autoscaler", valuesKey: "image.repository", nodes: "system" },
    { repository: "quay.io/jetstack/cert-manager-controller", tag: "v1.21.1", chart: "cert-manager", valuesKey: "imageRegistry", nodes: "system" },
    // Ours: the balloon pods that hold warm GPU nodes (manifests/warm/warmCapacity.ts), and our vLLM runtime, which
    // runs the huggingfaceserver image above with another entrypoint (manifests/model/vllmRuntime.ts).
    { repository: "registry.k8s.io/pause", tag: "3.10", chart: ourManifests, valuesKey: "image", nodes: "gpu" },
];

/** Registry host of a repository written as containerd resolves it (`kserve/x` and `busybox` are Docker Hub). */
export function registryHost(repository: string): string {
    const first = repository.split("/")[0];
    return repository.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost") ? first : "docker.io";
}
