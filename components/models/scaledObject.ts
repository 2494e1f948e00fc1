/**
 * The KEDA ScaledObject of one model, as plain data: it owns the replica count of the predictor Deployment.
 *
 * - `external-push` to the activator's scaler, one trigger per activator replica (KEDA keeps one gRPC stream per
 *   trigger, and each replica only knows the requests it holds): the only triggers that can wake a model at zero (a
 *   replica pushes `true` the moment a request arrives) and the ones that keep it up while requests are held or in
 *   flight. KEDA ORs activity across triggers, so activation and scale-to-zero are exact; the HPA takes the largest
 *   of its metrics, so scale-out follows the busiest replica's demand, not the sum over replicas.
 * - For LLMs, `prometheus` triggers on vLLM's own queue and KV-cache gauges, so a replica that is busy but not yet
 *   saturated in request count still gets company. At zero replicas they have no samples and stay inactive.
 * - HPA behaviour: scale up at once, scale down one replica a minute after five quiet minutes.
 */
import { modelKey } from "../../activator/src/config/schema";
import { MODEL_METADATA_KEY } from "../../activator/src/scaler/activity";
import type { ModelConfig } from "../config/models";
import { modelLabels, predictorName } from "./predictor";

/** apiVersion and kind, known before the manifest's Output inputs resolve. */
export const scaledObjectType = { apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject" } as const;

export interface ScaledObjectOptions {
    /** `host:port` of each activator replica's external-scaler gRPC endpoint (Activator.scalerAddresses); at least one. */
    scalerAddresses: readonly string[];
    /** In-cluster Prometheus URL (from the monitoring component). */
    prometheusUrl: string;
}

/** PromQL selecting the series Prometheus scraped from this model's predictor Service. */
export function predictorSeries(metric: string, model: Pick<ModelConfig, "name" | "namespace">): string {
    return `${metric}{namespace="${model.namespace}",service="${predictorName(model)}"}`;
}

export function scaledObjectManifest(model: ModelConfig, options: ScaledObjectOptions) {
    if (options.scalerAddresses.length === 0) throw new Error(`ScaledObject of model "${model.name}": no activator scaler address; nothing could wake it`);
    const triggers: Array<{ type: string; name: string; metricType: string; metadata: Record<string, string> }> = options.scalerAddresses.map(
        (scalerAddress, i) => ({
            type: "external-push",
            name: `activator-${i}`,
            metricType: "AverageValue",
            metadata: { scalerAddress, [MODEL_METADATA_KEY]: modelKey(model) },
        }),
    );
    if (model.vllm) {
        // AverageValue divides the sum by the replica count: waiting requests per replica, mean KV-cache usage.
        triggers.push(
            {
                type: "prometheus",
                name: "vllm-waiting-requests",
                metricType: "AverageValue",
                metadata: {
                    serverAddress: options.prometheusUrl,
                    query: `sum(${predictorSeries("vllm:num_requests_waiting", model)})`,
                    threshold: String(model.vllm.waitingRequestsPerReplica),
                },
            },
            {
                type: "prometheus",
                name: "vllm-kv-cache-usage",
                metricType: "AverageValue",
                metadata: {
                    serverAddress: options.prometheusUrl,
                    query: `sum(${predictorSeries("vllm:kv_cache_usage_perc", model)})`,
                    threshold: String(model.vllm.kvCacheUsage),
                },
            },
        );
    }
    return {
        ...scaledObjectType,
        // Named after the model, not `<name>-predictor`: that name belongs to the ScaledObject KServe's own KEDA
        // integration (autoscaler class keda) creates, updates and deletes.
        metadata: { name: model.name, namespace: model.namespace, labels: modelLabels(model) },
        spec: {
            scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: predictorName(model) },
            minReplicaCount: model.minReplicas,
            maxReplicaCount: model.maxReplicas,
            cooldownPeriod: model.cooldownSeconds,
            pollingInterval: model.pollingSeconds,
            advanced: {
                horizontalPodAutoscalerConfig: {
                    behavior: {
                        scaleUp: {
                            stabilizationWindowSeconds: 0,
                            selectPolicy: "Max",
                            policies: [
                                { type: "Percent", value: 100, periodSeconds: 15 },
                                { type: "Pods", value: 4, periodSeconds: 15 },
                            ],
                        },
                        scaleDown: {
                            stabilizationWindowSeconds: 300,
                            selectPolicy: "Min",
                            policies: [{ type: "Pods", value: 1, periodSeconds: 60 }],
                        },
                    },
                },
            },
            triggers,
        },
    };
}
