/**
 * The activator's own configuration file, generated from the models, as plain data. The Activator component mounts
 * it from a ConfigMap; the activator validates it with the same schema (`activatorConfigSchema`) and reloads it
 * when the ConfigMap changes, so adding a model needs no restart.
 */
import { type ActivatorConfigInput, activatorConfigSchema, apiKeyDigestsFile, parseActivatorConfig } from "../../../activator/src/index";
import type { ActivatorStackConfig, ModelConfig } from "../../config/models";
import { canaryVersion } from "../../config/canary";
import { backendUrl, predictorName } from "../model/predictor";
import { readinessPathFor } from "../model/vllmRuntime";
import { activatorPorts, apiKeysDir, apiKeysFileName, peerTokenDir, peerTokenFileName, serviceNames } from "./names";

/** The API keys Secret's data: the file of their SHA-256 digests, in the activator's own format. Never the keys. */
export function apiKeysSecretData(keys: readonly string[]): Record<string, string> {
    return { [apiKeysFileName]: apiKeyDigestsFile(keys) };
}

export function activatorConfig(
    models: readonly ModelConfig[],
    stack: Pick<ActivatorStackConfig, "shutdownGraceSeconds" | "apiKeySecrets" | "limits" | "namespace"> & Partial<Pick<ActivatorStackConfig, "corsAllowedOrigins" | "queueReads">>,
): ActivatorConfigInput {
    return {
        listeners: {
            proxy: { host: "0.0.0.0", port: activatorPorts.proxy },
            scaler: { host: "0.0.0.0", port: activatorPorts.scaler },
            admin: { host: "0.0.0.0", port: activatorPorts.admin },
        },
        // In the cluster, readiness comes from the predictor Service's EndpointSlices, not from polling.
        readiness: { mode: "kubernetes" },
        shutdownGraceSeconds: stack.shutdownGraceSeconds,
        // Written always: the activator's own default (`*`, as vLLM) is for running it alone; the stack's is off.
        cors: { allowedOrigins: stack.corsAllowedOrigins ?? [] },
        limits: { ...stack.limits },
        // Replicas share their demand (KEDA talks to one of them): peers are the headless Service's endpoints.
        // The shared token (a generated Secret) keeps anyone else from reporting demand on the admin port.
        peers: {
            kubernetes: { namespace: stack.namespace, service: serviceNames.pods, port: activatorPorts.admin },
            tokenFile: `${peerTokenDir}/${peerTokenFileName}`,
        },
        // With API keys, the activator serves no request without one (the Secret holding their digests is mounted here).
        ...(stack.apiKeySecrets.length > 0 ? { auth: { apiKeysFile: `${apiKeysDir}/${apiKeysFileName}` } } : {}),
        // Queue load scaling (docs/queue-scaling.md): how the queues' depths are read.
        ...(stack.queueReads ? { queueReads: stack.queueReads } : {}),
        models: models.map((model) => ({
            name: model.name,
            namespace: model.namespace,
            backend: backendUrl(model),
            serviceName: predictorName(model),
            // Probe mode only: vLLM's own server (our streaming runtime) has no /v2/health/ready.
            readinessPath: readinessPathFor(model),
            hosts: model.routing.hosts,
            ...(model.routing.pathPrefix !== undefined ? { pathPrefix: model.routing.pathPrefix } : {}),
            openaiModels: model.routing.openaiModels,
            ...(model.routing.kserve !== undefined ? { kserve: model.routing.kserve } : {}),
            coldStartTimeoutSeconds: model.coldStartTimeoutSeconds,
            requestTimeoutSeconds: model.requestTimeoutSeconds,
            targetConcurrency: model.targetConcurrency,
            maxPending: model.maxPending,
            ...(model.maxConcurrencyPerReplica !== undefined ? { maxConcurrencyPerReplica: model.maxConcurrencyPerReplica } : {}),
            upstreamKeepAliveSeconds: model.upstreamKeepAliveSeconds,
            // Straight to the ready endpoints of the predictor's EndpointSlices (the model NetworkPolicy admits the
            // activator on the model server port, which is what those endpoints carry).
            replicaChoice: { policy: model.routing.replicaChoice },
            // vLLM's own gauges, read by the activator from each ready replica: no Prometheus in the scaling path.
            // With the engine's max_num_seqs: replica choice counts a replica that many requests in as full.
            ...(model.vllm ? { vllm: { waitingRequestsPerReplica: model.vllm.waitingRequestsPerReplica, kvCacheUsage: model.vllm.kvCacheUsage, maxNumSeqs: vllmMaxNumSeqs(model.runtimeArgs) } } : {}),
            // The canary's own InferenceService (config/canary.ts); the activator draws each request's version.
            ...(model.canary ? { canary: activatorCanary(model) } : {}),
            // SQS backlog as demand, read by the activator through its own IAM role (components/resources/activator.ts).
            ...(model.queueScaling ? { queueScaling: model.queueScaling } : {}),
        })),
    };
}

/**
 * vLLM's default `max_num_seqs` for the OpenAI server on this stack's GPUs: `EngineArgs.get_batch_defaults`
 * (vllm/engine/arg_utils.py) gives `UsageContext.OPENAI_API_SERVER` 1024 only on devices with ≥ 70 GiB whose name
 * does not contain "a100", else 256; the stack's GPU nodes are A100s (p4d/p4de), and KServe's huggingfaceserver builds
 * its engine config with `UsageContext.OPENAI_API_SERVER` (huggingfaceserver/vllm/utils.py).
 */
export const VLLM_DEFAULT_MAX_NUM_SEQS = 256;

/**
 * The engine's `max_num_seqs` from the model's runtime arguments: the last `--max-num-seqs N` / `--max-num-seqs=N`
 * (also spelt with underscores, which vLLM's parser accepts) wins, as argparse keeps the last; without one, vLLM's
 * default (VLLM_DEFAULT_MAX_NUM_SEQS). Throws on a value that is not a positive integer. Per engine: a
 * `--data-parallel-size` above 1 is not multiplied in.
 */
export function vllmMaxNumSeqs(runtimeArgs: readonly string[]): number {
    let value: string | undefined;
    runtimeArgs.forEach((arg, i) => {
        const m = /^--max[-_]num[-_]seqs(?:=(.*))?$/.exec(arg);
        if (m) value = m[1] ?? runtimeArgs[i + 1] ?? "";
    });
    if (value === undefined) return VLLM_DEFAULT_MAX_NUM_SEQS;
    if (!/^[1-9][0-9]*$/.test(value)) throw new Error(`runtimeArgs --max-num-seqs: ${JSON.stringify(value)} is not a positive integer`);
    return Number(value);
}

/** A model's `canary` in the activator's config: the canary InferenceService's predictor Service and the split. */
function activatorCanary(model: ModelConfig): NonNullable<ActivatorConfigInput["models"][number]["canary"]> {
    const version = canaryVersion(model);
    const { trafficPercent, stickiness, coldPolicy } = model.canary!;
    return { backend: backendUrl(version), serviceName: predictorName(version), trafficPercent, stickiness, coldPolicy };
}

/** Every queue ARN the models list (`queueScaling.sqsQueueArns`), each once: what the activator's IAM role may read. */
export function configuredQueueArns(models: readonly Pick<ModelConfig, "queueScaling">[]): string[] {
    return [...new Set(models.flatMap((m) => m.queueScaling?.sqsQueueArns ?? []))];
}

/** The ConfigMap file content: JSON, checked against the activator's schema so a bad file never reaches the cluster. */
export function activatorConfigFile(config: ActivatorConfigInput): string {
    const result = parseActivatorConfig(config);
    if (!result.ok) throw new Error(`generated activator config is invalid:\n  ${result.errors.join("\n  ")}`);
    return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * TCP idle timeout asked of the NLB listener: a held request sends no byte until its model is ready, so the load
 * balancer must not cut it before the activator's own request timeout (which bounds holding). NLBs accept 60..6000 s.
 * Only the AWS Load Balancer Controller applies it; the NLB the in-tree cloud provider makes keeps AWS's fixed 350 s
 * (see docs/cold-start.md, "Long holds behind the NLB").
 */
export function nlbIdleTimeoutSeconds(config: ActivatorConfigInput): number {
    const { limits } = activatorConfigSchema.parse(config);
    return Math.min(6000, Math.max(60, Math.ceil(limits.requestTimeoutSeconds) + 30));
}
