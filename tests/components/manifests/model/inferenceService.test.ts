import * as assert from "node:assert/strict";
import { inferenceServiceManifest, modelServerArgs, startupFailureThreshold } from "../../../../components/manifests/model/inferenceService";
import { crdErrors } from "../../../support/crds";
import { a100Scheduling, cpuModel, llmModel, parseModels } from "./fixtures";

describe("InferenceService manifest", () => {
    const [llm, cpu] = parseModels(llmModel, cpuModel);
    const llmIsvc = inferenceServiceManifest(llm, { serviceAccountName: "qwen-model", gpuScheduling: a100Scheduling });
    const cpuIsvc = inferenceServiceManifest(cpu, { serviceAccountName: "iris-model" });

    it("validates against KServe's v0.20.0 CRD, GPU and CPU alike", () => {
        assert.deepEqual(crdErrors(llmIsvc), []);
        assert.deepEqual(crdErrors(cpuIsvc), []);
        const withToken = inferenceServiceManifest({ ...llm, gpus: 4 }, { serviceAccountName: "q", gpuScheduling: a100Scheduling, hfTokenSecretName: "qwen-hf-token" });
        assert.deepEqual(crdErrors(withToken), []);
    });

    it("runs in Standard mode with the external autoscaler class, so the ScaledObject owns the replicas", () => {
        for (const isvc of [llmIsvc, cpuIsvc]) {
            assert.deepEqual(isvc.metadata.annotations, {
                "serving.kserve.io/deploymentMode": "Standard",
                "serving.kserve.io/autoscalerClass": "external",
            });
            assert.equal((isvc.spec.predictor as { scaleMetric?: unknown }).scaleMetric, undefined);
        }
        assert.deepEqual([llmIsvc.spec.predictor.minReplicas, llmIsvc.spec.predictor.maxReplicas], [0, 2]);
        assert.equal(llmIsvc.metadata.name, "qwen");
        assert.equal(llmIsvc.metadata.namespace, "models");
    });

    it("gives a GPU model its GPUs (requests = limits), the A100 group and the GPU toleration; a CPU model none of it", () => {
        const gpu = llmIsvc.spec.predictor;
        assert.deepEqual(gpu.model.resources, {
            requests: { cpu: "8", memory: "48Gi", "nvidia.com/gpu": "1" },
            limits: { cpu: "8", memory: "48Gi", "nvidia.com/gpu": "1" },
        });
        assert.deepEqual(gpu.nodeSelector, a100Scheduling.nodeSelector);
        assert.deepEqual(gpu.tolerations, a100Scheduling.tolerations);

        const plain = cpuIsvc.spec.predictor;
        assert.deepEqual(plain.model.resources, { requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "1", memory: "2Gi" } });
        assert.equal(plain.nodeSelector, undefined);
        assert.equal(plain.tolerations, undefined);
    });

    it("serves vLLM through KServe's Hugging Face runtime, with /dev/shm in memory and OpenAI routes at /v1", () => {
        assert.deepEqual(llmIsvc.spec.predictor.model.modelFormat, { name: "huggingface" });
        assert.equal(llmIsvc.spec.predictor.model.storageUri, llm.storageUri);
        assert.deepEqual(llmIsvc.spec.predictor.model.args, ["--model_name=qwen", "--backend=vllm"]);
        assert.deepEqual(llmIsvc.spec.predictor.volumes, [{ name: "dshm", emptyDir: { medium: "Memory", sizeLimit: "2Gi" } }]);
        assert.deepEqual(llmIsvc.spec.predictor.model.volumeMounts, [{ name: "dshm", mountPath: "/dev/shm" }]);
        assert.deepEqual(llmIsvc.spec.predictor.model.env, [{ name: "KSERVE_OPENAI_ROUTE_PREFIX", value: "" }]);

        assert.deepEqual(cpuIsvc.spec.predictor.model.modelFormat, { name: "sklearn" });
        for (const key of ["args", "env", "volumeMounts"] as const) assert.equal(cpuIsvc.spec.predictor.model[key], undefined, key);
        assert.equal(cpuIsvc.spec.predictor.volumes, undefined);
    });

    it("names the served model after the OpenAI route, splits multi-GPU models and keeps runtime args last", () => {
        const [multi] = parseModels({ ...llmModel, gpus: 4, routing: { openaiModels: ["qwen2.5-0.5b"] }, runtimeArgs: ["--max-model-len=4096"] });
        assert.deepEqual(modelServerArgs(multi), ["--model_name=qwen2.5-0.5b", "--backend=vllm", "--tensor-parallel-size=4", "--max-model-len=4096"]);
        const [hf] = parseModels({ ...llmModel, format: "huggingface", gpus: 0 });
        assert.deepEqual(modelServerArgs(hf), ["--model_name=qwen"]);
    });

    it("gives the startup probe the server-start phase of the cold-start budget, then probes readiness and liveness often", () => {
        const { startupProbe, readinessProbe, livenessProbe } = llmIsvc.spec.predictor.model;
        assert.equal(startupProbe.periodSeconds * startupProbe.failureThreshold, llm.coldStart.startupSeconds);
        assert.equal(llm.coldStart.startupSeconds, 600);
        // Each period is time a loaded model may sit unseen while requests are held for it.
        assert.ok(startupProbe.periodSeconds <= 2 && readinessProbe.periodSeconds <= 2, "probes notice readiness within 2 s");
        assert.equal(startupFailureThreshold({ coldStart: { imagePullSeconds: 1, downloadSeconds: 1, startupSeconds: 95 } }), 95);
        assert.equal(startupProbe.httpGet.path, "/v2/health/ready");
        assert.equal(readinessProbe.httpGet.path, "/v2/health/ready");
        assert.equal(livenessProbe.httpGet.path, "/v2/health/live");
        for (const probe of [startupProbe, readinessProbe, livenessProbe]) assert.equal(probe.httpGet.port, 8080);
    });

    it("passes the Hugging Face token from its Secret, never inline", () => {
        const isvc = inferenceServiceManifest(llm, { serviceAccountName: "q", gpuScheduling: a100Scheduling, hfTokenSecretName: "qwen-hf-token" });
        assert.deepEqual(isvc.spec.predictor.model.env?.find((e) => e.name === "HF_TOKEN"), {
            name: "HF_TOKEN",
            valueFrom: { secretKeyRef: { name: "qwen-hf-token", key: "HF_TOKEN" } },
        });
        assert.equal(isvc.spec.predictor.serviceAccountName, "q");
    });

    it("refuses a GPU model without GPU scheduling", () => {
        assert.throws(() => inferenceServiceManifest(llm, { serviceAccountName: "q" }), /model qwen: gpus > 0 needs GPU scheduling/);
    });
});
