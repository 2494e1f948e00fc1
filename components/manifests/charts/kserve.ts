/** Helm values for KServe's `kserve-resources` chart (the controller; CRDs come from `kserve-crd`, which takes none). */
import { NodeSelector } from "./scheduling";

/**
 * KServe v0.20's name for raw Kubernetes Deployments (no Knative, no Istio); older releases called it `RawDeployment`.
 * The chart writes it into the `inferenceservice-config` ConfigMap as `deploy.defaultDeploymentMode`.
 */
export const kserveDeploymentMode = "Standard";

/**
 * Default deployment mode `Standard`; no Ingress per InferenceService (our activator fronts every model and the
 * cluster has no ingress class for it); controller on the system nodes.
 */
export function kserveValues(systemNodeSelector: NodeSelector) {
    return {
        kserve: {
            controller: {
                deploymentMode: kserveDeploymentMode,
                gateway: { disableIngressCreation: true },
                nodeSelector: { ...systemNodeSelector },
            },
        },
    };
}

/**
 * Values for KServe's `kserve-runtime-configs` chart: render the ClusterServingRuntimes. The chart's default is
 * `kserve.servingruntime.enabled: false` (kserve/kserve v0.20.0 charts/kserve-runtime-configs/values.yaml), which
 * installs no runtime at all: the controller then answers every InferenceService with "no runtime found".
 */
export function kserveRuntimeValues() {
    return { kserve: { servingruntime: { enabled: true } } };
}
