import * as assert from "node:assert/strict";
import { chartDefaults, chartSchemaErrors, unknownValuePaths } from "../../../support/chartValues";
import { documentedDeploymentModes } from "../../../support/upstreamFacts";
import { certManagerValues } from "../../../../components/manifests/charts/certManager";
import { kedaValues } from "../../../../components/manifests/charts/keda";
import { kserveDeploymentMode, kserveRuntimeValues, kserveValues } from "../../../../components/manifests/charts/kserve";

const systemNodeSelector = { "gpu-serverless.io/node-group": "system" };

describe("values/keda", () => {
    const values = kedaValues(systemNodeSelector);

    it("runs every KEDA component on the system nodes", () => {
        assert.deepEqual(values.nodeSelector, systemNodeSelector);
    });

    it("exposes operator and metrics server metrics with ServiceMonitors", () => {
        for (const part of [values.prometheus.operator, values.prometheus.metricServer]) {
            assert.deepEqual(part, { enabled: true, serviceMonitor: { enabled: true } });
        }
    });

    it("sets only keys the chart declares", () => {
        assert.deepEqual(unknownValuePaths("keda", values), []);
    });
});

describe("values/certManager", () => {
    const values = certManagerValues(systemNodeSelector);

    it("installs and keeps its CRDs", () => {
        assert.equal((chartDefaults("cert-manager").crds as any).enabled, false);
        assert.deepEqual(values.crds, { enabled: true, keep: true });
    });

    it("runs every component on the system nodes", () => {
        assert.deepEqual(values.global.nodeSelector, systemNodeSelector);
    });

    it("sets only keys the chart declares, and passes its values schema", () => {
        assert.deepEqual(unknownValuePaths("cert-manager", values), []);
        assert.deepEqual(chartSchemaErrors("cert-manager", values), []);
    });
});

describe("values/kserve", () => {
    const values = kserveValues(systemNodeSelector);

    it("defaults InferenceServices to Standard (raw Deployment) mode, not the chart's Knative", () => {
        assert.equal((chartDefaults("kserve-resources") as any).kserve.controller.deploymentMode, "Knative");
        assert.equal(values.kserve.controller.deploymentMode, "Standard");
    });

    it("uses the mode name KServe v0.20 documents in its inferenceservice-config", () => {
        assert.deepEqual(documentedDeploymentModes(), ["Standard", "Knative"]);
        assert.equal(kserveDeploymentMode, "Standard");
    });

    it("creates no Ingress per InferenceService and runs the controller on the system nodes", () => {
        assert.equal(values.kserve.controller.gateway.disableIngressCreation, true);
        assert.deepEqual(values.kserve.controller.nodeSelector, systemNodeSelector);
    });

    it("sets only keys the chart declares", () => {
        assert.deepEqual(unknownValuePaths("kserve-resources", values), []);
    });
});

describe("values/kserve runtimes (kserve-runtime-configs)", () => {
    const values = kserveRuntimeValues();

    it("turns on the ClusterServingRuntimes the chart leaves off by default", () => {
        // Upstream default: no runtime at all, so every InferenceService would stay without a predictor.
        assert.equal((chartDefaults("kserve-runtime-configs") as any).kserve.servingruntime.enabled, false);
        assert.equal(values.kserve.servingruntime.enabled, true);
    });

    it("sets only keys the chart declares", () => {
        assert.deepEqual(unknownValuePaths("kserve-runtime-configs", values), []);
    });
});
