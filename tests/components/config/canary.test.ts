/**
 * `models[].canary` in the stack: validation (one line naming the key), the canary deployed as an InferenceService
 * of its own through the same builders (name, weights, served name, resources, its own ScaledObject with one
 * external-push trigger naming `<ns>/<name>-canary` plus the model's cron pre-warm), and the activator's config.
 */
import * as assert from "node:assert/strict";
import { parseActivatorConfig } from "../../../activator/src/index";
import { canaryVersion, deployedVersions } from "../../../components/config/canary";
import { activatorConfig, activatorConfigFile } from "../../../components/manifests/activator/config";
import { inferenceServiceManifest } from "../../../components/manifests/model/inferenceService";
import { scaledObjectManifest } from "../../../components/manifests/model/scaledObject";
import { withPrewarmTriggers } from "../../../components/manifests/warm/warmCapacity";
import { parseStackConfig } from "../../../components/config/stack";
import { reachableApi } from "./stackFiles";
import { a100Scheduling, cpuModel, irisUri, llmModel, qwenUri, stackWith } from "../manifests/model/fixtures";

const qwenV2 = "hf://Qwen/Qwen2.5-1.5B-Instruct:989aa7980e4cf806f80c7fef2b1adb7bc71aa306";
const prewarm = [{ timezone: "Europe/Paris", start: "0 8 * * 1-5", end: "0 19 * * 1-5", desiredReplicas: 2 }];
const withKeys = { apiKeySecrets: ["clientKey"] };

function stackErrors(models: object[], activator: object = withKeys): string[] {
    try {
        stackWith(models, activator);
    } catch (err) {
        return String((err as Error).message).split("\n").map((l) => l.trim());
    }
    assert.fail("expected the stack config to be refused");
}
const refusedWith = (models: object[], line: string, activator?: object) => {
    const errors = stackErrors(models, activator);
    assert.ok(errors.some((e) => e.includes(line)), `"${line}" not in:\n${errors.join("\n")}`);
};

describe("stack: model canary", () => {
    const llm = { ...llmModel, prewarm, canary: { storageUri: qwenV2, trafficPercent: 10, memory: "64Gi" } };
    const stack = stackWith([llm, { ...cpuModel, canary: { storageUri: "gs://kfserving-examples/models/sklearn/1.1/model", trafficPercent: 50, stickiness: { by: "header" } } }], withKeys);
    const [qwen, iris] = stack.models;

    it("deploys each model and then its canary as an InferenceService of its own", () => {
        assert.deepEqual(deployedVersions(stack.models).map((m) => m.name), ["qwen", "qwen-canary", "iris", "iris-canary"]);
    });

    it("the canary's InferenceService: its weights and resources, the model's served name and GPU scheduling", () => {
        const isvc = inferenceServiceManifest(canaryVersion(qwen!), { serviceAccountName: "qwen-canary-model", gpuScheduling: a100Scheduling });
        assert.equal(isvc.metadata.name, "qwen-canary");
        const model = isvc.spec.predictor.model as { storageUri: string; args: string[]; resources: { limits: Record<string, string> } };
        assert.equal(model.storageUri, qwenV2);
        assert.ok(model.args.includes("--model_name=qwen"), `args ${model.args.join(" ")}: the canary answers to the stable's OpenAI model name`);
        assert.equal(model.resources.limits["memory"], "64Gi");
        assert.equal(model.resources.limits["nvidia.com/gpu"], "1", "GPUs default to the model's");

        const irisIsvc = inferenceServiceManifest(canaryVersion(iris!), { serviceAccountName: "iris-canary-model" });
        const irisArgs = (irisIsvc.spec.predictor.model as { args: string[] }).args;
        assert.deepEqual(irisArgs, ["--model_name=iris"], "KServe's sklearn server answers /v2/models/iris, not iris-canary");
        assert.notEqual(irisUri, (irisIsvc.spec.predictor.model as { storageUri: string }).storageUri);
    });

    it("the canary's ScaledObject: one external-push trigger naming <ns>/<name>-canary, scale to zero, the model's cron pre-warm", () => {
        const so = withPrewarmTriggers(scaledObjectManifest(canaryVersion(qwen!), { scalerAddress: "activator-scaler.activator.svc:9090" }), canaryVersion(qwen!).prewarm);
        assert.equal(so.metadata.name, "qwen-canary");
        assert.equal(so.spec.scaleTargetRef.name, "qwen-canary-predictor");
        assert.equal(so.spec.minReplicaCount, 0);
        assert.equal(so.spec.maxReplicaCount, 2);
        const types = so.spec.triggers.map((t: { type: string }) => t.type);
        assert.deepEqual(types, ["external-push", "cron"]);
        assert.equal((so.spec.triggers[0] as { metadata: Record<string, string> }).metadata["model"], "models/qwen-canary");
    });

    it("the activator's config: the canary's predictor Service and the split; valid for the activator", () => {
        const config = activatorConfig(stack.models, stack.activator);
        const parsed = parseActivatorConfig(JSON.parse(activatorConfigFile(config)));
        assert.ok(parsed.ok);
        const [q, i] = parsed.config.models;
        assert.deepEqual(q!.canary, {
            backend: "http://qwen-canary-predictor.models.svc.cluster.local",
            serviceName: "qwen-canary-predictor",
            trafficPercent: 10,
            stickiness: { by: "api-key", header: "x-session-id" },
            coldPolicy: "strict",
        });
        assert.equal(i!.canary!.stickiness.by, "header");
        assert.equal(parsed.config.models.length, 2, "the canary is not a routed model of its own");
    });

    it("refuses bad canaries in one line naming the key", () => {
        refusedWith([{ ...llmModel, canary: { storageUri: qwenV2, trafficPercent: 120 } }], "models[0].canary.trafficPercent: must be between 0 and 100");
        refusedWith([{ ...llmModel, canary: { storageUri: "hf://Qwen/Qwen2.5-1.5B-Instruct", trafficPercent: 5 } }], "models[0].canary.storageUri:");
        refusedWith([{ ...llmModel, canary: { storageUri: qwenUri, trafficPercent: 5 } }], "models[0].canary.storageUri: the canary serves the same weights and arguments as the model");
        refusedWith([{ ...llmModel, canary: { storageUri: qwenV2, trafficPercent: 5, gpus: 0 } }], "models[0].canary.gpus: must be at least 1");
        refusedWith([{ ...llmModel, canary: { storageUri: qwenV2, trafficPercent: 5, minReplicas: 3 } }], "models[0].canary.minReplicas: must not exceed canary.maxReplicas (2)");
        refusedWith([{ ...llmModel, canary: { storageUri: qwenV2, trafficPercent: 5 } }], "models[0].canary.stickiness.by: api-key needs activator.apiKeySecrets", {});
        refusedWith([{ ...llmModel, name: "q".repeat(45), canary: { storageUri: qwenV2, trafficPercent: 5 } }], "models[0].name: with a canary, at most 41 characters");
        refusedWith(
            [{ ...llmModel, canary: { storageUri: qwenV2, trafficPercent: 5 } }, { ...cpuModel, name: "qwen-canary" }],
            'models[1].name: "qwen-canary" is the InferenceService of models[0].canary; rename one',
        );
        refusedWith([{ ...cpuModel, format: "triton", gpus: 1, canary: { storageUri: "s3://models/iris/v2", trafficPercent: 5 } }], "models[0].canary: not offered for triton models");
    });

    it("accepts a model without a canary exactly as before", () => {
        const plain = parseStackConfig({ ...reachableApi, "gpu-serverless:models": JSON.stringify([cpuModel]) }).models[0]!;
        assert.equal(plain.canary, undefined);
        assert.deepEqual(deployedVersions([plain]), [plain]);
    });
});
