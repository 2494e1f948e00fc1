import * as assert from "node:assert/strict";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { allResources, dependsOn, resetRecorded, resourceNamed, setupMocks, settled, unwrap } from "../../support/mocks";
import { Monitoring } from "../../../components/resources/monitoring";

const Release = "kubernetes:helm.sh/v3:Release";
const systemNodeSelector = { "gpu-serverless.io/node-group": "system" };

describe("Monitoring (mocks)", () => {
    let provider: k8s.Provider;
    before(() => {
        setupMocks();
        provider = new k8s.Provider("monitoring-test-k8s", { kubeconfig: "{}" });
    });
    beforeEach(() => resetRecorded());

    it("installs kube-prometheus-stack, pinned, in its own monitoring namespace", async () => {
        new Monitoring("mon-a", { provider, systemNodeSelector });
        await settled();
        const release = resourceNamed(Release, "mon-a-kube-prometheus-stack");
        assert.equal(release.inputs.name, "kube-prometheus-stack");
        assert.equal(release.inputs.chart, "kube-prometheus-stack");
        assert.equal(release.inputs.version, "88.5.3");
        assert.deepEqual(release.inputs.repositoryOpts, { repo: "https://prometheus-community.github.io/helm-charts" });
        assert.equal(release.inputs.namespace, "monitoring");
        const namespace = resourceNamed("kubernetes:core/v1:Namespace", "mon-a-namespace");
        assert.equal(namespace.inputs.metadata.name, "monitoring");
        assert.ok(dependsOn(release, namespace));
        assert.equal(release.parent, resourceNamed("gpu-serverless:monitoring:Monitoring", "mon-a").urn);
    });

    it("passes retention, storage and open selectors to Prometheus", async () => {
        const chartVersions = { "kube-prometheus-stack": "88.6.0" };
        new Monitoring("mon-b", { provider, systemNodeSelector, retention: "30d", storageSize: "200Gi", chartVersions });
        await settled();
        const release = resourceNamed(Release, "mon-b-kube-prometheus-stack");
        const spec = release.inputs.values.prometheus.prometheusSpec;
        assert.equal(release.inputs.version, "88.6.0");
        assert.equal(spec.retention, "30d");
        assert.equal(spec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage, "200Gi");
        assert.equal(spec.storageSpec.volumeClaimTemplate.spec.storageClassName, "gp3");
        assert.equal(spec.serviceMonitorSelectorNilUsesHelmValues, false);
        assert.equal(spec.podMonitorSelectorNilUsesHelmValues, false);
        assert.deepEqual(spec.nodeSelector, systemNodeSelector);
    });

    it("creates the gp3 StorageClass before the release, unless told the cluster has it", async () => {
        new Monitoring("mon-c", { provider, systemNodeSelector });
        new Monitoring("mon-d", {
            provider,
            systemNodeSelector,
            createStorageClass: false,
            storageClassName: "fast",
            namespace: "observability",
        });
        await settled();
        const storageClass = resourceNamed("kubernetes:storage.k8s.io/v1:StorageClass", "mon-c-storage-class");
        assert.equal(storageClass.inputs.metadata.name, "gp3");
        assert.equal(storageClass.inputs.provisioner, "ebs.csi.aws.com");
        assert.deepEqual(storageClass.inputs.parameters, { type: "gp3", encrypted: "true" });
        assert.equal(storageClass.inputs.volumeBindingMode, "WaitForFirstConsumer");
        assert.ok(dependsOn(resourceNamed(Release, "mon-c-kube-prometheus-stack"), storageClass));
        assert.equal(allResources().filter((r) => r.name === "mon-d-storage-class").length, 0);
        const other = resourceNamed(Release, "mon-d-kube-prometheus-stack");
        assert.equal(other.inputs.values.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.storageClassName, "fast");
        assert.equal(other.inputs.namespace, "observability");
    });

    it("keeps the Grafana admin password secret, out of the Helm values, in a Secret the release waits for", async () => {
        const monitoring = new Monitoring("mon-e", { provider, systemNodeSelector });
        await settled();
        assert.equal(await pulumi.isSecret(monitoring.grafanaAdminPassword), true);
        const password = await unwrap(monitoring.grafanaAdminPassword);
        assert.equal(password, "mock-password-0123456789");
        const secret = resourceNamed("kubernetes:core/v1:Secret", "mon-e-grafana-admin");
        // The recorder keeps the wire form: a secret arrives wrapped in Pulumi's secret envelope.
        assert.deepEqual(secret.inputs.stringData, {
            [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig,
            value: { "admin-user": "admin", "admin-password": password },
        });
        assert.equal(secret.inputs.metadata.namespace, "monitoring");
        const release = resourceNamed(Release, "mon-e-kube-prometheus-stack");
        assert.equal(release.inputs.values.grafana.admin.existingSecret, secret.inputs.metadata.name);
        assert.ok(!JSON.stringify(release.inputs.values).includes(password));
        assert.ok(dependsOn(release, secret));
        const generator = resourceNamed("random:index/randomPassword:RandomPassword", "mon-e-grafana-admin-password");
        assert.equal(generator.inputs.length, 32);
    });

    it("outputs the in-cluster Prometheus URL derived from the release name and namespace", async () => {
        const monitoring = new Monitoring("mon-f", { provider, systemNodeSelector, namespace: "observability" });
        assert.equal(
            await unwrap(monitoring.prometheusUrl),
            "http://kube-prometheus-stack-prometheus.observability.svc.cluster.local:9090",
        );
        assert.equal(await unwrap(monitoring.namespace), "observability");
    });

    const invalid: Array<[string, object, RegExp]> = [
        ["retention", { retention: "two weeks" }, /^Monitoring "bad" args\.retention: "two weeks" is not a Prometheus duration/],
        ["storage size", { storageSize: "50GB" }, /^Monitoring "bad" args\.storageSize: "50GB" is not a storage size/],
        ["namespace", { namespace: "Monitoring" }, /^Monitoring "bad" args\.namespace: "Monitoring" is not a valid name/],
        ["system node selector", { systemNodeSelector: undefined }, /^Monitoring "bad" args\.systemNodeSelector: required/],
        ["chart version", { chartVersions: { "kube-prometheus-stack": "latest" } }, /^chartVersions\.kube-prometheus-stack: "latest"/],
    ];
    for (const [what, override, message] of invalid) {
        it(`refuses a bad ${what} before creating anything`, async () => {
            assert.throws(() => new Monitoring("bad", { provider, systemNodeSelector, ...override }), { message });
            await settled();
            assert.deepEqual(allResources().filter((r) => r.name.startsWith("bad")), []);
        });
    }
});
