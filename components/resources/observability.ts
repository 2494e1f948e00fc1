/**
 * Observability: what operators get with the stack besides the metrics themselves. A PrometheusRule with the
 * stack's alerts (`operations/alertRules.ts`, thresholds from the stack key `alerts`) and a ConfigMap holding the
 * Grafana dashboard (`operations/dashboard.ts`) that kube-prometheus-stack's Grafana sidecar loads. Both live in the
 * monitoring namespace and wait for the kube-prometheus-stack release (its CRDs, its Grafana).
 *
 * The Prometheus the chart creates selects every PrometheusRule in every namespace (`ruleSelector: {}`,
 * `ruleNamespaceSelector: {}`, `ruleSelectorNilUsesHelmValues: false` in manifests/charts/kubePrometheusStack.ts), so the rule
 * needs no release label.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { AlertThresholds } from "../config/alerts";
import { childName } from "../domain/naming";
import { alertRuleGroups, type AlertedModel } from "../manifests/operations/alertRules";
import { canaryRuleGroups } from "../manifests/operations/canaryAlerts";
import { grafanaDashboard, grafanaDashboardLabel } from "../manifests/operations/dashboard";
import { checkDnsLabel } from "../domain/checks";

export interface ObservabilityArgs {
    provider: k8s.Provider;
    /** Namespace of kube-prometheus-stack, where the rule and the dashboard go. Required. */
    monitoringNamespace: pulumi.Input<string>;
    /** The kube-prometheus-stack release (PrometheusRule CRD, Grafana sidecar). Required. */
    monitoring: pulumi.Resource;
    /** Namespace of the activator (its container is `activator`). Required. */
    activatorNamespace: string;
    /** Alert thresholds (stack key `alerts`, defaults filled in). Required. */
    thresholds: AlertThresholds;
    /** The models, for the scale-to-zero idle alert. */
    models: readonly AlertedModel[];
    /** Keys `<ns>/<name>` of the models with a canary, for the canary-vs-stable alerts. Default none. */
    canaryModels?: readonly string[];
}

/** The PrometheusRule manifest (without namespace) for the given thresholds and models. */
export function prometheusRuleManifest(name: string, args: Pick<ObservabilityArgs, "activatorNamespace" | "thresholds" | "models" | "canaryModels">) {
    return {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        metadata: { name, labels: { "app.kubernetes.io/part-of": "gpu-serverless" } },
        spec: {
            groups: [...alertRuleGroups(args.thresholds, { activatorNamespace: args.activatorNamespace, models: args.models }), ...canaryRuleGroups(args.canaryModels ?? [])],
        },
    };
}

export class Observability extends pulumi.ComponentResource {
    public readonly prometheusRule: k8s.apiextensions.CustomResource;
    public readonly dashboard: k8s.core.v1.ConfigMap;

    constructor(name: string, args: ObservabilityArgs, opts?: pulumi.ComponentResourceOptions) {
        const owner = `Observability "${name}"`;
        checkDnsLabel(owner, "activatorNamespace", args.activatorNamespace);
        if (!args.thresholds) throw new Error(`${owner} args.thresholds: required`);
        const manifest = prometheusRuleManifest("gpu-serverless", args);
        const dashboard = grafanaDashboard({ activatorNamespace: args.activatorNamespace });
        super("gpu-serverless:observability:Observability", name, {}, opts);

        const k8sOpts = { parent: this, provider: args.provider, dependsOn: [args.monitoring] };
        this.prometheusRule = new k8s.apiextensions.CustomResource(
            childName(name, "alerts"),
            { ...manifest, metadata: { ...manifest.metadata, namespace: args.monitoringNamespace } },
            k8sOpts,
        );
        this.dashboard = new k8s.core.v1.ConfigMap(
            childName(name, "dashboard"),
            {
                metadata: {
                    name: "gpu-serverless-dashboard",
                    namespace: args.monitoringNamespace,
                    labels: { [grafanaDashboardLabel.key]: grafanaDashboardLabel.value, "app.kubernetes.io/part-of": "gpu-serverless" },
                },
                data: { "gpu-serverless.json": JSON.stringify(dashboard) },
            },
            k8sOpts,
        );
        this.registerOutputs({ prometheusRule: this.prometheusRule, dashboard: this.dashboard });
    }
}
