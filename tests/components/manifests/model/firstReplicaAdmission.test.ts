import * as assert from "node:assert/strict";
import { evaluate } from "@marcbachmann/cel-js";
import {
    firstReplicaBinding,
    firstReplicaPolicy,
    firstReplicaPolicyName,
    kedaHasCheckedExpression,
    requestsGpuExpression,
} from "../../../../components/manifests/model/firstReplicaAdmission";
import { inferenceServiceManifest } from "../../../../components/manifests/model/inferenceService";
import { predictorLabels } from "../../../../components/manifests/model/predictor";
import { scaledObjectManifest } from "../../../../components/manifests/model/scaledObject";
import { a100Scheduling, cpuModel, llmModel, parseModels } from "./fixtures";

const [gpuModel, cpu] = parseModels(llmModel, cpuModel);

/** The predictor pod KServe creates from our InferenceService (its model container's resources). */
function predictorPod(model: typeof gpuModel) {
    const isvc = inferenceServiceManifest(model, { serviceAccountName: "model", gpuScheduling: a100Scheduling });
    return { metadata: { labels: predictorLabels(model) }, spec: { containers: [{ name: "kserve-container", resources: isvc.spec.predictor.model.resources }] } };
}

const scaledObject = (status?: object) => ({ ...scaledObjectManifest(gpuModel, { scalerAddress: "activator-scaler.gpu-serverless:9090" }), ...(status ? { status } : {}) });
const active = (status: string) => ({ conditions: [{ type: "Ready", status: "True" }, { type: "Active", status }, { type: "Paused", status: "False" }] });

/** What the API server decides for a pod of the model, with the ScaledObject in this state. */
function admitted(pod: object, params: object): boolean {
    if (!evaluate(requestsGpuExpression, { object: pod })) return true; // matchConditions false: the policy does not apply
    return evaluate(kedaHasCheckedExpression, { object: pod, params }) === true;
}

describe("first-replica admission (a new GPU model boots no GPU node)", () => {
    it("refuses the GPU predictor pod until KEDA has checked the ScaledObject, then admits every later one", () => {
        const pod = predictorPod(gpuModel);
        assert.equal(admitted(pod, scaledObject()), false, "ScaledObject just created, no status yet");
        assert.equal(admitted(pod, scaledObject({ conditions: [{ type: "Ready", status: "Unknown" }, { type: "Active", status: "Unknown" }] })), false);
        assert.equal(admitted(pod, scaledObject(active("False"))), true, "checked, inactive: KEDA has already set zero replicas");
        assert.equal(admitted(pod, scaledObject(active("True"))), true, "checked, active: a cold start");
    });

    it("does not apply to CPU models' pods", () => {
        assert.equal(evaluate(requestsGpuExpression, { object: predictorPod(cpu) }), false);
        assert.equal(evaluate(requestsGpuExpression, { object: predictorPod(gpuModel) }), true);
    });

    it("binds each GPU model to its own ScaledObject and its own predictor pods", () => {
        const binding = firstReplicaBinding(gpuModel);
        assert.equal(binding.spec.policyName, firstReplicaPolicy().metadata.name);
        assert.equal(binding.spec.paramRef.name, scaledObject().metadata.name);
        assert.equal(binding.spec.paramRef.namespace, scaledObject().metadata.namespace);
        assert.equal(binding.spec.paramRef.parameterNotFoundAction, "Deny");
        for (const [key, value] of Object.entries(binding.spec.matchResources.objectSelector.matchLabels)) {
            assert.equal(predictorPod(gpuModel).metadata.labels[key as keyof ReturnType<typeof predictorLabels>], value);
        }
        assert.deepEqual(binding.spec.validationActions, ["Deny"]);
        assert.equal(firstReplicaPolicy().spec.paramKind.kind, scaledObject().kind);
        assert.equal(firstReplicaPolicy().spec.failurePolicy, "Fail");
        assert.match(binding.metadata.name, new RegExp(`^${firstReplicaPolicyName}-${gpuModel.namespace}-${gpuModel.name}$`));
    });

    it("refuses to bind a CPU model, naming it", () => {
        assert.throws(() => firstReplicaBinding(cpu), /model iris: the first-replica policy is for GPU models/);
    });
});
