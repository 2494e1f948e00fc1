/**
 * Models as the components receive them: parsed by the real stack config loader, defaults filled in.
 */
import type { ModelConfig } from "../../../../components/config/models";
import { parseStackConfig, type StackConfig } from "../../../../components/config/stack";
import { reachableApi } from "../../config/stackFiles";

export const qwenUri = "hf://Qwen/Qwen2.5-0.5B-Instruct:7ae557604adf67be50417f59c2c2f167def9a775";
export const irisUri = "gs://kfserving-examples/models/sklearn/1.0/model";

/** A vLLM model on one A100 and a CPU sklearn model, as the dev stack ships them. */
export const llmModel = { name: "qwen", format: "vllm", storageUri: qwenUri, gpus: 1, cpu: "8", memory: "48Gi", maxReplicas: 2 };
export const cpuModel = { name: "iris", format: "sklearn", storageUri: irisUri, cpu: "1", memory: "2Gi" };

/** The value `stackWith` sets for an API key secret named `name`. */
export const testApiKey = (name: string): string => `sk-test-0123456789-${name}`;

/**
 * The stack config with these models (raw JSON objects) and activator settings, one A100 group "a100"; every
 * `hfTokenSecret` a model names is set (to `test-token-<key>`), and every `apiKeySecrets` name of the activator (to
 * `testApiKey(name)`), as `pulumi config set --secret` would.
 */
export function stackWith(models: object[], activator: object = {}): StackConfig {
    const apiKeySecrets = "apiKeySecrets" in activator && Array.isArray(activator.apiKeySecrets) ? (activator.apiKeySecrets as string[]) : [];
    const secrets = [
        ...models.flatMap((m) => ("hfTokenSecret" in m ? [[`gpu-serverless:${m.hfTokenSecret}`, `test-token-${m.hfTokenSecret}`]] : [])),
        ...models.flatMap((m) =>
            "gcsCredentialsSecret" in m ? [[`gpu-serverless:${m.gcsCredentialsSecret}`, JSON.stringify({ type: "service_account", private_key: "test" })]] : [],
        ),
        ...apiKeySecrets.map((name) => [`gpu-serverless:${name}`, testApiKey(name)]),
    ];
    return parseStackConfig({
        ...reachableApi,
        "gpu-serverless:gpuNodeGroups": JSON.stringify([{ name: "a100", instanceType: "p4d.24xlarge" }]),
        "gpu-serverless:models": JSON.stringify(models),
        "gpu-serverless:activator": JSON.stringify(activator),
        ...Object.fromEntries(secrets),
    });
}

/** Parsed models, in the order given. */
export function parseModels(...models: object[]): ModelConfig[] {
    return stackWith(models).models;
}

/** The A100 group's scheduling as the platform hands it out. */
export const a100Scheduling = {
    nodeSelector: { "gpu-serverless/node-group": "a100", "gpu-serverless/accelerator": "nvidia-a100" },
    tolerations: [{ key: "nvidia.com/gpu", operator: "Equal", value: "true", effect: "NoSchedule" }],
};
