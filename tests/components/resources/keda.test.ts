import * as assert from "node:assert/strict";
import * as k8s from "@pulumi/kubernetes";
import { allResources, dependsOn, resetRecorded, resourceNamed, setupMocks, settled, unwrap } from "../../support/mocks";
import { Keda } from "../../../components/resources/keda";
import { Monitoring } from "../../../components/resources/monitoring";

const Release = "kubernetes:helm.sh/v3:Release";
const systemNodeSelector = { "gpu-serverless.io/node-group": "system" };

describe("Keda (mocks)", () => {
    let provider: k8s.Provider;
    before(() => {
        setupMocks();
        provider = new k8s.Provider("keda-test-k8s", { kubeconfig: "{}" });
    });
    beforeEach(() => resetRecorded());

    it("installs the pinned KEDA chart in the keda namespace, on the system nodes", async () => {
        const monitoring = new Monitoring("keda-a-mon", { provider, systemNodeSelector });
        const keda = new Keda("keda-a", { provider, monitoring, systemNodeSelector });
        await settled();
        const release = resourceNamed(Release, "keda-a-release");
        assert.equal(release.inputs.name, "keda");
        assert.equal(release.inputs.chart, "keda");
        assert.equal(release.inputs.version, "2.20.2");
        assert.deepEqual(release.inputs.repositoryOpts, { repo: "https://kedacore.github.io/charts" });
        assert.equal(release.inputs.namespace, "keda");
        assert.equal(await unwrap(keda.namespace), "keda");
        assert.deepEqual(release.inputs.values.nodeSelector, systemNodeSelector);
        assert.equal(release.urn, await unwrap(keda.release.urn));
    });

    it("turns metrics and ServiceMonitors on for operator and metrics server, after the monitoring CRDs", async () => {
        const monitoring = new Monitoring("keda-b-mon", { provider, systemNodeSelector });
        new Keda("keda-b", { provider, monitoring, systemNodeSelector });
        await settled();
        const release = resourceNamed(Release, "keda-b-release");
        for (const part of ["operator", "metricServer"]) {
            assert.equal(release.inputs.values.prometheus[part].enabled, true, part);
            assert.equal(release.inputs.values.prometheus[part].serviceMonitor.enabled, true, part);
        }
        assert.ok(dependsOn(release, resourceNamed(Release, "keda-b-mon-kube-prometheus-stack")));
    });

    it("refuses a bad namespace or a missing monitoring before creating anything", async () => {
        const monitoring = new Monitoring("keda-bad-mon", { provider, systemNodeSelector });
        assert.throws(() => new Keda("keda-bad", { provider, monitoring, systemNodeSelector, namespace: "KEDA" }), {
            message: /^Keda "keda-bad" args\.namespace: "KEDA" is not a valid name/,
        });
        assert.throws(() => new Keda("keda-bad", { provider, monitoring: undefined as never, systemNodeSelector }), {
            message: /^Keda "keda-bad" args\.monitoring: required/,
        });
        await settled();
        assert.deepEqual(allResources().filter((r) => r.name === "keda-bad" || r.name === "keda-bad-release"), []);
    });
});
