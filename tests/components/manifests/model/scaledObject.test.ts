import * as assert from "node:assert/strict";
import { MODEL_METADATA_KEY } from "../../../../activator/src/index";
import { scalerAddress, scalerServiceManifest } from "../../../../components/manifests/activator/services";
import { activatorPodLabels } from "../../../../components/manifests/activator/names";
import { scaledObjectManifest } from "../../../../components/manifests/model/scaledObject";
import { crdErrors } from "../../../support/crds";
import { cpuModel, llmModel, parseModels } from "./fixtures";

describe("ScaledObject manifest", () => {
    const [llm, cpu] = parseModels({ ...llmModel, minReplicas: 0, maxReplicas: 3, cooldownSeconds: 600 }, cpuModel);
    const options = { scalerAddress: scalerAddress("activator") };
    const llmScaled = scaledObjectManifest(llm, options);
    const cpuScaled = scaledObjectManifest(cpu, options);

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

    it("still carries one trigger with queueScaling, whose target is in the metadata so that KEDA rebuilds the HPA when it changes", () => {
        const arn = "arn:aws:sqs:us-west-2:123456789012:jobs";
        const [a, b] = parseModels({ ...cpuModel, queueScaling: { sqsQueueArns: [arn] } }, { ...cpuModel, name: "iris-b", queueScaling: { sqsQueueArns: [arn], messagesPerReplica: 50 } });
        const [soA, soB] = [scaledObjectManifest(a!, options), scaledObjectManifest(b!, options)];
        assert.deepEqual(crdErrors(soA), []);
        assert.equal(soA.spec.triggers.length, 1, "no aws-sqs-queue trigger: an SQS error would keep KEDA from scaling to zero");
        assert.equal(soA.spec.triggers[0]!.metadata.queueMessagesPerReplica, "5");
        assert.equal(soB.spec.triggers[0]!.metadata.queueMessagesPerReplica, "50");
        assert.equal((cpuScaled.spec.triggers[0]!.metadata as Record<string, string>).queueMessagesPerReplica, undefined);
    });

    it("carries exactly one trigger, external-push to the activator's scaler Service, for LLMs and other models alike", () => {
        // KEDA v2.20.2 never scales a ScaledObject to zero while any trigger errors (scale_handler.go getScaledObjectState,
        // executor/scale_scaledobjects.go RequestScale): a second trigger (Prometheus, a per-pod address) could pin GPUs.
        for (const [so, key] of [[llmScaled, "models/qwen"], [cpuScaled, "models/iris"]] as const) {
            assert.deepEqual(so.spec.triggers, [
                {
                    type: "external-push",
                    name: "activator",
                    metricType: "AverageValue",
                    metadata: { scalerAddress: "activator-scaler.activator.svc.cluster.local:9090", [MODEL_METADATA_KEY]: key },
                },
            ]);
        }
    });

    it("addresses the scaler Service the Activator creates, on its gRPC port", () => {
        const service = scalerServiceManifest("activator");
        const [host, port] = llmScaled.spec.triggers[0]!.metadata.scalerAddress.split(":");
        assert.equal(host, `${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`);
        assert.equal(Number(port), service.spec.ports[0]!.port);
        assert.equal(service.spec.type, "ClusterIP", "one virtual IP: KEDA's one connection reaches one ready replica");
        assert.deepEqual(service.spec.selector, activatorPodLabels);
    });

    it("refuses a scaler address that is not host:port", () => {
        assert.throws(() => scaledObjectManifest(cpu, { scalerAddress: "activator-scaler" }), { message: /model "iris": scaler address "activator-scaler" is not host:port/ });
    });

    it("scales up at once and down slowly", () => {
        const { scaleUp, scaleDown } = llmScaled.spec.advanced.horizontalPodAutoscalerConfig.behavior;
        assert.equal(scaleUp.stabilizationWindowSeconds, 0);
        assert.ok(scaleUp.policies.every((p) => p.periodSeconds <= 15));
        assert.ok(scaleDown.stabilizationWindowSeconds >= 300);
        assert.deepEqual(scaleDown.policies, [{ type: "Pods", value: 1, periodSeconds: 60 }]);
    });
});
