/** Helm values for the KEDA chart (`keda`). */
import { NodeSelector } from "./scheduling";

/**
 * Labels of the KEDA operator's pods, the ones that dial external scalers: the metrics adapter holds no scalers and asks
 * the operator over its metrics-service gRPC port (kedacore/keda v2.20.2 cmd/adapter/main.go `metricsservice.NewGrpcClient`). kedacore/charts v2.20.2 keda/templates/manager/deployment.yaml labels the pod template
 * `app.kubernetes.io/name: {{ .Values.operator.name }}` (default `keda-operator`, kept by kedaValues); the metrics
 * server and webhooks get other names but share `app.kubernetes.io/component: operator`, so that label is not used.
 */
export const kedaOperatorPodLabels = { "app.kubernetes.io/name": "keda-operator" } as const;

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
