import * as assert from "node:assert/strict";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { alertsSchema } from "../../../components/config/alerts";
import { Observability, prometheusRuleManifest } from "../../../components/resources/observability";
import { kubePrometheusStackValues } from "../../../components/manifests/charts/kubePrometheusStack";
import { chartDefaults } from "../../support/chartValues";
import { crdErrors } from "../../support/crds";
import { dependsOn, resetRecorded, resourceNamed, setupMocks, settled } from "../../support/mocks";

const thresholds = alertsSchema.parse(undefined);

/** Stands in for the kube-prometheus-stack release the component must wait for. */
class TestRelease extends pulumi.CustomResource {
    constructor(name: string) {
        super("test:index:Release", name, {});
    }
}
const models = [{ key: "models/qwen", minReplicas: 0, cooldownSeconds: 300, pollingSeconds: 15 }];

/** Kubernetes label-selector semantics (matchLabels and matchExpressions): an empty selector selects everything. */
function selects(selector: { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> }, labels: Record<string, string>): boolean {
    const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
    const byExpressions = (selector.matchExpressions ?? []).every((e) =>
        e.operator === "In" ? e.values!.includes(labels[e.key]!) : e.operator === "NotIn" ? !e.values!.includes(labels[e.key]!) : e.operator === "Exists" ? e.key in labels : !(e.key in labels),
    );
    return byLabels && byExpressions;
}

describe("Observability", () => {
    const manifest = { ...prometheusRuleManifest("gpu-serverless", { activatorNamespace: "activator", thresholds, models }), metadata: { name: "gpu-serverless", namespace: "monitoring" } };

    it("creates a PrometheusRule the upstream CRD accepts (prometheus-operator v0.93.0)", () => {
        assert.deepEqual(crdErrors(manifest), []);
        // The CRD is strict about what it declares: a stray field is caught.
        const broken = { ...manifest, spec: { groups: [{ ...manifest.spec.groups[0]!, rules: [{ ...manifest.spec.groups[0]!.rules[0]!, severity: "x" }] }] } };
        assert.notDeepEqual(crdErrors(broken), []);
    });

    it("is selected by the Prometheus our kube-prometheus-stack values configure, whatever namespace and labels it has", () => {
        const defaults = chartDefaults("kube-prometheus-stack") as any;
        // With the chart's defaults the rule would need the release label: our values turn that off.
        assert.equal(defaults.prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues, true);
        const spec = kubePrometheusStackValues({
            systemNodeSelector: { "gpu-serverless.io/node-group": "system" },
            retention: "15d",
            storageSize: "50Gi",
            storageClassName: "gp3",
            grafanaAdminSecret: "grafana-admin",
        }).prometheus.prometheusSpec;
        assert.equal(spec.ruleSelectorNilUsesHelmValues, false);
        assert.ok(selects(spec.ruleSelector, { "app.kubernetes.io/part-of": "gpu-serverless" }));
        assert.ok(selects(spec.ruleNamespaceSelector, { "kubernetes.io/metadata.name": "monitoring" }));
    });

    describe("(mocks)", () => {
        let provider: k8s.Provider;
        before(() => {
            setupMocks();
            provider = new k8s.Provider("observability-test-k8s", { kubeconfig: "{}" });
        });
        beforeEach(() => resetRecorded());

        it("creates the rule and a dashboard ConfigMap with the label Grafana's sidecar watches, after kube-prometheus-stack", async () => {
            const monitoring = new TestRelease("kps");
            new Observability("obs", { provider, monitoringNamespace: "monitoring", monitoring, activatorNamespace: "activator", thresholds, models });
            await settled();
            const rule = resourceNamed("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "obs-alerts");
            assert.equal(rule.inputs.metadata.namespace, "monitoring");
            assert.deepEqual(crdErrors(rule.inputs as { apiVersion: string; kind: string }), []);
            assert.ok(rule.inputs.spec.groups.flatMap((g: any) => g.rules).some((r: any) => r.alert === "ModelHeldRequestsHigh"));
            const dashboard = resourceNamed("kubernetes:core/v1:ConfigMap", "obs-dashboard");
            const sidecar = (chartDefaults("kube-prometheus-stack") as any).grafana.sidecar.dashboards;
            assert.equal(sidecar.enabled, true);
            assert.equal(sidecar.searchNamespace, "ALL");
            assert.equal(dashboard.inputs.metadata.labels[sidecar.label], String(sidecar.labelValue));
            const json = JSON.parse(dashboard.inputs.data["gpu-serverless.json"]);
            assert.equal(json.uid, "gpu-serverless");
            for (const child of [rule, dashboard]) {
                assert.ok(dependsOn(child, resourceNamed("test:index:Release", "kps")), "waits for kube-prometheus-stack");
                assert.equal(child.parent, resourceNamed("gpu-serverless:observability:Observability", "obs").urn);
            }
        });

        it("refuses a bad activator namespace before creating anything", () => {
            const monitoring = new TestRelease("kps2");
            assert.throws(
                () => new Observability("bad", { provider, monitoringNamespace: "monitoring", monitoring, activatorNamespace: "Not_A_Label", thresholds, models }),
                /Observability "bad".*activatorNamespace/,
            );
        });
    });
});
