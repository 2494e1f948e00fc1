/**
 * Who may talk to a model and who watches it, as plain data: the ServiceMonitor Prometheus scrapes the predictor's
 * metrics through, and the NetworkPolicy that admits only the activator and Prometheus to the model pods.
 */
import type { ModelConfig } from "../config/models";
import { modelLabels, modelServerPort, predictorLabels, predictorName } from "./predictor";

export interface NetworkPolicyOptions {
    /** Namespace and pod labels of the activator. */
    activator: { namespace: string; podLabels: Record<string, string> };
    /** Namespace of Prometheus (kube-prometheus-stack labels its pods `app.kubernetes.io/name: prometheus`). */
    monitoringNamespace: string;
}

/** Scrapes `/metrics` on the model server port behind the predictor Service (vLLM metrics included for LLMs). */
export function serviceMonitorManifest(model: ModelConfig) {
    return {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "ServiceMonitor",
        metadata: { name: predictorName(model), namespace: model.namespace, labels: modelLabels(model) },
        spec: {
            selector: { matchLabels: predictorLabels(model) },
            namespaceSelector: { matchNames: [model.namespace] },
            // The Service's port name comes from the serving runtime; the container port number does not vary.
            endpoints: [{ targetPort: modelServerPort, path: "/metrics", scheme: "http", interval: "15s" }],
        },
    };
}

/** A peer selected by namespace name (label set by Kubernetes) and pod labels. */
function peer(namespace: string, podLabels: Record<string, string>) {
    return {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
        podSelector: { matchLabels: podLabels },
    };
}

/** Ingress to the model pods: the activator (requests) and Prometheus (scrapes), on the model server port only. */
export function networkPolicyManifest(model: ModelConfig, options: NetworkPolicyOptions) {
    const port = [{ protocol: "TCP", port: modelServerPort }];
    return {
        metadata: { name: predictorName(model), namespace: model.namespace, labels: modelLabels(model) },
        spec: {
            podSelector: { matchLabels: predictorLabels(model) },
            policyTypes: ["Ingress"],
            ingress: [
                { from: [peer(options.activator.namespace, options.activator.podLabels)], ports: port },
                { from: [peer(options.monitoringNamespace, { "app.kubernetes.io/name": "prometheus" })], ports: port },
            ],
        },
    };
}
