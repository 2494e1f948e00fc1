/**
 * What KServe creates for an InferenceService in Standard mode, derived from the model config: the predictor
 * Deployment and Service `<name>-predictor`, the pod labels, the port the model server listens on. The ScaledObject,
 * ServiceMonitor, NetworkPolicy and the activator config all point at these, so they are named in one place.
 */
import type { ModelConfig } from "../../config/models";

/** Port every KServe runtime's model server listens on (HTTP, also serving `/metrics`); the Service maps 80 to it. */
export const modelServerPort = 8080;

/** Server readiness of KServe's model server (Open Inference Protocol), answered by every runtime. */
export const readinessPath = "/v2/health/ready";
/** Server liveness of KServe's model server. */
export const livenessPath = "/v2/health/live";

/** Labels every resource we create for a model carries. */
export function modelLabels(model: Pick<ModelConfig, "name">): Record<string, string> {
    return { "app.kubernetes.io/part-of": "gpu-serverless", "gpu-serverless/model": model.name };
}

/** Name of the Deployment and Service KServe creates for the predictor. */
export function predictorName(model: Pick<ModelConfig, "name">): string {
    return `${model.name}-predictor`;
}

/** Labels KServe puts on the predictor's pods and Service. */
export function predictorLabels(model: Pick<ModelConfig, "name">): Record<string, string> {
    return { "serving.kserve.io/inferenceservice": model.name, component: "predictor" };
}

/** In-cluster base URL of the predictor Service (port 80), where the activator forwards. */
export function backendUrl(model: Pick<ModelConfig, "name" | "namespace">): string {
    return `http://${predictorName(model)}.${model.namespace}.svc.cluster.local`;
}

/** The model name the server answers to: the OpenAI `model` value clients send (LLMs), else the model name. */
export function servedModelName(model: Pick<ModelConfig, "name" | "routing">): string {
    return model.routing.openaiModels[0] ?? model.name;
}
