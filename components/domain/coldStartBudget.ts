/**
 * The cold-start budget as data: for each path a model at zero can take to its first byte, the phases in order, each
 * with a distribution in seconds (min / typical / max; the simulator samples a triangular distribution with the
 * typical figure as its mode) and its public source, or `estimate: true` where no public figure was found.
 * The case is an 8B-class LLM (16 GB of fp16 weights, a 10-15 GB vLLM runtime image, one A100 of a p4d.24xlarge).
 * Nothing here is verified on AWS: these are published figures and estimates, not measurements of this stack, except
 * the phases marked `measured` (the e2e suite's real control plane, tests/e2e/README.md).
 *
 * Paths:
 * - `today`: cluster-autoscaler + managed node group, image through the NAT gateway onto gp3, weights downloaded by
 *   KServe's storage initializer on every pod start, vLLM without compile caches;
 * - `fast`: the cold-start issue's target path (Karpenter, images from ECR onto the local NVMe, weights streamed from
 *   S3, compile caches on the node) from zero GPU nodes; not built yet;
 * - `warmNode`: the fast path on a GPU node that is up with the image and the model's caches on its NVMe.
 * Pure data: imports nothing.
 */

export const phaseNames = ["activation", "provisioning", "nodeReady", "imagePull", "weights", "engineStart", "firstByte"] as const;
export type PhaseName = (typeof phaseNames)[number];

/** What each phase spans. */
export const phaseMeaning: Readonly<Record<PhaseName, string>> = {
    activation: "request arrival → KEDA sets replicas: 1 → the ReplicaSet controller creates the pod",
    provisioning: "pod pending → the provisioner launches a node (only when no node has room)",
    nodeReady: "instance launch → node Ready with nvidia.com/gpu allocatable (only for a new node)",
    imagePull: "runtime image pulled onto the node (only when the node does not have it)",
    weights: "model weights reach the pod (storage initializer download, or streaming / cache)",
    engineStart: "model server start: weights into GPU memory, torch.compile, CUDA graphs, KV-cache profiling",
    firstByte: "container ready → startup and readiness probes pass → EndpointSlice ready → activator releases → first byte",
};

export interface PhaseDistribution {
    readonly min: number;
    readonly typical: number;
    readonly max: number;
    /** Public source(s) of the figures. */
    readonly source: string;
    /** True when the figures are our estimate, not a published or measured figure. */
    readonly estimate?: boolean;
    /** True when measured on the e2e suite's real control plane. */
    readonly measured?: boolean;
}

export type ColdStartPath = Readonly<Record<PhaseName, PhaseDistribution>>;

const zero = (why: string): PhaseDistribution => ({ min: 0, typical: 0, max: 0, source: why });

const E2E = "tests/e2e/README.md \"Figures\": arrival → replicas: 1 p50 16-22 ms, replicas: 1 → pod created ~50-100 ms (real kube-apiserver, kube-controller-manager, KEDA v2.20.2)";
const PROBES =
    "startup probe every 1 s + readiness probe every 2 s (components/manifests/model/inferenceService.ts; docs/performance.md step 7) + EndpointSlice → first byte 0.9 ms p50 / 5.7 ms p99 (docs/performance.md, cold-path bench)";

/** The budget per path. */
export const coldStartBudget: Readonly<Record<"today" | "fast" | "warmNode", ColdStartPath>> = {
    today: {
        activation: { min: 0.066, typical: 0.1, max: 0.122, source: E2E, measured: true },
        provisioning: {
            min: 30,
            typical: 35,
            max: 40,
            source:
                "cluster-autoscaler ignores unschedulable GPU pods for 30 s (unschedulablePodWithGpuTimeBuffer, kubernetes/autoscaler cluster-autoscaler/core/static_autoscaler.go) and scans every 10 s (--scan-interval default); our pod-scale-up-delay (max(30 s, pollingSeconds + 15 s), components/config/coldStart.ts) runs in parallel",
        },
        nodeReady: {
            min: 120,
            typical: 210,
            max: 410,
            source:
                "no public p4d figure: 2-5 min assumed for a managed node group boot + NVIDIA device plugin; 284 s provisioning + 126 s node initialization measured for an A100 node on AKS (github.com/kaito-project/kaito/issues/2325)",
            estimate: true,
        },
        imagePull: {
            min: 101,
            typical: 360,
            max: 600,
            source:
                "101 s for a 5.6 GB vLLM image (kaito-project/kaito#2325); 4-6 min for 15-20 GB images (AWS containers blog on SOCI); 10-15 GB through the NAT gateway onto gp3 at 500 MiB/s: 4-10 min (cold-start issue 17)",
        },
        weights: {
            min: 64,
            typical: 250,
            max: 400,
            source: "16 GB fp16 weights: ~250 s from Hugging Face (cold-start issue 17); ~1 min at ~250 MB/s (docs/performance.md step 5); max is our estimate",
        },
        engineStart: {
            min: 77,
            typical: 88,
            max: 95,
            source:
                "vLLM start without compile caches 80-95 s (cold-start issue 17); 16 s + 18 s loading + 43 s compile before profiling for a 35B MoE (github.com/vllm-project/vllm/issues/44881)",
        },
        firstByte: { min: 0.1, typical: 1.5, max: 3.1, source: PROBES },
    },
    fast: {
        activation: { min: 0.066, typical: 0.1, max: 0.122, source: E2E, measured: true },
        provisioning: {
            min: 1,
            typical: 2,
            max: 10,
            source: "Karpenter batches pending pods for batchIdleDuration 1 s up to batchMaxDuration 10 s (karpenter.sh settings docs), then calls EC2 CreateFleet",
        },
        nodeReady: { min: 45, typical: 90, max: 180, source: "~45 s provisioning reported (github.com/tensorfuse/tensorfuse-examples/issues/1); rest our estimate", estimate: true },
        imagePull: { min: 30, typical: 60, max: 120, source: "ECR pull-through cache in-region onto RAID0 NVMe; our estimate", estimate: true },
        weights: { min: 10, typical: 20, max: 40, source: "16 GB streamed from S3 by vLLM's Run:ai streamer at ~1-2 GB/s; our estimate", estimate: true },
        engineStart: { min: 60, typical: 80, max: 95, source: "first start on a new node: no compile cache yet (as today's path, less the weight load); our estimate", estimate: true },
        firstByte: { min: 0.1, typical: 1.5, max: 3.1, source: PROBES },
    },
    warmNode: {
        activation: { min: 0.066, typical: 0.1, max: 0.122, source: E2E, measured: true },
        provisioning: zero("a node with room is up"),
        nodeReady: zero("a node with room is up"),
        imagePull: zero("the image is on the node"),
        weights: { min: 5, typical: 10, max: 20, source: "16 GB from the node's NVMe cache (or streamed from S3); our estimate", estimate: true },
        engineStart: {
            min: 10,
            typical: 15,
            max: 25,
            source: "vLLM with TORCHINDUCTOR_CACHE_DIR and Triton caches on the node skips compilation; our estimate against the ≤ 30 s goal of issue 17",
            estimate: true,
        },
        firstByte: { min: 0.1, typical: 1.5, max: 3.1, source: PROBES },
    },
};

/** Sum of the phases of a path: min, typical and max seconds. */
export function pathTotal(path: ColdStartPath): { min: number; typical: number; max: number } {
    let min = 0;
    let typical = 0;
    let max = 0;
    for (const name of phaseNames) {
        min += path[name].min;
        typical += path[name].typical;
        max += path[name].max;
    }
    return { min, typical, max };
}

/**
 * What a stack configures for one GPU model, as far as its cold start goes (config: the model's pool's
 * `provisioner`, `imageCache.pullThroughCache`, the model's runtime and `nodeCache`, the pool's `warm`).
 */
export interface PathInUse {
    /** Who adds a GPU node: Karpenter (batches 1-10 s) or cluster-autoscaler (30 s GPU buffer, managed node group). */
    readonly provisioner: "karpenter" | "cluster-autoscaler";
    /** Images from ECR in the region (pull-through cache) or from their upstream registries through the NAT gateway. */
    readonly images: "ecr" | "upstream";
    /** How weights arrive: KServe's storage initializer, vLLM's Run:ai streamer from S3, or the server into the node cache. */
    readonly weights: "storageInitializer" | "streamed" | "nodeCache";
    /** Whether the pool keeps warm nodes (always or on a schedule). */
    readonly warmNodes: boolean;
}

/** The factor on a phase's published or estimated maximum that its hold budget gets: the figures are not verified on AWS. */
export const holdMargin = 2;

/**
 * The phases of the slowest cold start this path allows: a new node, no image on it, empty caches. Warm nodes and the
 * node cache do not shorten it: a warm node may be taken by another model, and a node the provisioner just added has
 * neither the image nor the cache. Per phase, Karpenter takes `fast`'s provisioning and node figures, ECR images
 * `fast`'s pull, streamed weights `fast`'s weights and engine start; everything else is `today`'s.
 */
export function slowestPhases(path: PathInUse): ColdStartPath {
    const { today, fast } = coldStartBudget;
    return {
        activation: today.activation,
        provisioning: path.provisioner === "karpenter" ? fast.provisioning : today.provisioning,
        nodeReady: path.provisioner === "karpenter" ? fast.nodeReady : today.nodeReady,
        imagePull: path.images === "ecr" ? fast.imagePull : today.imagePull,
        weights: path.weights === "streamed" ? fast.weights : today.weights,
        engineStart: path.weights === "streamed" ? fast.engineStart : today.engineStart,
        firstByte: today.firstByte,
    };
}

/** Per-phase hold budgets, in seconds, as the stack config names them (`models[].coldStart` and the node phase). */
export interface PhaseBudgets {
    readonly nodeSeconds: number;
    readonly imagePullSeconds: number;
    readonly downloadSeconds: number;
    readonly startupSeconds: number;
}

const budgetOf = (seconds: number) => Math.ceil((holdMargin * seconds) / 10) * 10;

/**
 * The per-phase budgets a path gives a GPU model whose config leaves them out, from `defaults` (today's path: the
 * node phase is cluster-autoscaler's `--max-node-provision-time`, the others the model kind's defaults, config/
 * coldStart.ts). Karpenter: the node phase is `holdMargin` × (provisioning + node ready maxima); ECR images: the pull
 * at most `holdMargin` × its maximum; streamed weights: no download phase (the streamer loads while the server
 * starts, inside `startupSeconds`). The node cache changes no total: the server downloads inside its startup (the
 * startup probe gets both, manifests/model/inferenceService.ts). Budgets are rounded up to 10 s and never above
 * `defaults`.
 */
export function pathPhaseBudgets(path: PathInUse, defaults: PhaseBudgets): PhaseBudgets {
    const phases = slowestPhases(path);
    return {
        nodeSeconds: path.provisioner === "karpenter" ? Math.min(defaults.nodeSeconds, budgetOf(phases.provisioning.max + phases.nodeReady.max)) : defaults.nodeSeconds,
        imagePullSeconds: path.images === "ecr" ? Math.min(defaults.imagePullSeconds, budgetOf(phases.imagePull.max)) : defaults.imagePullSeconds,
        downloadSeconds: path.weights === "streamed" ? 0 : defaults.downloadSeconds,
        startupSeconds: defaults.startupSeconds,
    };
}
