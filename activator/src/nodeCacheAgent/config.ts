/**
 * The node-cache agent's configuration: JSON in the environment variable `NODE_CACHE_AGENT_CONFIG`, written by the
 * stack (components/manifests/nodeCache/agent.ts). Shape: {@link NodeCacheAgentConfig}. A bad value stops the agent
 * with one line per problem.
 */
import { z } from "zod";
import type { NodeCacheAgentConfig } from "./reconcile";

export const configEnvironmentVariable = "NODE_CACHE_AGENT_CONFIG";

const QUANTITY = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;

export const nodeCacheAgentConfigSchema = z.strictObject({
    storageClassName: z.string().min(1),
    hostPath: z.string().regex(/^\/\S+$/, "must be an absolute path on the node"),
    capacity: z.string().regex(QUANTITY, "must be a Kubernetes quantity such as 1Ti"),
    defaultSlots: z.int().min(1).max(64),
    nodeLabelSelector: z.string().min(1, "must select the GPU nodes (a label selector)"),
    label: z.strictObject({ key: z.string().min(1), value: z.string() }),
}) satisfies z.ZodType<NodeCacheAgentConfig>;

/** The config from `env`, or an Error naming each problem (`<field>: <what is wrong>`). */
export function agentConfigFrom(env: Record<string, string | undefined>): NodeCacheAgentConfig {
    const raw = env[configEnvironmentVariable];
    if (raw === undefined || raw === "") throw new Error(`${configEnvironmentVariable} is not set: it holds the agent's JSON config`);
    let parsed: unknown;
    try {
        parsed = JSON.parse(raw);
    } catch (e) {
        throw new Error(`${configEnvironmentVariable} is not JSON: ${(e as Error).message}`);
    }
    const result = nodeCacheAgentConfigSchema.safeParse(parsed);
    if (!result.success) {
        throw new Error(`${configEnvironmentVariable}: ${result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`);
    }
    return result.data;
}
