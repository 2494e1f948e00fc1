import * as assert from "node:assert/strict";
import { evaluate, type IamRequest } from "../../../support/iamEvaluator";
import type { PolicyDocument } from "../../../../components/domain/iamPolicies";
import { inferenceServiceManifest } from "../../../../components/manifests/model/inferenceService";
import { activatorConfig } from "../../../../components/manifests/activator/config";
import { modelStoragePolicy } from "../../../../components/domain/iamPolicies";
import { llmModel, stackWith } from "./fixtures";
import { OPENAI_BODY_PATHS, OPENAI_MODELS_PATH } from "../../../../activator/src/routing/table";
import { ociStorageUriProblem } from "../../../../components/domain/modelcar";
import {
    kserveOpenAiRoute,
    runaiStreamerModelSpec,
    vllmOpenAiRoutes,
    vllmRuntimeManifest,
} from "../../../../components/manifests/model/vllmRuntime";
import { streamingRuntimeName } from "../../../../components/config/models";
import { crdErrors } from "../../../support/crds";
import { clusterServingRuntimes, predictorContainerPorts, selectedRuntime, type ClusterServingRuntime } from "../../../support/servingRuntimes";

describe("manifests/model: our vLLM runtime with the Run:ai streamer", () => {
    const runtime = vllmRuntimeManifest();
    const installed = [...clusterServingRuntimes(), runtime as unknown as ClusterServingRuntime];

    it("validates against KServe v0.20's ClusterServingRuntime CRD", () => {
        assert.deepEqual(crdErrors(runtime), []);
    });

    it("starts vLLM's OpenAI server from KServe's Hugging Face image, loading with runai_streamer on the model port", () => {
        const [container] = runtime.spec.containers;
        const kserves = clusterServingRuntimes().find((r) => r.metadata.name === "kserve-huggingfaceserver")!;
        assert.equal(container.image.split(":")[0], String(kserves.spec.containers[0].image).split(":")[0], "same image as KServe's runtime");
        assert.deepEqual(container.command, ["python3", "-m", "vllm.entrypoints.openai.api_server"]);
        assert.ok(container.args.includes("--load-format=runai_streamer"));
        assert.ok(container.args.includes("--port=8080"));
    });

    it("never takes over auto-selection: a huggingface model gets KServe's runtime unless it names ours", () => {
        assert.equal(selectedRuntime({ modelFormat: { name: "huggingface" } }, installed).metadata.name, "kserve-huggingfaceserver");
        const spec = runaiStreamerModelSpec({ name: "llama", storageUri: "s3://weights/llama/v1", gpus: 2, servedModelName: "llama-8b" }, "us-west-2");
        const chosen = selectedRuntime({ modelFormat: spec.modelFormat, runtime: spec.runtime }, installed);
        assert.equal(chosen.metadata.name, streamingRuntimeName);
        assert.deepEqual(predictorContainerPorts({ modelFormat: spec.modelFormat, runtime: spec.runtime }, chosen), [{ name: "http", containerPort: 8080, protocol: "TCP" }]);
    });

    it("passes the S3 location to vLLM, not as a storageUri (which would download it whole first)", () => {
        const spec = runaiStreamerModelSpec({ name: "llama", storageUri: "s3://weights/llama/v1", gpus: 2, servedModelName: "llama-8b" }, "us-west-2");
        assert.deepEqual(spec.args, ["--model=s3://weights/llama/v1", "--served-model-name=llama-8b", "--tensor-parallel-size=2"]);
        assert.equal("storageUri" in spec, false);
        assert.deepEqual(spec.env, [{ name: "AWS_REGION", value: "us-west-2" }]);
    });

    it("serves the OpenAI routes the activator forwards under /v1, as KServe's server does with the prefix emptied", () => {
        for (const path of ["/v1/chat/completions", "/v1/completions", OPENAI_MODELS_PATH]) {
            assert.ok((vllmOpenAiRoutes as readonly string[]).includes(path), path);
            assert.equal(kserveOpenAiRoute(path, ""), path);
            assert.ok(path === OPENAI_MODELS_PATH || OPENAI_BODY_PATHS.has(path));
        }
        assert.equal(kserveOpenAiRoute("/v1/models", undefined), "/openai/v1/models", "KServe's default prefix, which the stack must empty");
    });

    it("refuses weights it cannot stream and a malformed region", () => {
        const model = { name: "q", gpus: 1, servedModelName: "q" };
        assert.throws(() => runaiStreamerModelSpec({ ...model, storageUri: "hf://org/m:abc" }, "us-west-2"), { message: /model q: runtime gpu-serverless-vllm-openai streams s3:\/\/ weights only/ });
        assert.throws(() => runaiStreamerModelSpec({ ...model, storageUri: "s3://b/m/v1" }, "west"), { message: /bucket region "west"/ });
    });

    it("takes a bucket in any region the stack config takes (the AWS catalog's), isolated partitions included", () => {
        const spec = runaiStreamerModelSpec({ name: "q", gpus: 1, servedModelName: "q", storageUri: "s3://b/m/v1" }, "us-iso-east-1");
        assert.deepEqual(spec.env, [{ name: "AWS_REGION", value: "us-iso-east-1" }]);
    });
});

describe("manifests/model: oci:// modelcars", () => {
    it("accepts pinned model images and refuses moving or untagged ones", () => {
        assert.equal(ociStorageUriProblem("oci://123456789012.dkr.ecr.us-west-2.amazonaws.com/models/llama:v1.0"), undefined);
        assert.equal(ociStorageUriProblem(`oci://quay.io/org/model@sha256:${"a".repeat(64)}`), undefined);
        assert.match(ociStorageUriProblem("oci://quay.io/org/model")!, /not pinned: add a version tag/);
        assert.match(ociStorageUriProblem("oci://quay.io/org/model:latest")!, /"latest" is a moving tag/);
        assert.match(ociStorageUriProblem("oci://model")!, /not an OCI model image/);
    });
});

describe("InferenceService of an s3:// LLM on our streaming runtime", () => {
    const scheduling = { nodeSelector: { "gpu-serverless.io/node-group": "a100" }, tolerations: [{ key: "nvidia.com/gpu", operator: "Equal", value: "true", effect: "NoSchedule" }] };
    const model = stackWith([{ ...llmModel, gpus: 2, storageUri: "s3://models-bucket/llama/v1", runtime: "gpu-serverless-vllm-openai", runtimeArgs: ["--max-model-len=8192"] }]).models[0];
    const isvc = inferenceServiceManifest(model, { serviceAccountName: "qwen-model", gpuScheduling: scheduling, s3Region: "us-west-2" });
    const m = isvc.spec.predictor.model as Record<string, any>;

    it("names our runtime, sets no storageUri (no storage initializer) and passes the S3 location to vLLM", () => {
        assert.deepEqual(crdErrors(isvc), []);
        assert.equal(m.runtime, "gpu-serverless-vllm-openai");
        assert.equal(m.storageUri, undefined);
        assert.deepEqual(m.args, ["--model=s3://models-bucket/llama/v1", "--served-model-name=qwen", "--tensor-parallel-size=2", "--max-model-len=8192"]);
        assert.deepEqual(m.env, [{ name: "AWS_REGION", value: "us-west-2" }]);
    });

    it("probes vLLM's /health, which its OpenAI server answers (not KServe's /v2/health/ready)", () => {
        for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) assert.equal(m[probe].httpGet.path, "/health", probe);
    });

    it("has the activator's probe mode poll the path the predictor's readiness probe uses, on either runtime", () => {
        const kserve = stackWith([llmModel]);
        const kserveIsvc = inferenceServiceManifest(kserve.models[0], { serviceAccountName: "q", gpuScheduling: scheduling });
        const polled = (models: typeof kserve.models) => activatorConfig(models, kserve.activator).models[0].readinessPath;
        assert.equal(polled([model]), "/health");
        assert.equal(polled([model]), m.readinessProbe.httpGet.path);
        assert.equal(polled(kserve.models), "/v2/health/ready");
        assert.equal(polled(kserve.models), (kserveIsvc.spec.predictor.model as Record<string, any>).readinessProbe.httpGet.path);
    });

    it("needs the bucket region", () => {
        assert.throws(() => inferenceServiceManifest(model, { serviceAccountName: "q", gpuScheduling: scheduling }), /needs the bucket's region/);
    });

    it("reads with a role that allows what the streamer calls: ListObjectsV2 under the prefix, ranged GetObject of each file", () => {
        // vLLM's Run:ai streamer lists the model prefix, then reads each safetensors file with ranged gets
        // (vllm model_executor/model_loader runai_streamer_loader.py and transformers_utils/runai_utils.py).
        const policy = modelStoragePolicy("aws", model.storageUri) as PolicyDocument;
        const calls: IamRequest[] = [
            { action: "s3:ListBucket", resource: "arn:aws:s3:::models-bucket", context: { "s3:prefix": "llama/v1/" } },
            { action: "s3:GetObject", resource: "arn:aws:s3:::models-bucket/llama/v1/model-00001-of-00004.safetensors", context: {} },
            { action: "s3:GetObject", resource: "arn:aws:s3:::models-bucket/llama/v1/config.json", context: {} },
        ];
        for (const call of calls) assert.equal(evaluate(policy, call), "allow", `${call.action} ${call.resource}`);
        assert.equal(evaluate(policy, { action: "s3:GetObject", resource: "arn:aws:s3:::models-bucket/other/v1/x", context: {} }), "implicitDeny");
        assert.equal(evaluate(policy, { action: "s3:PutObject", resource: "arn:aws:s3:::models-bucket/llama/v1/x", context: {} }), "implicitDeny");
    });
});
