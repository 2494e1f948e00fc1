/**
 * Which KServe serving runtime serves each model format, and how our InferenceService must ask for it.
 *
 * KServe v0.20 picks a runtime by auto-selection (kserve/kserve v0.20.0, pkg/apis/serving/v1beta1/predictor_model.go
 * `GetSupportingRuntimes`): a ClusterServingRuntime qualifies when one of its `supportedModelFormats` with
 * `autoSelect: true` names the InferenceService's model format AND its `protocolVersions` list the InferenceService's
 * `protocolVersion`, which defaults to `v1` (`ModelSpec.GetProtocol`), except for the formats `triton` and `vLLM`,
 * which the defaulting webhook sets to `v2` (inference_service_defaults.go `setPredictorModelDefaults`). Among the
 * qualifying runtimes the highest `priority` for the format wins. The Triton and MLServer runtimes list only `v2`, so
 * `onnx`, `tensorrt` and `mlflow` must ask for `v2` or nothing matches ("No runtime found").
 *
 * The table below is what we expect KServe to choose; tests/components/manifests/model/runtime.test.ts replays KServe's rule
 * over the runtimes the `kserve-runtime-configs` chart installs (`tests/upstream-facts/manifests/`) and checks every row.
 */
import type { ModelFormat } from "../../config/models";
import { modelServerPort } from "./predictor";

export interface ServingRuntimeChoice {
    /** `spec.predictor.model.modelFormat.name` (KServe's spelling). */
    modelFormat: string;
    /** `spec.predictor.model.protocolVersion`, when the format needs one other than KServe's default. */
    protocolVersion?: "v1" | "v2";
    /** The ClusterServingRuntime KServe selects for it. */
    runtime: string;
    /**
     * Port the runtime serves Prometheus metrics on (its `prometheus.kserve.io/port` annotation): the model server's
     * own port, except Triton's (8002) and TorchServe's (8082) separate metrics ports.
     */
    metricsPort: number;
}

const tritonMetricsPort = 8002;
const torchServeMetricsPort = 8082;

/**
 * Per format we accept. `v2` where the runtime speaks only v2 (Triton, MLServer) and for TorchServe, whose v1
 * envelope would not parse the Open Inference Protocol requests our default route `/v2/models/<name>` forwards;
 * KServe's own Python servers (sklearn, xgboost, lightgbm, pmml, paddle, huggingface) serve the v2 REST routes under
 * either protocol, so they keep the default and KServe's own server rather than MLServer.
 */
export const servingRuntimes: Record<ModelFormat, ServingRuntimeChoice> = {
    vllm: { modelFormat: "huggingface", runtime: "kserve-huggingfaceserver", metricsPort: modelServerPort },
    huggingface: { modelFormat: "huggingface", runtime: "kserve-huggingfaceserver", metricsPort: modelServerPort },
    sklearn: { modelFormat: "sklearn", runtime: "kserve-sklearnserver", metricsPort: modelServerPort },
    xgboost: { modelFormat: "xgboost", runtime: "kserve-xgbserver", metricsPort: modelServerPort },
    lightgbm: { modelFormat: "lightgbm", runtime: "kserve-lgbserver", metricsPort: modelServerPort },
    pmml: { modelFormat: "pmml", runtime: "kserve-pmmlserver", metricsPort: modelServerPort },
    paddle: { modelFormat: "paddle", runtime: "kserve-paddleserver", metricsPort: modelServerPort },
    mlflow: { modelFormat: "mlflow", protocolVersion: "v2", runtime: "kserve-mlserver", metricsPort: modelServerPort },
    pytorch: { modelFormat: "pytorch", protocolVersion: "v2", runtime: "kserve-torchserve", metricsPort: torchServeMetricsPort },
    onnx: { modelFormat: "onnx", protocolVersion: "v2", runtime: "kserve-tritonserver", metricsPort: tritonMetricsPort },
    triton: { modelFormat: "triton", protocolVersion: "v2", runtime: "kserve-tritonserver", metricsPort: tritonMetricsPort },
    tensorrt: { modelFormat: "tensorrt", protocolVersion: "v2", runtime: "kserve-tritonserver", metricsPort: tritonMetricsPort },
};

/** Name of the model container's HTTP port; KServe names the predictor Service's port 80 after it. */
export const httpPortName = "http";
/** Name of a separate metrics port (Triton's, TorchServe's). */
export const metricsPortName = "metrics";

/**
 * Ports the model container declares. KServe v0.20 builds the predictor Service from them
 * (reconcilers/service/service_reconciler.go `createDefaultSvc`: the first becomes Service port 80 with its name, the
 * others keep their number and name); prometheus-operator only finds container ports that are declared.
 */
export function modelContainerPorts(format: ModelFormat): { name: string; containerPort: number; protocol: "TCP" }[] {
    const ports = [{ name: httpPortName, containerPort: modelServerPort, protocol: "TCP" as const }];
    const metrics = servingRuntimes[format].metricsPort;
    if (metrics !== modelServerPort) ports.push({ name: metricsPortName, containerPort: metrics, protocol: "TCP" });
    return ports;
}

/** The Service/container port name Prometheus scrapes for this format. */
export function metricsPortNameFor(format: ModelFormat): string {
    return servingRuntimes[format].metricsPort === modelServerPort ? httpPortName : metricsPortName;
}
