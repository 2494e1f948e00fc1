/** Helm values and in-cluster names for the `kube-prometheus-stack` chart. */
import { NodeSelector } from "./scheduling";

export interface KubePrometheusStackSettings {
    /** Labels of the system nodes: operator, Prometheus, Alertmanager and Grafana run there. */
    systemNodeSelector: NodeSelector;
    /** How long Prometheus keeps samples (Prometheus duration, e.g. `15d`). */
    retention: string;
    /** Size of Prometheus' persistent volume (e.g. `50Gi`). */
    storageSize: string;
    /** StorageClass of that volume (e.g. `gp3`). */
    storageClassName: string;
    /** Existing Secret holding Grafana's `admin-user` and `admin-password`, so no password passes through Helm values. */
    grafanaAdminSecret: string;
}

/** Keys of the Grafana admin Secret (the chart's defaults for `grafana.admin.userKey`/`passwordKey`). */
export const grafanaAdminKeys = { user: "admin-user", password: "admin-password" } as const;

/** Port of the chart's Prometheus Service (`prometheus.service.port`, left at its default). */
export const prometheusPort = 9090;

// Selectors of the Prometheus custom resource: `{}` selects everything; the `*NilUsesHelmValues: false` flags stop the
// chart from narrowing an empty selector to its own `release` label, so ServiceMonitors of KEDA, DCGM, the activator and
// every model are picked up from any namespace without carrying our Helm release label.
const selectEverywhere = {
    serviceMonitorSelectorNilUsesHelmValues: false,
    serviceMonitorSelector: {},
    serviceMonitorNamespaceSelector: {},
    podMonitorSelectorNilUsesHelmValues: false,
    podMonitorSelector: {},
    podMonitorNamespaceSelector: {},
    probeSelectorNilUsesHelmValues: false,
    probeSelector: {},
    probeNamespaceSelector: {},
    ruleSelectorNilUsesHelmValues: false,
    ruleSelector: {},
    ruleNamespaceSelector: {},
};

export function kubePrometheusStackValues(s: KubePrometheusStackSettings) {
    const nodeSelector = { ...s.systemNodeSelector };
    return {
        // EKS runs the control plane and hides it (and kube-proxy binds metrics to localhost): these targets would
        // only ever be down and fire alerts.
        kubeControllerManager: { enabled: false },
        kubeScheduler: { enabled: false },
        kubeEtcd: { enabled: false },
        kubeProxy: { enabled: false },
        prometheusOperator: {
            nodeSelector,
            admissionWebhooks: { patch: { nodeSelector } },
        },
        prometheus: {
            // In-cluster only: KEDA and Grafana reach it through the ClusterIP Service.
            service: { type: "ClusterIP" },
            ingress: { enabled: false },
            prometheusSpec: {
                ...selectEverywhere,
                nodeSelector,
                retention: s.retention,
                // Delete the volume's claim with the StatefulSet (`pulumi destroy`), so the StorageClass's
                // reclaimPolicy Delete removes the EBS volume instead of leaving it billed after the cluster is gone.
                persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Retain" },
                storageSpec: {
                    volumeClaimTemplate: {
                        spec: {
                            storageClassName: s.storageClassName,
                            accessModes: ["ReadWriteOnce"],
                            resources: { requests: { storage: s.storageSize } },
                        },
                    },
                },
            },
        },
        alertmanager: {
            service: { type: "ClusterIP" },
            ingress: { enabled: false },
            alertmanagerSpec: { nodeSelector },
        },
        // kube_node_labels carries only allowed labels: the node group lets the dashboard show GPUs per group.
        "kube-state-metrics": { metricLabelsAllowlist: ["nodes=[gpu-serverless.io/node-group]"] },
        grafana: {
            // `nodeSelector` belongs to the grafana subchart's own values (kube-prometheus-stack does not list it).
            nodeSelector,
            ingress: { enabled: false },
            admin: { existingSecret: s.grafanaAdminSecret, userKey: grafanaAdminKeys.user, passwordKey: grafanaAdminKeys.password },
        },
    };
}

/**
 * The chart's full name (`kube-prometheus-stack.fullname` in its _helpers.tpl): the release name when it already
 * contains the chart name, else `<release>-kube-prometheus-stack`; truncated to 26 characters, one trailing `-` cut.
 */
export function kubePrometheusStackFullname(releaseName: string, fullnameOverride = ""): string {
    const chart = "kube-prometheus-stack";
    const base = fullnameOverride !== "" ? fullnameOverride : releaseName.includes(chart) ? releaseName : `${releaseName}-${chart}`;
    const truncated = base.slice(0, 26);
    return truncated.endsWith("-") ? truncated.slice(0, -1) : truncated;
}

/** In-cluster URL of the chart's Prometheus Service (`<fullname>-prometheus`), for KEDA prometheus triggers. */
export function prometheusUrl(releaseName: string, namespace: string): string {
    return `http://${kubePrometheusStackFullname(releaseName)}-prometheus.${namespace}.svc.cluster.local:${prometheusPort}`;
}
