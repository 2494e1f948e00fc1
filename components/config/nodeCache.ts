/**
 * `nodeCache` (stack key): the node-local NVMe cache for `hf://` LLM weights and vLLM's compile caches
 * (manifests/model/nodeCache.ts has the design; manifests/nodeCache/agent.ts the agent). Default false.
 *
 * When true, every GPU pool with `provisioner: karpenter` gets it (its EC2NodeClass stripes the instance store into
 * the RAID0 mount the cache lives on; managed node groups have no such mount), and every `hf://` vllm/huggingface
 * model on such a pool uses it. Off by default because it is a scheduling constraint: a model pod with the cache
 * volume only lands on a node with a free cache PersistentVolume (one per GPU), so the agent must be running; and
 * because it is not verified on AWS (no GPU node here). Turn it on per stack: `pulumi config set nodeCache true`.
 */
import { z } from "zod";
import { isLlmFormat, streamingRuntimeName, type ModelConfig } from "./models";

type CacheModel = Pick<ModelConfig, "format" | "storageUri" | "gpus" | "runtime">;

export const nodeCacheSchema = z.boolean({ error: (iss) => `${JSON.stringify(iss.input)} is not true or false` }).default(false);

/** The GPU pools that get the cache: the Karpenter ones, when `nodeCache` is on. */
export function cachedPools(config: { nodeCache: boolean; gpuNodeGroups: readonly { name: string; provisioner: string }[] }): string[] {
    return config.nodeCache ? config.gpuNodeGroups.filter((g) => g.provisioner === "karpenter").map((g) => g.name) : [];
}

/** Why `nodeCache` cannot be on with these pools, or undefined. */
export function nodeCacheProblem(config: { nodeCache: boolean; gpuNodeGroups: readonly { provisioner: string }[] }): string | undefined {
    if (config.nodeCache && !config.gpuNodeGroups.some((g) => g.provisioner === "karpenter")) {
        return "needs a gpuNodeGroups entry with provisioner karpenter: the cache lives on the RAID0 instance-store mount its EC2NodeClass makes";
    }
    return undefined;
}

/**
 * Whether `model` gets the node cache when the stack turns it on: an `hf://` LLM (vllm or huggingface format, both
 * KServe's Hugging Face server) on GPUs, with KServe's runtime (the streaming runtime reads `s3://` only), on a pool
 * whose nodes have the cache (`cachedPools`: the Karpenter pools).
 */
export function usesNodeCache(model: CacheModel, pool: string | undefined, cachedPools: readonly string[]): boolean {
    return nodeCacheEligible(model) && pool !== undefined && cachedPools.includes(pool);
}

/** An `hf://` LLM on GPUs with KServe's Hugging Face server: what the node cache can serve. */
export function nodeCacheEligible(model: CacheModel): boolean {
    return isLlmFormat(model.format) && model.storageUri.startsWith("hf://") && model.gpus > 0 && model.runtime !== streamingRuntimeName;
}
