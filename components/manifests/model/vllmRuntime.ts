/**
 * Our ClusterServingRuntime that starts vLLM's OpenAI server directly, for `s3://` LLM weights streamed to the GPU by
 * the Run:ai model streamer (`--load-format runai_streamer`), instead of a full download before the server starts.
 *
 * Why not KServe's own `kserve-huggingfaceserver` (kserve/kserve v0.20.0):
 * - `python/huggingfaceserver/huggingfaceserver/__main__.py` `is_vllm_backend_enabled` calls
 *   `vllm/utils.py` `infer_vllm_supported_from_model_architecture`, i.e. transformers' `AutoConfig.from_pretrained`,
 *   on the model id before vLLM starts: an `s3://` id fails there;
 * - a `storageUri` makes the pod mutator inject the storage initializer
 *   (`pkg/webhook/admission/pod/storage_initializer_injector.go`), which downloads the whole model before the server.
 * So the InferenceService names this runtime, sets no `storageUri` (no init container) and passes the S3 location as
 * vLLM's `--model`. The image is the same as KServe's runtime (`kserve/huggingfaceserver`, built with
 * `vllm[runai,tensorizer,fastsafetensors]`: `python/huggingface_server.Dockerfile` at v0.20.0); only the entrypoint
 * differs (`python3 -m vllm.entrypoints.openai.api_server` instead of `python3 -m huggingfaceserver`).
 *
 * Routes: vLLM's OpenAI server serves `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/v1/models`
 * with no prefix, `/health` and `/metrics` (vllm-project/vllm `vllm/entrypoints/openai/api_server.py`); KServe's own
 * server serves the same `/v1/...` paths under `KSERVE_OPENAI_ROUTE_PREFIX` (default `/openai`:
 * `python/kserve/kserve/protocol/rest/openai/endpoints.py`), which the stack sets empty.
 * S3 access: the streamer reads with the AWS SDK's default credential chain, so the model's ServiceAccount role (its
 * read-only bucket policy) applies; `AWS_REGION` is set to the bucket's region.
 */
import { type ModelConfig, streamingRuntimeName } from "../../config/models";
import { regionProblem } from "../../domain/awsCatalog";
import { modelServerPort, readinessPath } from "./predictor";

/** Health path of vLLM's OpenAI server (200 once the engine is up); KServe's `/v2/health/ready` does not exist there. */
export const vllmHealthPath = "/health";

/**
 * The path that answers 200 once `model`'s server is ready, as the predictor's readiness probe and the activator's
 * probe mode both poll it: vLLM's `/health` on our runtime (config `models[].runtime: gpu-serverless-vllm-openai`),
 * KServe's `/v2/health/ready` on every other.
 */
export function readinessPathFor(model: Pick<ModelConfig, "runtime">): string {
    return model.runtime === streamingRuntimeName ? vllmHealthPath : readinessPath;
}

/** OpenAI routes vLLM's server answers, as the activator forwards them (no prefix). */
export const vllmOpenAiRoutes = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models"] as const;

/** KServe's OpenAI route for `path` given the `KSERVE_OPENAI_ROUTE_PREFIX` env value (unset means `/openai`). */
export function kserveOpenAiRoute(path: string, prefixEnv: string | undefined): string {
    return `${prefixEnv ?? "/openai"}${path}`;
}

export interface VllmRuntimeOptions {
    /** Image reference of KServe's Hugging Face server (e.g. rewritten to ECR). Default `kserve/huggingfaceserver:v0.20.0`. */
    image?: string;
    /** Extra env for the container, e.g. the node-local cache's (see nodeCache.ts). */
    env?: { name: string; value: string }[];
}

export function vllmRuntimeManifest(options: VllmRuntimeOptions = {}) {
    return {
        apiVersion: "serving.kserve.io/v1alpha1",
        kind: "ClusterServingRuntime",
        metadata: { name: streamingRuntimeName, labels: { "app.kubernetes.io/part-of": "gpu-serverless" } },
        spec: {
            // Never auto-selected: KServe's own runtime stays the choice for `huggingface` unless a model names ours.
            supportedModelFormats: [{ name: "huggingface", autoSelect: false }],
            protocolVersions: ["v1"],
            annotations: { "prometheus.kserve.io/port": String(modelServerPort), "prometheus.kserve.io/path": "/metrics" },
            containers: [
                {
                    name: "kserve-container",
                    image: options.image ?? "kserve/huggingfaceserver:v0.20.0",
                    command: ["python3", "-m", "vllm.entrypoints.openai.api_server"],
                    // The InferenceService appends its own (KServe v0.20 utils.go MergeRuntimeContainers concatenates).
                    args: [`--port=${modelServerPort}`, "--load-format=runai_streamer"],
                    env: [...(options.env ?? [])],
                    ports: [{ name: "http", containerPort: modelServerPort, protocol: "TCP" }],
                    securityContext: {
                        allowPrivilegeEscalation: false,
                        privileged: false,
                        runAsNonRoot: true,
                        capabilities: { drop: ["ALL"] },
                    },
                    resources: { requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "1", memory: "2Gi" } },
                },
            ],
        },
    };
}

export interface RunaiModel {
    name: string;
    storageUri: string;
    gpus: number;
    /** The OpenAI `model` value clients send. */
    servedModelName: string;
}

/**
 * The InferenceService model arguments and env for our runtime: the S3 location as `--model`, the served name, tensor
 * parallelism over the model's GPUs. Throws for a location the streamer cannot read from S3.
 */
export function runaiStreamerModelSpec(model: RunaiModel, bucketRegion: string) {
    if (!model.storageUri.startsWith("s3://")) {
        throw new Error(`model ${model.name}: runtime ${streamingRuntimeName} streams s3:// weights only, not "${model.storageUri}"`);
    }
    const regionIssue = regionProblem(bucketRegion);
    if (regionIssue) throw new Error(`model ${model.name}: bucket region ${regionIssue}`);
    const args = [`--model=${model.storageUri}`, `--served-model-name=${model.servedModelName}`];
    if (model.gpus > 1) args.push(`--tensor-parallel-size=${model.gpus}`);
    return { runtime: streamingRuntimeName, modelFormat: { name: "huggingface" }, args, env: [{ name: "AWS_REGION", value: bucketRegion }] };
}
