/**
 * Facts about the cluster's other tenants that several builders rely on, kept in one place: the labels of the pods
 * of the charts we install (NetworkPolicies admit them by these labels) and the taint our GPU nodes carry. When a
 * chart upgrade changes one of them, this is the file to change.
 */

/** Labels of kube-prometheus-stack's Prometheus pods (set by prometheus-operator on the pods it runs). */
export const prometheusPodLabels = { "app.kubernetes.io/name": "prometheus" } as const;

/**
 * Labels of the KEDA operator's pods, the ones that dial external scalers: the metrics adapter holds no scalers and asks
 * the operator over its metrics-service gRPC port (kedacore/keda v2.20.2 cmd/adapter/main.go `metricsservice.NewGrpcClient`). kedacore/charts v2.20.2 keda/templates/manager/deployment.yaml labels the pod template
 * `app.kubernetes.io/name: {{ .Values.operator.name }}` (default `keda-operator`, kept by kedaValues); the metrics
 * server and webhooks get other names but share `app.kubernetes.io/component: operator`, so that label is not used.
 */
export const kedaOperatorPodLabels = { "app.kubernetes.io/name": "keda-operator" } as const;

/** The taint on every GPU node, so only pods that ask for GPUs land there. */
export const gpuTaint = { key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" } as const;
