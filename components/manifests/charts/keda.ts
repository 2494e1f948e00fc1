/** Helm values for the KEDA chart (`keda`). */
import { NodeSelector } from "./scheduling";

/**
 * Operator, metrics API server and admission webhooks on the system nodes (the chart's top-level `nodeSelector` applies
 * to all three); Prometheus metrics and ServiceMonitors on for the operator and the metrics server, so scaler errors
 * and HPA metric latency are visible next to the models' own metrics.
 */
export function kedaValues(systemNodeSelector: NodeSelector) {
    const scraped = { enabled: true, serviceMonitor: { enabled: true } };
    return {
        nodeSelector: { ...systemNodeSelector },
        prometheus: { metricServer: scraped, operator: scraped },
    };
}
