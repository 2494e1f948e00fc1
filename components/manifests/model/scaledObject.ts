/**
 * The KEDA ScaledObject of one model, as plain data: it owns the replica count of the predictor Deployment.
 *
 * Exactly one trigger, `external-push` to the activator's scaler Service, and nothing else, because of two rules of
 * KEDA v2.20.2 (kedacore/keda, tag v2.20.2):
 * - pkg/scaling/scale_handler.go `getScaledObjectState` marks the ScaledObject in error when ANY trigger errors, and
 *   pkg/scaling/executor/scale_scaledobjects.go `RequestScale` never scales an inactive ScaledObject in error to zero
 *   (case `isError && Fallback == nil`: "Triggers defined in ScaledObject are not working correctly"). A trigger
 *   whose source can be down while the activator serves (a per-pod address, Prometheus) would pin awake models up.
 * - The HPA takes the largest recommendation over its metrics, so per-replica demand triggers would scale out on the
 *   busiest activator replica, not the total.
 * Activator replicas share demand among themselves (activator/src/peers), so whichever replica KEDA's one connection
 * to the Service reaches answers `IsActive`, `StreamIsActive` and `GetMetrics` for the whole cluster. For LLMs the
 * same trigger carries two more metrics the activator reads from vLLM itself (`vllm:num_requests_waiting`,
 * `vllm:kv_cache_usage_perc`, targets `vllm.waitingRequestsPerReplica` and `vllm.kvCacheUsage`): KEDA makes one HPA
 * metric per spec the scaler returns (pkg/scalers/external_scaler.go `GetMetricSpecForScaling`), all AverageValue.
 * - HPA behaviour: scale up at once, scale down one replica a minute after five quiet minutes.
 */
import { MODEL_METADATA_KEY, modelKey } from "../../../activator/src/index";
import type { ModelConfig } from "../../config/models";
import { modelLabels, predictorName } from "./predictor";

/** apiVersion and kind, known before the manifest's Output inputs resolve. */
export const scaledObjectType = { apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject" } as const;

/** The name of the one trigger. */
export const activatorTriggerName = "activator";

export interface ScaledObjectOptions {
    /**
     * `host:port` KEDA dials (Activator.scalerAddress): the KEDA relay in KEDA's own pod (`127.0.0.1:9095`,
     * ../charts/keda.ts), which keeps the connection to the activator's scaler Service alive.
     */
    scalerAddress: string;
}

export function scaledObjectManifest(model: ModelConfig, options: ScaledObjectOptions) {
    if (!/^[^\s/:]+:\d+$/.test(options.scalerAddress)) {
        throw new Error(`ScaledObject of model "${model.name}": scaler address "${options.scalerAddress}" is not host:port`);
    }
    const triggers = [
        {
            type: "external-push",
            name: activatorTriggerName,
            // Every metric of the trigger is a total over the model's replicas; the HPA divides it by the replica count.
            metricType: "AverageValue",
            metadata: {
                scalerAddress: options.scalerAddress,
                [MODEL_METADATA_KEY]: modelKey(model),
                // Queue load scaling (docs/queue-scaling.md): KEDA reads GetMetricSpec when it reconciles the ScaledObject,
                // so adding queues or changing their target must change the ScaledObject; the activator ignores this key.
                ...(model.queueScaling ? { queueMessagesPerReplica: String(model.queueScaling.messagesPerReplica) } : {}),
            },
        },
    ];
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
