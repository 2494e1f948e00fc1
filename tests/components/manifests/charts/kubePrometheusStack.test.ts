import * as assert from "node:assert/strict";
import fc from "fast-check";
import { chartDefaults, subchartNames, unknownValuePaths } from "../../../support/chartValues";
import {
    grafanaAdminKeys,
    kubePrometheusStackFullname,
    kubePrometheusStackValues,
    prometheusPort,
    prometheusUrl,
} from "../../../../components/manifests/charts/kubePrometheusStack";

const systemNodeSelector = { "gpu-serverless.io/node-group": "system" };
const values = kubePrometheusStackValues({
    systemNodeSelector,
    retention: "30d",
    storageSize: "100Gi",
    storageClassName: "gp3",
    grafanaAdminSecret: "grafana-admin",
});
const spec = values.prometheus.prometheusSpec;
const defaults = chartDefaults("kube-prometheus-stack") as any;

describe("values/kubePrometheusStack", () => {
    for (const kind of ["serviceMonitor", "podMonitor", "probe", "rule"] as const) {
        it(`selects every ${kind} in every namespace, whatever its release labels`, () => {
            // The chart default would narrow an empty selector to its own Helm release label.
            assert.equal(defaults.prometheus.prometheusSpec[`${kind}SelectorNilUsesHelmValues`], true);
            assert.equal(spec[`${kind}SelectorNilUsesHelmValues`], false);
            assert.deepEqual(spec[`${kind}Selector`], {});
            assert.deepEqual(spec[`${kind}NamespaceSelector`], {});
        });
    }

    it("deletes Prometheus' volume claim with its StatefulSet, so destroy leaves no EBS volume", () => {
        // The chart passes the StatefulSet policy through (upstream default: {} = Kubernetes' Retain).
        assert.deepEqual((chartDefaults("kube-prometheus-stack") as any).prometheus.prometheusSpec.persistentVolumeClaimRetentionPolicy, {});
        assert.deepEqual(spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: "Delete", whenScaled: "Retain" });
    });

    it("keeps samples for the given retention on a persistent volume of the given class and size", () => {
        assert.equal(spec.retention, "30d");
        assert.deepEqual(spec.storageSpec, {
            volumeClaimTemplate: {
                spec: { storageClassName: "gp3", accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "100Gi" } } },
            },
        });
    });

    it("runs operator, its webhook job, Prometheus, Alertmanager and Grafana on the system nodes", () => {
        assert.deepEqual(values.prometheusOperator.nodeSelector, systemNodeSelector);
        assert.deepEqual(values.prometheusOperator.admissionWebhooks.patch.nodeSelector, systemNodeSelector);
        assert.deepEqual(spec.nodeSelector, systemNodeSelector);
        assert.deepEqual(values.alertmanager.alertmanagerSpec.nodeSelector, systemNodeSelector);
        assert.deepEqual(values.grafana.nodeSelector, systemNodeSelector);
    });

    it("exposes nothing outside the cluster: ClusterIP Services and no Ingress", () => {
        assert.equal(values.prometheus.service.type, "ClusterIP");
        assert.equal(values.alertmanager.service.type, "ClusterIP");
        for (const part of [values.prometheus, values.alertmanager, values.grafana]) assert.equal(part.ingress.enabled, false);
    });

    it("takes Grafana's admin credentials from the existing Secret, under the keys the chart reads", () => {
        assert.deepEqual(values.grafana.admin, { existingSecret: "grafana-admin", userKey: "admin-user", passwordKey: "admin-password" });
        assert.deepEqual(grafanaAdminKeys, { user: defaults.grafana.admin.userKey, password: defaults.grafana.admin.passwordKey });
        assert.equal("adminPassword" in values.grafana, false);
    });

    it("turns off scrapes of the control plane EKS hides", () => {
        for (const part of ["kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy"] as const) {
            assert.equal(values[part].enabled, false, part);
        }
    });

    it("sets only keys the chart declares, apart from the grafana subchart's nodeSelector and kube-state-metrics' label allowlist", () => {
        // Helm hands `grafana.*` to the grafana subchart (grafana-community/grafana), whose own values.yaml declares
        // nodeSelector, and `kube-state-metrics.*` to the kube-state-metrics subchart, whose values.yaml declares
        // metricLabelsAllowlist; the parent's lists only the keys it overrides, and we hold no copy of the subcharts'.
        assert.deepEqual(unknownValuePaths("kube-prometheus-stack", values).sort(), ["grafana.nodeSelector", "kube-state-metrics.metricLabelsAllowlist"]);
        assert.ok(subchartNames("kube-prometheus-stack").includes("grafana"));
        assert.ok(subchartNames("kube-prometheus-stack").includes("kube-state-metrics"));
    });

    it("exports the node-group label of nodes on kube_node_labels, for the dashboard's GPU panels", () => {
        assert.deepEqual(values["kube-state-metrics"].metricLabelsAllowlist, ["nodes=[gpu-serverless.io/node-group]"]);
    });
});

describe("values/kubePrometheusStack: Prometheus URL", () => {
    const fullnames: Array<[string, string, string]> = [
        ["kube-prometheus-stack", "", "kube-prometheus-stack"],
        ["monitoring", "", "monitoring-kube-prometheus"],
        ["prom", "", "prom-kube-prometheus-stack"],
        ["my-release-with-long-name", "", "my-release-with-long-name"],
        ["my-kube-prometheus-stack-release-name", "", "my-kube-prometheus-stack-r"],
        ["anything", "prom", "prom"],
    ];
    for (const [release, override, expected] of fullnames) {
        it(`names release ${JSON.stringify(release)}${override ? ` (override ${override})` : ""} ${expected}, as the chart does`, () => {
            assert.equal(kubePrometheusStackFullname(release, override), expected);
        });
    }

    it("never exceeds 26 characters and is a prefix of release-chart", () => {
        fc.assert(
            fc.property(fc.stringMatching(/^[a-z]([-a-z0-9]{0,40}[a-z0-9])?$/), (release) => {
                const name = kubePrometheusStackFullname(release);
                assert.ok(name.length <= 26);
                assert.ok(`${release}-kube-prometheus-stack`.startsWith(name) || release.startsWith(name));
            }),
        );
    });

    it("points at the Prometheus Service on the chart's port", () => {
        assert.equal(prometheusPort, defaults.prometheus.service.port);
        assert.equal(
            prometheusUrl("kube-prometheus-stack", "monitoring"),
            "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090",
        );
    });
});
