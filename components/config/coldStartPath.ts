/**
 * The hold budget derived from the path the stack configures (issue 17, "Done when"): for each GPU model, the
 * cold-start path its config gives it (domain/coldStartBudget.ts `PathInUse`: its pool's provisioner, ECR images,
 * how its weights arrive, warm nodes) sets the defaults of the per-phase budgets it leaves out, and the default hold
 * (`coldStartTimeoutSeconds`) is their sum (config/coldStart.ts `coldStartBudget`). CPU models keep today's rule (they
 * run on the system nodes, a managed node group under cluster-autoscaler).
 */
import { pathPhaseBudgets, type PathInUse } from "../domain/coldStartBudget";
import { coldStartBudget, coldStartDefaults, type ColdStartPhases } from "./coldStart";
import { gpuNodeGroupOf, isLlmFormat, streamingRuntimeName, type ModelConfig } from "./models";
import { cachedPools, usesNodeCache } from "./nodeCache";

export interface PathConfig {
    gpuNodeGroups: readonly { name: string; provisioner: "karpenter" | "cluster-autoscaler"; warm?: unknown }[];
    imageCache: { pullThroughCache: boolean };
    nodeCache: boolean;
}

/** The path a GPU model's cold start takes with this config; undefined for a CPU model or one with no GPU pool. */
export function coldStartPathOf(config: PathConfig, model: ModelConfig): PathInUse | undefined {
    const poolName = model.gpus > 0 ? gpuNodeGroupOf(model, config.gpuNodeGroups.map((g) => g.name)) : undefined;
    const pool = config.gpuNodeGroups.find((g) => g.name === poolName);
    if (!pool) return undefined;
    return {
        provisioner: pool.provisioner,
        images: config.imageCache.pullThroughCache ? "ecr" : "upstream",
        weights: model.runtime === streamingRuntimeName ? "streamed" : usesNodeCache(model, pool.name, cachedPools(config)) ? "nodeCache" : "storageInitializer",
        warmNodes: pool.warm !== undefined,
    };
}

/**
 * `model` with the per-phase budgets it left out taken from its path, and its default hold their sum with a node
 * phase of the path's (cluster-autoscaler: `nodeProvisionSeconds`, its `--max-node-provision-time`). A budget or hold
 * the config sets stays as set.
 */
export function withPathBudgets(config: PathConfig, model: ModelConfig, nodeProvisionSeconds: number): ModelConfig {
    const path = coldStartPathOf(config, model);
    if (!path) {
        return model.coldStartTimeoutExplicit ? model : { ...model, coldStartTimeoutSeconds: coldStartBudget(model, nodeProvisionSeconds).totalSeconds };
    }
    const kind: ColdStartPhases = coldStartDefaults[isLlmFormat(model.format) ? "llm" : "gpu"];
    const derived = pathPhaseBudgets(path, { nodeSeconds: nodeProvisionSeconds, ...kind });
    const set = Object.fromEntries(model.coldStartSet.map((k) => [k, model.coldStart[k]]));
    const coldStart = { imagePullSeconds: derived.imagePullSeconds, downloadSeconds: derived.downloadSeconds, startupSeconds: derived.startupSeconds, ...set };
    const total = coldStartBudget({ ...model, coldStart }, derived.nodeSeconds).totalSeconds;
    return { ...model, coldStart, coldStartTimeoutSeconds: model.coldStartTimeoutExplicit ? model.coldStartTimeoutSeconds : total };
}
