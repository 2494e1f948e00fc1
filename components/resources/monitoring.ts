/**
 * Monitoring: kube-prometheus-stack (Prometheus operator and CRDs, Prometheus, Alertmanager, Grafana, exporters) in its
 * own namespace, reachable in-cluster only. Its release installs the `monitoring.coreos.com` CRDs, so every
 * ServiceMonitor elsewhere (DCGM, KEDA, models) must depend on `release`.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { childName } from "../domain/naming";
import { checkDnsLabel, checkPrometheusDuration, checkStorageSize } from "../domain/checks";
import { grafanaAdminKeys, kubePrometheusStackValues, prometheusUrl } from "../manifests/charts/kubePrometheusStack";
import { NodeSelector, checkNodeSelector } from "../manifests/charts/scheduling";
import { ChartVersionOverrides, releaseSource, resolveChart } from "../domain/versions";

export interface MonitoringArgs {
    /** Provider of the cluster every Kubernetes resource goes to. */
    provider: k8s.Provider;
    /** Labels of the system node group; operator, Prometheus, Alertmanager and Grafana run there. Required. */
    systemNodeSelector: NodeSelector;
    /** How long Prometheus keeps samples (Prometheus duration). Default `"15d"`. */
    retention?: string;
    /** Size of Prometheus' persistent volume (binary quantity). Default `"50Gi"`. */
    storageSize?: string;
    /** StorageClass of that volume. Default `"gp3"`. */
    storageClassName?: string;
    /**
     * Create that StorageClass (EBS CSI driver, gp3, encrypted, bound when the pod is scheduled). Default `true`; set
     * `false` when the cluster already has a class by that name. Needs the EBS CSI driver add-on either way.
     */
    createStorageClass?: boolean;
    /** Namespace of the stack. Default `"monitoring"`. */
    namespace?: string;
    /** Per-chart version overrides from stack config. Default: the versions pinned in versions.ts. */
    chartVersions?: ChartVersionOverrides;
}

/** Helm release name; the chart derives its object names (and so the Prometheus URL) from it. */
const releaseName = "kube-prometheus-stack";
/** Name of the Secret holding Grafana's admin credentials. */
const grafanaAdminSecretName = "grafana-admin";

/** Arguments with defaults applied; throws naming the argument when one is invalid. */
function monitoringSettings(name: string, args: MonitoringArgs) {
    const owner = `Monitoring "${name}"`;
    const settings = {
        namespaceName: args.namespace ?? "monitoring",
        retention: args.retention ?? "15d",
        storageSize: args.storageSize ?? "50Gi",
        storageClassName: args.storageClassName ?? "gp3",
        chart: resolveChart("kube-prometheus-stack", args.chartVersions),
    };
    checkNodeSelector(owner, "systemNodeSelector", args.systemNodeSelector, false);
    checkDnsLabel(owner, "namespace", settings.namespaceName);
    checkDnsLabel(owner, "storageClassName", settings.storageClassName);
    checkPrometheusDuration(owner, "retention", settings.retention);
    checkStorageSize(owner, "storageSize", settings.storageSize);
    return settings;
}

export class Monitoring extends pulumi.ComponentResource {
    /** The kube-prometheus-stack release; depend on it before creating ServiceMonitors, PodMonitors or rules. */
    public readonly release: k8s.helm.v3.Release;
    /** Namespace of the stack. */
    public readonly namespace: pulumi.Output<string>;
    /** In-cluster Prometheus URL, e.g. `http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090`. */
    public readonly prometheusUrl: pulumi.Output<string>;
    /** Grafana `admin` password (secret). */
    public readonly grafanaAdminPassword: pulumi.Output<string>;

    constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        const { namespaceName, retention, storageSize, storageClassName, chart } = monitoringSettings(name, args);
        super("gpu-serverless:monitoring:Monitoring", name, {}, opts);

        const k8sOpts = { parent: this, provider: args.provider };
        const namespace = new k8s.core.v1.Namespace(childName(name, "namespace"), { metadata: { name: namespaceName } }, k8sOpts);

        const password = new random.RandomPassword(
            childName(name, "grafana-admin-password"),
            { length: 32, special: false },
            { parent: this },
        );
        // The password reaches Grafana through this Secret, never through Helm values (stored in the release record).
        const adminSecret = new k8s.core.v1.Secret(
            childName(name, "grafana-admin"),
            {
                metadata: { name: grafanaAdminSecretName, namespace: namespace.metadata.name },
                type: "Opaque",
                stringData: { [grafanaAdminKeys.user]: "admin", [grafanaAdminKeys.password]: password.result },
            },
            k8sOpts,
        );

        const releaseDependsOn: pulumi.Resource[] = [adminSecret];
        if (args.createStorageClass !== false) {
            const storageClass = new k8s.storage.v1.StorageClass(
                childName(name, "storage-class"),
                {
                    metadata: { name: storageClassName },
                    provisioner: "ebs.csi.aws.com",
                    parameters: { type: "gp3", encrypted: "true" },
                    // Bind where the pod is scheduled: an EBS volume lives in one availability zone.
                    volumeBindingMode: "WaitForFirstConsumer",
                    allowVolumeExpansion: true,
                    // The EBS volume goes when its claim goes (with the Prometheus StatefulSet, see its values).
                    reclaimPolicy: "Delete",
                },
                k8sOpts,
            );
            releaseDependsOn.push(storageClass);
        }

        this.release = new k8s.helm.v3.Release(
            childName(name, "kube-prometheus-stack"),
            {
                name: releaseName,
                namespace: namespace.metadata.name,
                ...releaseSource(chart),
                values: kubePrometheusStackValues({
                    systemNodeSelector: args.systemNodeSelector,
                    retention,
                    storageSize,
                    storageClassName,
                    grafanaAdminSecret: grafanaAdminSecretName,
                }),
                // Images, CRDs and the webhook certificate job can outlast Helm's default 5 minutes on a new cluster.
                timeout: 900,
            },
            { ...k8sOpts, dependsOn: releaseDependsOn },
        );

        this.namespace = namespace.metadata.name;
        this.prometheusUrl = pulumi.all([this.release.name, this.release.namespace]).apply(([release, ns]) => prometheusUrl(release, ns));
        this.grafanaAdminPassword = pulumi.secret(password.result);
        this.registerOutputs({
            release: this.release,
            namespace: this.namespace,
            prometheusUrl: this.prometheusUrl,
            grafanaAdminPassword: this.grafanaAdminPassword,
        });
    }
}
