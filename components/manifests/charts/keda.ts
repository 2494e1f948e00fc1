/** Helm values for the KEDA chart (`keda`). */
import { NodeSelector } from "./scheduling";

/**
 * Operator, metrics API server and admission webhooks on the system nodes (the chart's top-level `nodeSelector` applies
 * to all three); Prometheus metrics and ServiceMonitors on for the operator and the metrics server, so scaler errors
 * and HPA metric latency are visible next to the models' own metrics.
 */
export function kedaValues(systemNodeSelector: NodeSelector, awsRoleArn?: string) {
    const scraped = { enabled: true, serviceMonitor: { enabled: true } };
    return {
        nodeSelector: { ...systemNodeSelector },
        prometheus: { metricServer: scraped, operator: scraped },
        // With the Batch API: the operator's IRSA role, which reads the chunk queue's length (the batch runner's
        // aws-sqs-queue trigger, components/manifests/batch/runner.ts) and nothing else.
        ...(awsRoleArn !== undefined ? { podIdentity: { aws: { irsa: { enabled: true, roleArn: awsRoleArn } } } } : {}),
    };
}
