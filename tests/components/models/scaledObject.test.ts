import * as assert from "node:assert/strict";
import { MODEL_METADATA_KEY } from "../../../activator/src/scaler/activity";
import { scaledObjectManifest } from "../../../components/models/scaledObject";
import { crdErrors } from "../../support/crds";
import { cpuModel, llmModel, parseModels } from "./fixtures";

describe("ScaledObject manifest", () => {
    const [llm, cpu] = parseModels({ ...llmModel, minReplicas: 0, maxReplicas: 3, cooldownSeconds: 600 }, cpuModel);
    const options = { scalerAddresses: ["activator-0.activator-pods.activator.svc.cluster.local:9090", "activator-1.activator-pods.activator.svc.cluster.local:9090"], prometheusUrl: "http://prometheus.monitoring.svc:9090" };
    const llmScaled = scaledObjectManifest(llm, options);
    const cpuScaled = scaledObjectManifest(cpu, options);
    const trigger = (so: typeof llmScaled, name: string) => so.spec.triggers.find((t) => t.name === name);

    it("validates against KEDA's v2.20.2 CRD", () => {
        assert.deepEqual(crdErrors(llmScaled), []);
        assert.deepEqual(crdErrors(cpuScaled), []);
    });

    it("scales the Deployment KServe creates, between the configured bounds", () => {
        assert.deepEqual(llmScaled.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: "qwen-predictor" });
        assert.deepEqual(
            [llmScaled.spec.minReplicaCount, llmScaled.spec.maxReplicaCount, llmScaled.spec.cooldownPeriod, llmScaled.spec.pollingInterval],
            [0, 3, 600, 15],
        );
        // Not the predictor's name, which KServe's own KEDA integration manages.
        assert.deepEqual([llmScaled.metadata.name, llmScaled.metadata.namespace], ["qwen", "models"]);
    });

    it("is activated by every activator replica over its own external-push trigger, naming the model under the key the activator reads", () => {
        for (const [so, key] of [[llmScaled, "models/qwen"], [cpuScaled, "models/iris"]] as const) {
            const pushes = so.spec.triggers.filter((t) => t.type === "external-push");
            assert.deepEqual(
                pushes.map((t) => [t.name, t.metadata]),
                options.scalerAddresses.map((scalerAddress, i) => [`activator-${i}`, { scalerAddress, [MODEL_METADATA_KEY]: key }]),
            );
        }
        const single = scaledObjectManifest(cpu, { ...options, scalerAddresses: ["a:9090"] });
        assert.deepEqual(single.spec.triggers.map((t) => t.name), ["activator-0"]);
        assert.deepEqual(crdErrors(single), []);
    });

    it("refuses to build a ScaledObject no activator could wake", () => {
        assert.throws(() => scaledObjectManifest(cpu, { ...options, scalerAddresses: [] }), { message: /model "iris": no activator scaler address/ });
    });

    it("scales LLMs out on vLLM's queue and KV-cache gauges of this model only; other models on requests alone", () => {
        const waiting = trigger(llmScaled, "vllm-waiting-requests");
        const cache = trigger(llmScaled, "vllm-kv-cache-usage");
        assert.deepEqual(waiting, {
            type: "prometheus",
            name: "vllm-waiting-requests",
            metricType: "AverageValue",
            metadata: {
                serverAddress: options.prometheusUrl,
                query: 'sum(vllm:num_requests_waiting{namespace="models",service="qwen-predictor"})',
                threshold: "5",
            },
        });
        assert.equal(cache?.metadata.query, 'sum(vllm:kv_cache_usage_perc{namespace="models",service="qwen-predictor"})');
        assert.equal(cache?.metadata.threshold, "0.8");
        assert.deepEqual(cpuScaled.spec.triggers.map((t) => t.type), ["external-push", "external-push"], "one per activator replica, nothing else");
    });

    it("takes the vLLM targets from the model config", () => {
        const [tuned] = parseModels({ ...llmModel, vllm: { waitingRequestsPerReplica: 2, kvCacheUsage: 0.5 } });
        const so = scaledObjectManifest(tuned, options);
        assert.deepEqual([trigger(so, "vllm-waiting-requests")?.metadata.threshold, trigger(so, "vllm-kv-cache-usage")?.metadata.threshold], ["2", "0.5"]);
    });

    it("scales up at once and down slowly", () => {
        const { scaleUp, scaleDown } = llmScaled.spec.advanced.horizontalPodAutoscalerConfig.behavior;
        assert.equal(scaleUp.stabilizationWindowSeconds, 0);
        assert.ok(scaleUp.policies.every((p) => p.periodSeconds <= 15));
        assert.ok(scaleDown.stabilizationWindowSeconds >= 300);
        assert.deepEqual(scaleDown.policies, [{ type: "Pods", value: 1, periodSeconds: 60 }]);
    });
});
