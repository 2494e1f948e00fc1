/**
 * Who may talk to a model and who watches it, as plain data: the ServiceMonitor Prometheus scrapes the predictor's
 * metrics through, and the NetworkPolicy that admits only the activator and Prometheus to the model pods.
 */
import type { ModelConfig } from "../../config/models";
import { prometheusPodLabels } from "../../domain/clusterFacts";
import { modelLabels, modelServerPort, predictorLabels, predictorName } from "./predictor";
import { metricsPortNameFor, servingRuntimes } from "./runtime";

export interface NetworkPolicyOptions {
    /** Namespace and pod labels of the activator. */
    activator: { namespace: string; podLabels: Record<string, string> };
    /** Namespace of Prometheus (its pods carry prometheusPodLabels). */
    monitoringNamespace: string;
}

/**
 * Scrapes `/metrics` of the model server (vLLM metrics included for LLMs) on the port its runtime serves metrics on,
 * selected by NAME: prometheus-operator keeps only targets whose endpoint port is named `port` (Service port name,
 * which KServe copies from the container port we declare), or, for `targetPort`, a container port the pod DECLARES
 * (prometheus-operator v0.93.0 pkg/prometheus/promcfg.go `generateServiceMonitorConfig`: relabelling on
 * `__meta_kubernetes_endpointslice_port_name`, resp. `__meta_kubernetes_pod_container_port_number`, which exists only
 * for declared ports). KServe's runtimes declare none, so a numeric targetPort scraped nothing.
 */
export function serviceMonitorManifest(model: ModelConfig) {
    return {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "ServiceMonitor",
        metadata: { name: predictorName(model), namespace: model.namespace, labels: modelLabels(model) },
        spec: {
            selector: { matchLabels: predictorLabels(model) },
            namespaceSelector: { matchNames: [model.namespace] },
            endpoints: [{ port: metricsPortNameFor(model.format), path: "/metrics", scheme: "http", interval: "15s" }],
        },
    };
}

/** A NetworkPolicy peer selected by namespace name (label `kubernetes.io/metadata.name`, set by Kubernetes) and pod labels. */
export function peer(namespace: string, podLabels: Record<string, string>) {
    return {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
        podSelector: { matchLabels: podLabels },
    };
}

/** Ingress to the model pods: the activator on the model server port, Prometheus on the metrics port. */
export function networkPolicyManifest(model: ModelConfig, options: NetworkPolicyOptions) {
    const port = [{ protocol: "TCP", port: modelServerPort }];
    const metricsPort = [{ protocol: "TCP", port: servingRuntimes[model.format].metricsPort }];
    return {
        metadata: { name: predictorName(model), namespace: model.namespace, labels: modelLabels(model) },
        spec: {
            podSelector: { matchLabels: predictorLabels(model) },
            policyTypes: ["Ingress"],
            ingress: [
                { from: [peer(options.activator.namespace, options.activator.podLabels)], ports: port },
                { from: [peer(options.monitoringNamespace, prometheusPodLabels)], ports: metricsPort },
            ],
        },
    };
}
