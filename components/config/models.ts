/**
 * Stack config for the models and the activator: `gpu-serverless:models` and `gpu-serverless:activator`.
 *
 * `modelStackKeys` is a zod shape the top-level stack schema spreads into its own object; `checkModels` holds the
 * checks that need the rest of the stack config (GPU node groups) and the checks across models (duplicate names and
 * routes). Every error carries a path, so it reads `gpu-serverless:models[1].gpus: ...`.
 *
 * Routing keys reuse the activator's own field schemas, so a host or path prefix accepted here is accepted there.
 */
import { z } from "zod";
import { canarySchema as activatorCanarySchema, limitFields, modelSchema as activatorModelSchema, queueReadsSchema, requiredMemoryBytes, routeConflicts } from "../../activator/src/index";
import { PULUMI_KEY } from "../domain/checks";
import { parseCidr } from "../domain/networkLayout";
import { coldStartBudget, coldStartDefaults, defaultNodeProvisionSeconds, type ColdStartPhases } from "./coldStart";
import { ociStorageUriProblem } from "../domain/modelcar";
import { prewarmSchema } from "./fastPath";

/**
 * Our ClusterServingRuntime for `s3://` LLM weights streamed by vLLM's Run:ai streamer
 * (manifests/model/vllmRuntime.ts): the ClusterServingRuntime's name and what an InferenceService's
 * `spec.predictor.model.runtime` names; a model selects it with config `models[].runtime`.
 */
export const streamingRuntimeName = "gpu-serverless-vllm-openai";
/** `models[].runtime`: `auto` lets KServe pick by format (servingRuntimes in manifests/model/runtime.ts). */
export const modelRuntimes = ["auto", streamingRuntimeName] as const;

/** LLM formats: served by KServe's Hugging Face runtime, which exports vLLM's queue and KV-cache metrics. */
export const llmFormats = ["vllm", "huggingface"] as const;
/** Formats whose KServe runtimes cannot use a GPU. */
export const cpuOnlyFormats = ["sklearn", "xgboost", "lightgbm", "pmml", "paddle", "mlflow"] as const;
/** Formats whose runtimes need a GPU: `gpus: 0` is refused. */
export const gpuOnlyFormats = ["vllm", "tensorrt"] as const;
/**
 * Every model format we deploy: the names KServe v0.20 serving runtimes declare (`vllm` is our alias, see below), each
 * served by a runtime that answers the Open Inference Protocol's `/v2/health/ready` our probes use. `tensorflow` is
 * left out: KServe serves it with TensorFlow Serving, which speaks only the v1 REST API (`/v1/models/<name>:predict`);
 * serve TensorFlow models through `triton` instead.
 */
export const modelFormats = [...llmFormats, ...cpuOnlyFormats, "pytorch", "onnx", "triton", "tensorrt"] as const;
export type ModelFormat = (typeof modelFormats)[number];

/**
 * Formats served by KServe's own Python model servers, which answer KServe's v1 REST paths besides v2 (KServe v0.20.0
 * python/kserve/kserve/protocol/rest/server.py registers both); the other non-LLM formats' runtimes (MLServer,
 * TorchServe, Triton) are deployed with `protocolVersion: v2` (manifests/model/runtime.ts) and answer v2 only.
 */
export const kserveV1Formats = ["sklearn", "xgboost", "lightgbm", "pmml", "paddle"] as const;

export const isLlmFormat = (format: ModelFormat): boolean => (llmFormats as readonly string[]).includes(format);
const isCpuOnlyFormat = (format: ModelFormat): boolean => (cpuOnlyFormats as readonly string[]).includes(format);
const isGpuOnlyFormat = (format: ModelFormat): boolean => (gpuOnlyFormats as readonly string[]).includes(format);

/** GPUs on one p4d/p4de node: a replica cannot ask for more. */
export const gpusPerNode = 8;

// KServe names the predictor Deployment and Service `<name>-predictor` and labels pods `app: isvc.<name>-predictor`;
// Service names must start with a letter and a label value fits in 63 characters, hence 63 - 15 = 48.
const MODEL_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const MODEL_NAME_MAX = 48;
/** A canary's InferenceService is `<name>-canary` (activator/src/config/schema.ts canaryName). */
/** LLM formats: the served name comes from `--model_name` (manifests/model/inferenceService.ts modelServerArgs; config/canary.ts canaryVersion). */
export const canaryLlmFormats: readonly ModelFormat[] = ["vllm", "huggingface"];
/** KServe's own Python servers: `--model_name={{.Name}}` from the runtime, overridden by a later `--model_name`. */
const PYTHON_SERVER_FORMATS: readonly ModelFormat[] = ["sklearn", "xgboost", "lightgbm", "pmml", "paddle"];

/**
 * Formats a canary is offered for: those whose served model name we set, so the canary `<name>-canary` answers to
 * the stable's name (the OpenAI `model` value, `/v2/models/<name>`) and the activator forwards requests unchanged.
 * Not mlflow (MLServer), pytorch (TorchServe), onnx/triton/tensorrt (Triton): their servers take the name from their
 * own model settings or repository, which we do not write; a canary of those is refused until that is checked.
 */
export const canaryFormats: readonly ModelFormat[] = [...canaryLlmFormats, ...PYTHON_SERVER_FORMATS];

const CANARY_SUFFIX = "-canary";
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

const modelName = z
    .string()
    .max(MODEL_NAME_MAX, `must be at most ${MODEL_NAME_MAX} characters (KServe appends "-predictor" and labels pods "isvc.<name>-predictor")`)
    .regex(MODEL_NAME, "must be a DNS-1123 label starting with a letter (lowercase letters, digits and '-')");
const namespaceName = z.string().regex(DNS_LABEL, "must be a namespace name (DNS-1123 label: lowercase letters, digits and '-', at most 63)");

/** CPU as a Kubernetes quantity: `2`, `0.5` or `500m`. Numbers from YAML are accepted and kept as strings. */
const cpuQuantity = z
    .union([z.string(), z.number()])
    .transform(String)
    .refine((v) => /^(\d+(\.\d{1,3})?|\d+m)$/.test(v) && parseFloat(v) > 0, 'must be a positive CPU quantity such as "4", "0.5" or "500m"');
/** Memory as a binary Kubernetes quantity: `512Mi`, `16Gi`. */
const memoryQuantity = z.string().regex(/^[1-9]\d*(Mi|Gi|Ti)$/, 'must be a memory quantity such as "512Mi" or "16Gi"');

/** Bytes of a memory quantity accepted by `memoryQuantity` (`768Mi`, `1Gi`). */
export function memoryBytes(quantity: string): number {
    const unit = { Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 }[quantity.slice(-2) as "Mi" | "Gi" | "Ti"];
    return Number(quantity.slice(0, -2)) * unit;
}

const quote = (v: unknown): string => JSON.stringify(v);

const COMMIT = /^[0-9a-f]{40}$/;
const HF_URI = /^hf:\/\/([A-Za-z0-9][\w.-]*)\/([A-Za-z0-9][\w.-]*)(?::(.*))?$/;
/** `<scheme>://<bucket>/<path>`: the bucket is any name here, since bucketNameProblem holds the one rule for it and runs first. */
const OBJECT_URI = /^(s3|gs):\/\/([^/]+)\/(\S+)$/;
/** Path segments that name a version: `v1.2.3`, `1.0`, `v3`, `2024-05-01`, `1.2.3-rc.1`, or a content digest. */
const VERSION_SEGMENT = /^(v?\d+(\.\d+)*([-+][0-9A-Za-z.-]+)?|[0-9a-f]{12,64})$/;
/** Names that move: pointing at them makes `pulumi up` deploy whatever was uploaded last. */
export const movingTags = ["latest", "main", "master", "head", "stable", "current", "live", "dev", "nightly", "snapshot", "prod", "production"];

/**
 * Why `bucket` cannot be an S3 (`s3`) or Cloud Storage (`gs`) bucket name, or undefined. The rules both share: 3 to 63
 * characters of lowercase letters, digits, dots and hyphens (GCS also allows underscores), starting and ending with a
 * letter or digit (AWS S3 User Guide, "General purpose bucket naming rules"; Cloud Storage docs, "Bucket names").
 */
export function bucketNameProblem(scheme: "s3" | "gs", bucket: string): string | undefined {
    const service = scheme === "s3" ? "an S3" : "a Cloud Storage";
    const rules = `${scheme === "s3" ? "S3" : "Cloud Storage"} bucket names are 3 to 63 lowercase letters, digits, dots${scheme === "gs" ? ", underscores" : ""} and hyphens`;
    if (bucket === "") return `names no bucket; use ${scheme}://<bucket>/<path>/<version>`;
    if (/[A-Z]/.test(bucket)) return `bucket "${bucket}" has capital letters, which ${service} bucket name cannot have (${rules}); did you mean "${bucket.toLowerCase()}"?`;
    const allowed = scheme === "s3" ? /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/ : /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;
    if (!allowed.test(bucket)) return `bucket "${bucket}" is not ${service} bucket name (${rules}, starting and ending with a letter or digit)`;
    return undefined;
}

/**
 * Why `uri` is not a pinned model location, or undefined when it is. Pinned means:
 * - `hf://<org>/<model>:<commit>` with the full 40-hex commit SHA (KServe's storage initializer downloads that
 *   revision; a branch or tag name can move, so only a commit counts);
 * - `s3://<bucket>/<path>` or `gs://<bucket>/<path>` whose path has a version segment (`v1.2.3`, `1.0`, a date or a
 *   digest) and no moving name such as `latest`;
 * - `oci://<registry>/<repository>:<version tag>` or `@sha256:<digest>`: a KServe v0.20 modelcar (domain/modelcar.ts).
 */
export function storageUriProblem(uri: string): string | undefined {
    if (uri.startsWith("oci://")) return ociStorageUriProblem(uri);
    const hf = HF_URI.exec(uri);
    if (hf) {
        const [, org, model, revision] = hf;
        if (revision === undefined || revision === "") {
            return `"${uri}" is not pinned: add the commit, e.g. hf://${org}/${model}:<40-hex commit SHA>`;
        }
        if (!COMMIT.test(revision)) {
            return `"${uri}" is not pinned: revision "${revision}" is not a full 40-hex commit SHA (branches and tags can move)`;
        }
        return undefined;
    }
    if (uri.startsWith("hf://")) return `"${uri}" is not a Hugging Face location; use hf://<org>/<model>:<commit>`;
    const bucket = /^(s3|gs):\/\/([^/]*)/.exec(uri);
    const bucketProblem = bucket ? bucketNameProblem(bucket[1] as "s3" | "gs", bucket[2]!) : undefined;
    if (bucketProblem) return `"${uri}": ${bucketProblem}`;
    const object = OBJECT_URI.exec(uri);
    if (!object) {
        return `"${uri}" is not a supported model location; use hf://<org>/<model>:<commit>, s3://<bucket>/<path>/<version>, gs://<bucket>/<path>/<version> or oci://<registry>/<repository>:<version>`;
    }
    const segments = object[3].split("/").filter((s) => s !== "");
    const moving = segments.find((s) => movingTags.includes(s.toLowerCase()));
    if (moving) return `"${uri}" is not pinned: "${moving}" is a moving name; point at an immutable version such as ${object[1]}://${object[2]}/<path>/v1.2.3`;
    if (!segments.some((s) => VERSION_SEGMENT.test(s))) {
        return `"${uri}" is not pinned: no version in the path; point at an immutable version such as ${object[1]}://${object[2]}/<path>/v1.2.3`;
    }
    return undefined;
}

const storageUri = z.string().superRefine((uri, ctx) => {
    const problem = storageUriProblem(uri);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const routingSchema = z
    .strictObject({
        /** Host names routed to this model (exact or `*.domain`). Default: none. */
        hosts: activatorModelSchema.shape.hosts,
        /** Path prefix routed to this model (whole segments, longest wins). Default: `/v2/models/<name>` for non-LLM models without routing. */
        pathPrefix: activatorModelSchema.shape.pathPrefix,
        /** OpenAI `model` values routed to this model; LLM formats only, at most one. Default: `[<name>]` for LLMs without routing. */
        openaiModels: activatorModelSchema.shape.openaiModels,
        /**
         * Which ready replica the activator sends a request to (docs/design.md, "Replica choice"): `prefix-affine`
         * (LLM prompts sharing a system prompt and first turn go to one replica, whose prefix cache holds them, within
         * 1.25 × the average load; other requests as `least-loaded`), `least-loaded` (fewest outstanding requests,
         * raised by vLLM's queue and KV-cache gauges), `service` (the Service address: kube-proxy picks at random).
         * Default `prefix-affine`.
         */
        replicaChoice: activatorModelSchema.shape.replicaChoice.unwrap().shape.policy,
    })
    .prefault({});

const vllmTargetsSchema = z.strictObject({
    /** Requests waiting in vLLM's queue per replica before KEDA adds one (`vllm:num_requests_waiting`). Default 5. */
    waitingRequestsPerReplica: z.number().positive().default(5),
    /** Average KV-cache usage (0..1] across replicas before KEDA adds one (`vllm:kv_cache_usage_perc`). Default 0.8. */
    kvCacheUsage: z.number().gt(0).max(1).default(0.8),
});

/** vLLM targets when a model leaves them out (LLM formats only). */
export const defaultVllmTargets = vllmTargetsSchema.parse({});


/** Longest hold: an NLB listener's idle timeout tops out at 6000 s. */
export const maxColdStartTimeoutSeconds = 5400;

const phaseSeconds = z.int().positive().max(maxColdStartTimeoutSeconds);
const coldStartSchema = z.strictObject({
    /** Seconds to pull the runtime image onto a fresh node. Default 600 for GPU models, 180 for CPU models. */
    imagePullSeconds: phaseSeconds.optional(),
    /** Seconds for KServe's storage initializer to download `storageUri`. Default 600 for LLMs, 300 other GPU, 180 CPU. */
    downloadSeconds: phaseSeconds.optional(),
    /** Seconds from server start to ready (weights into memory, engine start): the startup probe's budget. Default 600 LLM, 300 other GPU, 120 CPU. */
    startupSeconds: phaseSeconds.optional(),
});

/**
 * `models[].canary`: a second version of the model, deployed as its own InferenceService `<name>-canary` with its own
 * ScaledObject (./canary.ts says why not KServe's canary fields); the activator draws each request's version
 * (activator/src/holding/canary.ts). Resources and replica bounds default to the model's.
 */
const canaryStackSchema = z.strictObject({
    /** Pinned location of the new version's weights (same rules as the model's `storageUri`). Required. */
    storageUri,
    /** Extra model server arguments of the canary. Default: the model's `runtimeArgs`. */
    runtimeArgs: z.array(z.string().min(1)).optional(),
    /** NVIDIA GPUs per canary replica. Default: the model's. */
    gpus: z.int().min(0).max(gpusPerNode, `at most ${gpusPerNode} (GPUs on one p4d/p4de node)`).optional(),
    /** CPU per canary replica. Default: the model's. */
    cpu: cpuQuantity.optional(),
    /** Memory per canary replica. Default: the model's. */
    memory: memoryQuantity.optional(),
    /** Canary replicas kept when idle; 0 scales it to zero on its own. Default 0. */
    minReplicas: z.int().min(0).default(0),
    /** Canary replicas at most. Default: the model's `maxReplicas`. */
    maxReplicas: z.int().min(1).optional(),
    /** Share of the model's requests drawn for the canary, percent (0–100). Required. */
    trafficPercent: activatorCanarySchema.shape.trafficPercent,
    /** What keeps a client on one version: `api-key` (needs `activator.apiKeySecrets`), `header` (`header`, default `x-session-id`), `none`. Default api-key. */
    stickiness: activatorCanarySchema.shape.stickiness,
    /** A request drawn for a cold canary: `strict` (held for the canary) or `stable-first` (a ready stable serves it, counted). Default strict. */
    coldPolicy: activatorCanarySchema.shape.coldPolicy,
});

export const modelSchema = z
    .strictObject({
        /** InferenceService name, unique across models: a DNS-1123 label starting with a letter, at most 48 characters. */
        name: modelName,
        /** Namespace of the model's resources (created by the Activator component). Default `models`. */
        namespace: namespaceName.default("models"),
        /**
         * Model format: `vllm` (KServe's Hugging Face runtime with the vLLM backend, needs a GPU), `huggingface`
         * (same runtime, backend chosen by the runtime), or another KServe format: sklearn, xgboost, lightgbm, pmml,
         * paddle, mlflow (CPU only), pytorch, onnx, triton, tensorrt (GPU only). Not tensorflow (see modelFormats).
         */
        format: z.enum(modelFormats),
        /** Pinned model location: `hf://org/model:<commit>`, or `s3://`/`gs://` with a version in the path (see storageUriProblem). */
        storageUri,
        /** Extra arguments for the model server, appended after ours. Default none. */
        runtimeArgs: z.array(z.string().min(1)).default([]),
        /** NVIDIA GPUs per replica (requests = limits); > 0 schedules on an A100 node group. Default 0. */
        gpus: z.int().min(0).max(gpusPerNode, `at most ${gpusPerNode} (GPUs on one p4d/p4de node)`).default(0),
        /** CPU per replica (requests = limits). Default "1". */
        cpu: cpuQuantity.default("1"),
        /** Memory per replica (requests = limits). Default "4Gi". */
        memory: memoryQuantity.default("4Gi"),
        /** Replicas kept when idle; 0 scales to zero. Default 0. */
        minReplicas: z.int().min(0).default(0),
        /** Replicas at most. Default 1. */
        maxReplicas: z.int().min(1).default(1),
        /** Seconds without activity before KEDA scales to zero (ScaledObject cooldownPeriod). Default 300. */
        cooldownSeconds: z.int().min(0).default(300),
        /** Seconds between KEDA's checks of the triggers (ScaledObject pollingInterval). Default 15. */
        pollingSeconds: z.int().min(1).default(15),
        /** Concurrent requests per replica the activator's KEDA metric targets. Default 10. */
        targetConcurrency: z.int().positive().default(10),
        /** vLLM targets for the metrics the activator reads from vLLM and reports to KEDA; LLM formats only. Default { waitingRequestsPerReplica: 5, kvCacheUsage: 0.8 }. */
        vllm: vllmTargetsSchema.optional(),
        /** How the activator routes to this model. */
        routing: routingSchema,
        /**
         * How long the model may take to send response headers, and at most between two body chunks, before the activator
         * answers 504 (or cuts the response). A non-streamed generation sends its headers only when done. Default 600.
         */
        requestTimeoutSeconds: z.number().positive().max(86_400).default(600),
        /** Requests the activator holds for this model (per activator replica); more get 503 with Retry-After. Default 1000. */
        maxPending: activatorModelSchema.shape.maxPending,
        /** Cap on requests in flight per ready replica; held requests are released as slots free. For servers that cannot queue. Default none. */
        maxConcurrencyPerReplica: activatorModelSchema.shape.maxConcurrencyPerReplica,
        /** Seconds an idle connection from the activator to the model server is kept; below the server's keep-alive timeout (uvicorn: 5 s). Default 4. */
        upstreamKeepAliveSeconds: activatorModelSchema.shape.upstreamKeepAliveSeconds,
        /** Per-phase cold-start budgets (see config/coldStart.ts); defaults by kind of model. */
        coldStart: coldStartSchema.optional(),
        /**
         * How long the activator holds a request for a replica to become ready. Default: the sum of the cold-start
         * phases (scale-up delay, node provisioning, image pull, download, startup; see config/coldStart.ts).
         */
        coldStartTimeoutSeconds: z
            .int()
            .positive()
            .max(maxColdStartTimeoutSeconds, `at most ${maxColdStartTimeoutSeconds} (90 minutes; an NLB listener's idle timeout tops out at 6000 s)`)
            .optional(),
        /** Name of a secret Pulumi config key (`gpu-serverless:<name>`) holding a Hugging Face token. Default none. */
        hfTokenSecret: z.string().regex(PULUMI_KEY, "must be a config key name such as hfToken").optional(),
        /**
         * `gs://` models in a private bucket: name of a secret Pulumi config key holding a GCP service-account key
         * (JSON) with read access to it. Default none (public buckets are read anonymously).
         */
        gcsCredentialsSecret: z.string().regex(PULUMI_KEY, "must be a config key name such as gcsModelReader").optional(),
        /** A100 node group (a `gpuNodeGroups[].name`) for GPU models. Default: the first group. */
        gpuNodeGroup: z.string().min(1).optional(),
        /**
         * Serving runtime: `auto` (KServe picks by format) or `gpu-serverless-vllm-openai` (vLLM's OpenAI server
         * streaming `s3://` weights with the Run:ai streamer; `vllm` models with an `s3://` storageUri only). Default auto.
         */
        runtime: z.enum(modelRuntimes, { error: (iss) => `${quote(iss.input)} is not one of ${modelRuntimes.join(", ")}` }).default("auto"),
        /**
         * SQS queues whose backlog (visible + in flight) is demand for this model, read by the activator and folded into
         * its one `external-push` trigger (docs/queue-scaling.md): `{ sqsQueueArns, activationMessages (default 1),
         * messagesPerReplica (default 5) }`. The activator's IAM role may read exactly these queues' attributes. Default none.
         */
        queueScaling: activatorModelSchema.shape.queueScaling,
        /** Pre-warm windows: KEDA `cron` triggers beside the activator's (`[{timezone, start, end, desiredReplicas}]`). Default none. */
        prewarm: z.array(prewarmSchema).default([]),
        /** A canary version taking `trafficPercent` of the requests (docs/canary.md). Default none. */
        canary: canaryStackSchema.optional(),
    })
    .superRefine((m, ctx) => {
        const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });
        if (m.minReplicas > m.maxReplicas) issue(["minReplicas"], `must not exceed maxReplicas (${m.maxReplicas})`);
        if (m.gpus > 0 && isCpuOnlyFormat(m.format)) issue(["gpus"], `must be 0: the ${m.format} runtime runs on CPU only`);
        if (m.gpus === 0 && isGpuOnlyFormat(m.format)) issue(["gpus"], `must be at least 1: the ${m.format} runtime needs a GPU`);
        if (m.vllm !== undefined && !isLlmFormat(m.format)) issue(["vllm"], `only for ${llmFormats.join("/")} models, not ${m.format}`);
        if (m.routing.openaiModels.length > 0 && !isLlmFormat(m.format)) {
            issue(["routing", "openaiModels"], `only for ${llmFormats.join("/")} models: ${m.format} does not serve the OpenAI API`);
        }
        if (m.gcsCredentialsSecret !== undefined && !m.storageUri.startsWith("gs://")) {
            issue(["gcsCredentialsSecret"], "only for gs:// storageUri (s3:// models get an IAM role of their own; hf:// ones use hfTokenSecret)");
        }
        if (m.runtime === streamingRuntimeName) {
            if (m.format !== "vllm") issue(["runtime"], `${streamingRuntimeName} serves format vllm only, not ${m.format}`);
            if (!m.storageUri.startsWith("s3://")) issue(["runtime"], `${streamingRuntimeName} streams s3:// weights only; "${m.storageUri}" is downloaded by KServe's runtime (runtime: auto)`);
        }
        m.prewarm.forEach((p, k) => {
            if (p.desiredReplicas > m.maxReplicas) issue(["prewarm", k, "desiredReplicas"], `${p.desiredReplicas} is above maxReplicas ${m.maxReplicas}`);
        });
        if (m.canary) {
            const c = m.canary;
            if (!canaryFormats.includes(m.format)) issue(["canary"], `not offered for ${m.format} models (their server names the model itself, so ${m.name}-canary would not answer to ${m.name}); formats: ${canaryFormats.join(", ")}`);
            if (m.name.length > MODEL_NAME_MAX - CANARY_SUFFIX.length) issue(["name"], `with a canary, at most ${MODEL_NAME_MAX - CANARY_SUFFIX.length} characters ("${m.name}${CANARY_SUFFIX}" is its InferenceService)`);
            const gpus = c.gpus ?? m.gpus;
            if (gpus > 0 && isCpuOnlyFormat(m.format)) issue(["canary", "gpus"], `must be 0: the ${m.format} runtime runs on CPU only`);
            if (gpus === 0 && isGpuOnlyFormat(m.format)) issue(["canary", "gpus"], `must be at least 1: the ${m.format} runtime needs a GPU`);
            if (c.minReplicas > (c.maxReplicas ?? m.maxReplicas)) issue(["canary", "minReplicas"], `must not exceed canary.maxReplicas (${c.maxReplicas ?? m.maxReplicas})`);
            if (c.storageUri === m.storageUri && JSON.stringify(c.runtimeArgs ?? m.runtimeArgs) === JSON.stringify(m.runtimeArgs)) {
                issue(["canary", "storageUri"], "the canary serves the same weights and arguments as the model: change storageUri or runtimeArgs");
            }
        }
        if (m.routing.openaiModels.length > 1) {
            issue(["routing", "openaiModels"], "at most one: the model server answers to a single served model name");
        }
    })
    .transform((m) => {
        const llm = isLlmFormat(m.format);
        const routed = m.routing.hosts.length > 0 || m.routing.pathPrefix !== undefined || m.routing.openaiModels.length > 0;
        const routing = routed ? m.routing : llm ? { ...m.routing, openaiModels: [m.name] } : { ...m.routing, pathPrefix: `/v2/models/${m.name}` };
        // KServe's REST paths for the model's name (the InferenceService's, which KServe passes as --model_name).
        const v1 = (kserveV1Formats as readonly string[]).includes(m.format);
        const kserve = llm ? {} : { kserve: { modelName: m.name, protocols: (v1 ? ["v1", "v2"] : ["v2"]) as ("v1" | "v2")[] } };
        const coldStart = { ...coldStartDefaults[llm ? "llm" : m.gpus > 0 ? "gpu" : "cpu"], ...m.coldStart };
        const explicit = m.coldStartTimeoutSeconds !== undefined;
        // Sized with the default node provisioning time here; the stack loader resizes it with the configured one.
        const coldStartTimeoutSeconds = m.coldStartTimeoutSeconds ?? coldStartBudget({ ...m, coldStart }, defaultNodeProvisionSeconds).totalSeconds;
        // Which phases the config set: the stack loader fills the others from the model's cold-start path (config/coldStartPath.ts).
        const coldStartSet = Object.keys(m.coldStart ?? {}).filter((k) => m.coldStart?.[k as keyof ColdStartPhases] !== undefined) as (keyof ColdStartPhases)[];
        return { ...m, routing: { ...routing, ...kserve }, vllm: llm ? (m.vllm ?? defaultVllmTargets) : undefined, coldStart, coldStartSet, coldStartTimeoutSeconds, coldStartTimeoutExplicit: explicit };
    });

/**
 * One model, validated, defaults filled in (routing always has a key; `vllm` set exactly for LLM formats;
 * `coldStartTimeoutSeconds` the configured hold or the sum of the phase budgets, `coldStartTimeoutExplicit` saying which).
 */
export type ModelConfig = z.output<typeof modelSchema>;

// registry[:port]/path[:tag][@sha256:digest]; a port only before a "/", so `repo:12` reads as a tag.
const IMAGE_REF =
    /^[a-z0-9][a-z0-9._-]*(?::\d+(?=\/))?(?:\/[a-z0-9][a-z0-9._-]*)*(?::(?<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?<digest>sha256:[0-9a-f]{64}))?$/;

/** Why `ref` is not a pinned image reference, or undefined when it is (a version tag or a digest, never `latest` alone). */
export function imageRefProblem(ref: string): string | undefined {
    const match = IMAGE_REF.exec(ref);
    if (!match) return `"${ref}" is not an image reference such as 123456789012.dkr.ecr.us-west-2.amazonaws.com/activator:0.1.0`;
    const { tag, digest } = match.groups!;
    if (tag === undefined && digest === undefined) return `"${ref}" has neither a tag nor a digest; pin a version tag or @sha256: digest`;
    if (tag === "latest" && digest === undefined) return `"${ref}" uses the moving tag latest; pin a version tag or @sha256: digest`;
    return undefined;
}

const activatorLimits = limitFields;
const activatorLimitsSchema = z
    .strictObject({
        /** Largest request body, bytes; larger gets 413 (vision requests with base64 images are often 5-20 MiB). Default 10 MiB. */
        maxBodyBytes: activatorLimits.maxBodyBytes,
        /** Requests held at once across all models, per activator replica; more get 503. Default 10000. */
        maxPendingTotal: activatorLimits.maxPendingTotal,
        /** Bytes of request bodies held in memory at once, per activator replica; beyond, 503 `body_buffer_full`. Default 128 MiB. */
        maxBufferedBodyBytes: activatorLimits.maxBufferedBodyBytes,
    })
    .prefault({});

export const activatorStackSchema = z
    .strictObject({
        /** Namespace of the activator. Default `activator`. */
        namespace: namespaceName.default("activator"),
        /** Activator replicas, spread across nodes; a PodDisruptionBudget keeps all but one up. Default 2. */
        replicas: z.int().min(1).default(2),
        /** Prebuilt image (`registry/repo:tag` or `@sha256:` digest, not `latest`). Default: built from ./activator and pushed to ECR. */
        image: z
            .string()
            .superRefine((ref, ctx) => {
                const problem = imageRefProblem(ref);
                if (problem) ctx.addIssue({ code: "custom", message: problem });
            })
            .optional(),
        /** `internal`: NLB reachable inside the VPC only. `public`: internet-facing, limited to `allowedCidrs`, API keys required. Default `internal`. */
        exposure: z.enum(["internal", "public"]).default("internal"),
        /** Client CIDRs the NLB accepts (Service `loadBalancerSourceRanges`); required for `public`. Default none (the VPC). */
        allowedCidrs: z
            .array(
                z.string().superRefine((cidr, ctx) => {
                    const parsed = parseCidr(cidr);
                    if ("error" in parsed) ctx.addIssue({ code: "custom", message: parsed.error });
                }),
            )
            .default([]),
        /**
         * Names of secret config keys (`pulumi config set --secret gpu-serverless:<name> <key>`), each holding an API key
         * clients send as `Authorization: Bearer <key>`. With any, the activator serves no request without one of them;
         * at least one is required with `public`. Default none (no authentication).
         */
        apiKeySecrets: z.array(z.string().regex(PULUMI_KEY, "must be a config key name such as activatorApiKey")).default([]),
        /** On SIGTERM, held and in-flight requests get this long to finish. Default 30. */
        shutdownGraceSeconds: z.int().min(0).max(3600).default(30),
        /**
         * Browser origins allowed to call the API (CORS: `https://app.example.org`, or `*`); preflights are answered
         * by the activator before authentication. Default none: CORS off (the model servers' own headers pass).
         */
        corsAllowedOrigins: z.array(z.string().min(1)).default([]),
        /**
         * Request limits of each activator replica (the activator's `limits`): largest request body, requests held at
         * once, bytes of request bodies held in memory. The pod's `memory` must cover what they and the models need (checked).
         */
        limits: activatorLimitsSchema,
        /** CPU per replica (requests = limits). Default "1". */
        cpu: cpuQuantity.default("1"),
        /** Memory per replica (requests = limits); at least what `limits` and the number of models need (checked). Default "768Mi". */
        memory: memoryQuantity.default("768Mi"),
        /**
         * How the activator reads the depth of models' `queueScaling` queues: `{ intervalSeconds (5), timeoutSeconds
         * (3), maxStalenessSeconds (15), endpoint (an SQS VPC interface endpoint without private DNS; default the
         * regional one) }` (docs/queue-scaling.md).
         */
        queueReads: queueReadsSchema,
    })
    .superRefine((a, ctx) => {
        const { maxBodyBytes, maxBufferedBodyBytes } = a.limits;
        if (maxBufferedBodyBytes < maxBodyBytes) {
            const message = `must be at least limits.maxBodyBytes (${maxBodyBytes}), or no body of the largest size can be routed`;
            ctx.addIssue({ code: "custom", path: ["limits", "maxBufferedBodyBytes"], message });
        }
        if (a.exposure === "public" && a.allowedCidrs.length === 0) {
            ctx.addIssue({ code: "custom", path: ["allowedCidrs"], message: "required with exposure public: list the client CIDRs allowed to reach the NLB" });
        }
        a.allowedCidrs.forEach((cidr, i) => {
            if (a.exposure === "public" && cidr.endsWith("/0")) {
                const message = `${cidr} opens the activator to the whole internet; list your clients' networks (API keys are a second line of defence, not the only one)`;
                ctx.addIssue({ code: "custom", path: ["allowedCidrs", i], message });
            }
        });
        // Nothing public without authentication.
        if (a.exposure === "public" && a.apiKeySecrets.length === 0) {
            ctx.addIssue({
                code: "custom",
                path: ["apiKeySecrets"],
                message: "required with exposure public: name at least one secret config key holding an API key (openssl rand -hex 32 | pulumi config set --secret <name>)",
            });
        }
        a.apiKeySecrets.forEach((name, i) => {
            const first = a.apiKeySecrets.indexOf(name);
            if (first < i) ctx.addIssue({ code: "custom", path: ["apiKeySecrets", i], message: `"${name}" is already apiKeySecrets[${first}]` });
        });
    });

export type ActivatorStackConfig = z.output<typeof activatorStackSchema>;

/** The shape the top-level stack schema spreads in: stack keys `gpu-serverless:models` and `gpu-serverless:activator`. */
export const modelStackKeys = {
    /** Models served behind the activator. Default none. */
    models: z.array(modelSchema).default([]),
    /** The activator deployment. */
    activator: activatorStackSchema.prefault({}),
};

/** What `checkModels` reads from the parsed stack config. */
export interface ModelsStackView {
    models: readonly ModelConfig[];
    activator: ActivatorStackConfig;
    /** The A100 node groups (`gpu-serverless:gpuNodeGroups`), in config order. */
    gpuNodeGroups?: readonly { name: string }[];
    /** cluster-autoscaler's `--max-node-provision-time` in seconds. Default 600. */
    nodeProvisionSeconds?: number;
}

const reservedNamespaces = ["default", "kube-system", "kube-public", "kube-node-lease"];

/** The A100 node group a GPU model runs on: its `gpuNodeGroup`, or the first group. */
export function gpuNodeGroupOf(model: Pick<ModelConfig, "gpuNodeGroup">, groupNames: readonly string[]): string | undefined {
    return model.gpuNodeGroup ?? groupNames[0];
}

/**
 * Checks that need the rest of the stack config or span several models; call from the top-level schema's
 * `superRefine`. Paths are relative to the stack config root (`["models", 1, "gpus"]`).
 */
export function checkModels(config: ModelsStackView, ctx: z.RefinementCtx): void {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });
    const groups = (config.gpuNodeGroups ?? []).map((g) => g.name);
    const names = new Map<string, number>();
    // The activator's own rule (activator/src/routing/conflicts.ts), reported under each model's `routing`.
    for (const c of routeConflicts(config.models.map((m) => m.routing))) {
        // A KServe route is the model's name (not a routing key the user sets): reported there.
        issue(c.key === "kserve" ? ["models", c.model, "name"] : ["models", c.model, "routing", c.key, ...(c.index === undefined ? [] : [c.index])], c.message);
    }
    // A burst within the limits must not get the pod OOM-killed (that drops every held and in-flight request of every
    // model): the pod's memory covers the limits and the catalog (activator/src/config/memory.ts, measured by the benches).
    const { limits, memory } = config.activator;
    const needed = requiredMemoryBytes(limits, config.models.length);
    if (memoryBytes(memory) < needed) {
        const mi = Math.ceil(needed / 2 ** 20);
        issue(
            ["activator", "memory"],
            `${memory} is less than the ${mi}Mi the limits and ${config.models.length} model(s) need (maxPendingTotal ${limits.maxPendingTotal}, ` +
                `maxBufferedBodyBytes ${limits.maxBufferedBodyBytes}; peak estimate at 80 % of the pod limit, activator/src/config/memory.ts): ` +
                `raise memory to at least ${mi}Mi or lower the limits`,
        );
    }
    config.models.forEach((model, i) => {
        const at = (...rest: (string | number)[]) => ["models", i, ...rest];
        const first = names.get(model.name);
        if (first !== undefined) issue(at("name"), `duplicate model name "${model.name}" (also models[${first}])`);
        else names.set(model.name, i);
        const canaryOf = config.models.findIndex((m) => m.canary !== undefined && `${m.name}${CANARY_SUFFIX}` === model.name);
        if (canaryOf >= 0) issue(at("name"), `"${model.name}" is the InferenceService of models[${canaryOf}].canary; rename one`);
        if (model.canary?.stickiness.by === "api-key" && config.activator.apiKeySecrets.length === 0) {
            issue(at("canary", "stickiness", "by"), "api-key needs activator.apiKeySecrets (no key, no stickiness); use header or none");
        }

        if (model.namespace === config.activator.namespace) {
            issue(at("namespace"), `must differ from the activator's namespace "${config.activator.namespace}"`);
        } else if (reservedNamespaces.includes(model.namespace)) {
            issue(at("namespace"), `"${model.namespace}" is reserved; use a namespace of its own such as "models"`);
        }

        const budget = coldStartBudget(model, config.nodeProvisionSeconds ?? defaultNodeProvisionSeconds);
        if (model.coldStartTimeoutExplicit && model.gpus > 0 && model.coldStartTimeoutSeconds <= budget.scaleUpDelaySeconds + budget.nodeProvisionSeconds) {
            issue(
                at("coldStartTimeoutSeconds"),
                `${model.coldStartTimeoutSeconds} s ends before cluster-autoscaler gives up on a GPU node (${budget.scaleUpDelaySeconds} s scale-up delay + ${budget.nodeProvisionSeconds} s clusterAutoscaler.maxNodeProvisionTime): a capacity failure would never be seen; the phases add up to ${budget.totalSeconds} s, leave it out to use that`,
            );
        }
        if (!model.coldStartTimeoutExplicit && budget.totalSeconds > maxColdStartTimeoutSeconds) {
            issue(at("coldStart"), `the phases add up to ${budget.totalSeconds} s, more than the ${maxColdStartTimeoutSeconds} s a request can be held`);
        }
        if (model.gpus > 0 && groups.length === 0) {
            issue(at("gpus"), "needs an A100 node group, but gpu-serverless:gpuNodeGroups is empty; add one or set gpus: 0");
        } else if (model.gpuNodeGroup !== undefined && model.gpus === 0) {
            issue(at("gpuNodeGroup"), "only for GPU models (gpus > 0)");
        } else if (model.gpuNodeGroup !== undefined && !groups.includes(model.gpuNodeGroup)) {
            issue(at("gpuNodeGroup"), `"${model.gpuNodeGroup}" is not a GPU node group; known: ${groups.join(", ")}`);
        }

    });
}
