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
export function startupFailureThreshold(model: Pick<ModelConfig, "coldStart">): number {
    return Math.ceil(model.coldStart.startupSeconds / PROBE_PERIOD_SECONDS);
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
    const args = streamed ? [...streamed.args, ...model.runtimeArgs] : modelServerArgs(model);
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
                ...(llm ? { volumes: [{ name: "dshm", emptyDir: { medium: "Memory", sizeLimit: sharedMemorySize(model) } }] } : {}),
                model: {
                    modelFormat: { name: kserveModelFormat(model) },
                    // Part of KServe's runtime selection: without it onnx, tensorrt and mlflow match no runtime.
                    ...(runtime.protocolVersion ? { protocolVersion: runtime.protocolVersion } : {}),
                    // Our runtime: no storageUri, so the pod mutator injects no storage initializer.
                    ...(streamed ? { runtime: streamed.runtime } : {}),
                    ...(streamed ? {} : { storageUri: model.storageUri }),
                    // Declared so that KServe names the Service port after it and Prometheus finds it (see runtime.ts).
                    ports: modelContainerPorts(model.format),
                    ...(args.length > 0 ? { args } : {}),
                    ...(env.length > 0 ? { env } : {}),
                    resources: { requests: quantities, limits: { ...quantities } },
                    ...(llm ? { volumeMounts: [{ name: "dshm", mountPath: "/dev/shm" }] } : {}),
                    // Weights load before the server answers: the startup probe gives it the whole cold-start
                    // budget, then readiness and liveness take over at their usual pace.
                    startupProbe: {
                        httpGet: httpGet(ready),
                        periodSeconds: PROBE_PERIOD_SECONDS,
                        timeoutSeconds: 5,
                        failureThreshold: startupFailureThreshold(model),
                    },
                    readinessProbe: { httpGet: httpGet(ready), periodSeconds: 2, timeoutSeconds: 5, failureThreshold: 3 },
                    livenessProbe: { httpGet: httpGet(live), periodSeconds: 15, timeoutSeconds: 5, failureThreshold: 4 },
                },
            },
        },
    };
}
