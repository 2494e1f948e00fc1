import * as assert from "node:assert/strict";
import { modelFormats, type ModelFormat } from "../../../../components/config/models";
import { inferenceServiceManifest } from "../../../../components/manifests/model/inferenceService";
import { servingRuntimes } from "../../../../components/manifests/model/runtime";
import { clusterServingRuntimes, effectiveProtocol, selectedRuntime, supportingRuntimes } from "../../../support/servingRuntimes";
import { a100Scheduling, parseModels } from "./fixtures";

/** A valid model of each format, GPU or CPU as the format requires. */
function modelOf(format: ModelFormat) {
    const cpuOnly = ["sklearn", "xgboost", "lightgbm", "pmml", "paddle", "mlflow"].includes(format);
    const storageUri = format === "vllm" || format === "huggingface" ? "hf://Qwen/Qwen2.5-0.5B-Instruct:7ae557604adf67be50417f59c2c2f167def9a775" : "gs://bucket/models/v1";
    const [model] = parseModels({ name: `m-${format}`, format, storageUri, gpus: cpuOnly ? 0 : 1 });
    return model;
}

describe("serving runtime selection (KServe v0.20 autoSelect over the upstream ClusterServingRuntimes)", () => {
    it("reads the runtimes the kserve-runtime-configs chart installs", () => {
        const names = clusterServingRuntimes().map((r) => r.metadata.name);
        assert.ok(names.includes("kserve-huggingfaceserver") && names.includes("kserve-tritonserver"), names.join(", "));
    });

    for (const format of modelFormats) {
        it(`matches a ${format} InferenceService to ${servingRuntimes[format].runtime}, which serves the Open Inference Protocol`, () => {
            const isvc = inferenceServiceManifest(modelOf(format), { serviceAccountName: "sa", gpuScheduling: a100Scheduling });
            const runtime = selectedRuntime(isvc.spec.predictor.model);
            assert.equal(runtime.metadata.name, servingRuntimes[format].runtime);
            // Our probes and default route speak v2 (/v2/health/ready, /v2/models/<name>): the runtime must list it.
            assert.ok((runtime.spec.protocolVersions ?? ["v2"]).includes("v2"), `${runtime.metadata.name} lists v2`);
            assert.equal(String(servingRuntimes[format].metricsPort), runtime.spec.annotations?.["prometheus.kserve.io/port"]);
        });
    }

    it("would find no runtime for onnx, tensorrt and mlflow without protocolVersion v2 (the rule bites)", () => {
        for (const name of ["onnx", "tensorrt", "mlflow"]) {
            assert.equal(effectiveProtocol({ modelFormat: { name } }), "v1");
            assert.deepEqual(supportingRuntimes({ modelFormat: { name } }), [], name);
            assert.throws(() => selectedRuntime({ modelFormat: { name } }), /no runtime found/);
        }
        // KServe defaults triton (and vLLM) to v2 on its own.
        assert.equal(selectedRuntime({ modelFormat: { name: "triton" } }).metadata.name, "kserve-tritonserver");
    });

    it("ignores formats a runtime lists without autoSelect (pytorch on Triton, the predictive server)", () => {
        const candidates = supportingRuntimes({ modelFormat: { name: "pytorch" }, protocolVersion: "v2" }).map((r) => r.metadata.name);
        assert.deepEqual(candidates, ["kserve-torchserve"]);
        const sklearn = supportingRuntimes({ modelFormat: { name: "sklearn" } }).map((r) => r.metadata.name);
        assert.ok(!sklearn.includes("kserve-predictiveserver"), sklearn.join(", "));
    });

    it("keeps multi-node runtimes out of single-node selection", () => {
        const names = supportingRuntimes({ modelFormat: { name: "huggingface" } }).map((r) => r.metadata.name);
        assert.deepEqual(names, ["kserve-huggingfaceserver"]);
    });
});
