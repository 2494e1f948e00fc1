/**
 * The KServe InferenceService of one model, as plain data.
 *
 * Standard mode (raw Deployment + Service, no Knative) with `autoscalerClass: external`: KServe then writes no HPA
 * and no ScaledObject and leaves the Deployment's replica count to the ScaledObject we create, which is what lets
 * the model sit at zero replicas until the activator asks for one.
 */
import type * as k8s from "@pulumi/kubernetes";
import { scaleUpDelaySeconds } from "../../config/coldStart";
import { isLlmFormat, type ModelConfig, streamingRuntimeName } from "../../config/models";
import type { GpuScheduling } from "../../domain/nodeGroups";
import { livenessPath, modelLabels, modelServerPort, servedModelName } from "./predictor";
import { nodeCacheEligible } from "../../config/nodeCache";
import { hfCachedModelArgs, nodeCacheEnv, nodeCacheOwner, nodeCacheVolume, nodeCacheVolumeMount } from "./nodeCache";
import { modelContainerPorts, servingRuntimes } from "./runtime";
import { readinessPathFor, runaiStreamerModelSpec, vllmHealthPath } from "./vllmRuntime";

export interface InferenceServiceOptions {
    /** ServiceAccount of the predictor pods (carries the HF token Secret for KServe's storage initializer). */
    serviceAccountName: string;
    /** Scheduling on the model's A100 group; required when `gpus > 0`, ignored otherwise. */
    gpuScheduling?: GpuScheduling;
    /** Secret with key `HF_TOKEN`, when the model has `hfTokenSecret`. */
    hfTokenSecretName?: string;
    /** Region of an `s3://` model's bucket; required with `runtime: gpu-serverless-vllm-openai` (the streamer's `AWS_REGION`). */
    s3Region?: string;
    /**
     * Use the node-local NVMe cache (nodeCache.ts; config `nodeCache`, see config/nodeCache.ts `usesNodeCache`): KServe's Hugging Face
     * server downloads `hf://` weights by id and revision into it, and vLLM's compile caches live there. Default false.
     */
    nodeCache?: boolean;
}

/** The KServe runtime's model format: `vllm` is KServe's Hugging Face runtime with its vLLM backend forced. */
export function kserveModelFormat(model: Pick<ModelConfig, "format">): string {
    return servingRuntimes[model.format].modelFormat;
}

/** Model server arguments: ours first, then `runtimeArgs` (argparse keeps the last value of a repeated flag). */
export function modelServerArgs(model: ModelConfig): string[] {
    const args: string[] = [];
    if (isLlmFormat(model.format)) {
        // The OpenAI `model` field must match the served name, or the server answers 404.
        args.push(`--model_name=${servedModelName(model)}`);
        if (model.format === "vllm") args.push("--backend=vllm");
        if (model.gpus > 1) args.push(`--tensor-parallel-size=${model.gpus}`);
    }
    return [...args, ...model.runtimeArgs];
}

/** Size of the in-memory `/dev/shm` vLLM uses for inter-process tensors: 2Gi per GPU, at least 2Gi. */
export function sharedMemorySize(model: Pick<ModelConfig, "gpus">): string {
    return `${2 * Math.max(1, model.gpus)}Gi`;
}

/**
 * The startup probe's period bounds how long a loaded model waits to be seen ready (the activator releases held
 * requests on that event), so it is short; a local HTTP GET a second costs the pod nothing.
 */
const PROBE_PERIOD_SECONDS = 1;

/**
 * Startup probe failures allowed: enough periods for the server-start phase of the cold start
 * (`coldStart.startupSeconds`), not the whole hold: image pull and weight download happen before the container
 * starts, and a server that has not come up within its own budget is restarted rather than waited on forever.
 */
export function startupFailureThreshold(model: Pick<ModelConfig, "coldStart">, nodeCache = false): number {
    // With the node cache the server itself downloads the weights (no storage initializer): its probe covers both.
    const seconds = model.coldStart.startupSeconds + (nodeCache ? model.coldStart.downloadSeconds : 0);
    return Math.ceil(seconds / PROBE_PERIOD_SECONDS);
}

/**
 * cluster-autoscaler's per-pod scale-up delay (kubernetes/autoscaler cluster-autoscaler-1.33.0
 * core/static_autoscaler.go `podScaleUpDelayAnnotationKey`; FAQ "pod-scale-up-delay"): it ignores an unschedulable
 * pod younger than this. KServe creates a new predictor Deployment with Kubernetes' default of one replica under the
 * `external` autoscaler class (it sets `replicas` only for class `none`: kserve/kserve v0.20.0
 * reconcilers/deployment/deployment_reconciler.go `createRawDefaultDeployment`), so a new GPU model's first pod
 * would make cluster-autoscaler buy a p4d that nobody asked for; KEDA takes the Deployment to zero within seconds,
 * before this delay ends, and no node is bought. Every later cold start waits this much longer (seconds against the
 * minutes of a node boot); it is part of the cold-start budget.
 */
export const podScaleUpDelayAnnotation = "cluster-autoscaler.kubernetes.io/pod-scale-up-delay";

export function inferenceServiceManifest(model: ModelConfig, options: InferenceServiceOptions) {
    const llm = isLlmFormat(model.format);
    const gpu = model.gpus > 0;
    if (gpu && !options.gpuScheduling) throw new Error(`model ${model.name}: gpus > 0 needs GPU scheduling (node selector and toleration)`);

    const quantities: Record<string, string> = { cpu: model.cpu, memory: model.memory };
    if (gpu) quantities["nvidia.com/gpu"] = String(model.gpus);

    // Our vLLM runtime (vllmRuntime.ts): no storageUri (so no storage initializer), the S3 location as vLLM's
    // --model, vLLM's own /health for the probes.
    const streaming = model.runtime === streamingRuntimeName;
    if (streaming && options.s3Region === undefined) throw new Error(`model ${model.name}: runtime ${streamingRuntimeName} needs the bucket's region (options.s3Region)`);
    const streamed = streaming
        ? runaiStreamerModelSpec({ name: model.name, storageUri: model.storageUri, gpus: model.gpus, servedModelName: servedModelName(model) }, options.s3Region!)
        : undefined;

    const env: k8s.types.input.core.v1.EnvVar[] = [];
    if (llm && !streamed) {
        // KServe serves the OpenAI API under /openai by default; the activator forwards /v1/... unchanged. (vLLM's own
        // server, on our runtime, has no prefix.)
        env.push({ name: "KSERVE_OPENAI_ROUTE_PREFIX", value: "" });
    }
    if (options.hfTokenSecretName) {
        env.push({ name: "HF_TOKEN", valueFrom: { secretKeyRef: { name: options.hfTokenSecretName, key: "HF_TOKEN" } } });
    }
    if (streamed) env.push(...streamed.env);
    const cached = options.nodeCache === true;
    if (cached && !nodeCacheEligible(model)) throw new Error(`model ${model.name}: the node cache is for hf:// LLMs on GPUs with KServe's runtime`);
    if (cached) env.push(...nodeCacheEnv());
    const ours = modelServerArgs({ ...model, runtimeArgs: [] });
    const args = streamed ? [...streamed.args, ...model.runtimeArgs] : [...ours, ...(cached ? hfCachedModelArgs(model.storageUri) : []), ...model.runtimeArgs];
    const volumes = [
        ...(llm ? [{ name: "dshm", emptyDir: { medium: "Memory", sizeLimit: sharedMemorySize(model) } }] : []),
        ...(cached ? [nodeCacheVolume()] : []),
    ];
    const volumeMounts = [...(llm ? [{ name: "dshm", mountPath: "/dev/shm" }] : []), ...(cached ? [nodeCacheVolumeMount()] : [])];
    const runtime = servingRuntimes[model.format];
    const httpGet = (path: string) => ({ path, port: modelServerPort, scheme: "HTTP" });
    const ready = readinessPathFor(model);
    const live = streamed ? vllmHealthPath : livenessPath;

    return {
        apiVersion: "serving.kserve.io/v1beta1",
        kind: "InferenceService",
        metadata: {
            name: model.name,
            namespace: model.namespace,
            labels: modelLabels(model),
            annotations: {
                "serving.kserve.io/deploymentMode": "Standard",
                "serving.kserve.io/autoscalerClass": "external",
            },
        },
        spec: {
            predictor: {
                // Bounds only: with the external autoscaler class the ScaledObject owns the replica count.
                minReplicas: model.minReplicas,
                maxReplicas: model.maxReplicas,
                // Pod annotations (KServe copies them onto the predictor pods).
                ...(gpu ? { annotations: { [podScaleUpDelayAnnotation]: `${scaleUpDelaySeconds(model)}s` } } : {}),
                serviceAccountName: options.serviceAccountName,
                ...(gpu ? { nodeSelector: options.gpuScheduling!.nodeSelector, tolerations: options.gpuScheduling!.tolerations } : {}),
                ...(volumes.length > 0 ? { volumes } : {}),
                // The cache directory is group-writable by this group (the prepare DaemonSet sets it); OnRootMismatch
                // keeps the kubelet from re-owning the whole cache on every mount.
                ...(cached ? { securityContext: { fsGroup: nodeCacheOwner.gid, fsGroupChangePolicy: "OnRootMismatch" } } : {}),
                model: {
                    modelFormat: { name: kserveModelFormat(model) },
                    // Part of KServe's runtime selection: without it onnx, tensorrt and mlflow match no runtime.
                    ...(runtime.protocolVersion ? { protocolVersion: runtime.protocolVersion } : {}),
                    // Our runtime, or the node cache: no storageUri, so the pod mutator injects no storage initializer.
                    ...(streamed ? { runtime: streamed.runtime } : {}),
                    ...(streamed || cached ? {} : { storageUri: model.storageUri }),
                    // Declared so that KServe names the Service port after it and Prometheus finds it (see runtime.ts).
                    ports: modelContainerPorts(model.format),
                    ...(args.length > 0 ? { args } : {}),
                    ...(env.length > 0 ? { env } : {}),
                    resources: { requests: quantities, limits: { ...quantities } },
                    ...(volumeMounts.length > 0 ? { volumeMounts } : {}),
                    // Weights load before the server answers: the startup probe gives it the whole cold-start
                    // budget, then readiness and liveness take over at their usual pace.
                    startupProbe: {
                        httpGet: httpGet(ready),
                        periodSeconds: PROBE_PERIOD_SECONDS,
                        timeoutSeconds: 5,
                        failureThreshold: startupFailureThreshold(model, cached),
                    },
                    readinessProbe: { httpGet: httpGet(ready), periodSeconds: 2, timeoutSeconds: 5, failureThreshold: 3 },
                    livenessProbe: { httpGet: httpGet(live), periodSeconds: 15, timeoutSeconds: 5, failureThreshold: 4 },
                },
            },
        },
    };
}
