import * as assert from "node:assert/strict";
import * as k8s from "@pulumi/kubernetes";
import { allResources, dependsOn, resetRecorded, resourceNamed, setupMocks, settled, unwrap } from "../../support/mocks";
import { GpuSupport } from "../../../components/resources/gpuSupport";
import { Monitoring } from "../../../components/resources/monitoring";

const Release = "kubernetes:helm.sh/v3:Release";
const gpuNodeSelector = { "gpu-serverless.io/accelerator": "nvidia-a100" };
const gpuTolerations = [{ key: "nvidia.com/gpu", operator: "Equal", value: "true", effect: "NoSchedule" }];
const systemNodeSelector = { "gpu-serverless.io/node-group": "system" };

// The node labels a release's pods require, from its values' node affinity.
function requiredLabels(values: any): Record<string, string[]> {
    const terms = values.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms;
    assert.equal(terms.length, 1);
    return Object.fromEntries(terms[0].matchExpressions.map((e: any) => [e.key, e.values]));
}

describe("GpuSupport (mocks)", () => {
    let provider: k8s.Provider;
    before(() => {
        setupMocks();
        provider = new k8s.Provider("gpu-test-k8s", { kubeconfig: "{}" });
    });
    beforeEach(() => resetRecorded());

    function build(name: string, extra: object = {}) {
        const monitoring = new Monitoring(`${name}-mon`, { provider, systemNodeSelector });
        const gpu = new GpuSupport(name, { provider, monitoring, gpuNodeSelector, gpuTolerations, ...extra });
        return { monitoring, gpu };
    }

    it("installs the pinned device plugin and DCGM exporter charts in the nvidia namespace", async () => {
        const { gpu } = build("gpu-a");
        await settled();
        const plugin = resourceNamed(Release, "gpu-a-device-plugin");
        const dcgm = resourceNamed(Release, "gpu-a-dcgm-exporter");
        assert.deepEqual(
            [plugin, dcgm].map((r) => [r.inputs.name, r.inputs.chart, r.inputs.version, r.inputs.repositoryOpts.repo, r.inputs.namespace]),
            [
                ["nvidia-device-plugin", "nvidia-device-plugin", "0.20.0", "https://nvidia.github.io/k8s-device-plugin", "nvidia"],
                ["dcgm-exporter", "dcgm-exporter", "4.8.2", "https://nvidia.github.io/dcgm-exporter/helm-charts", "nvidia"],
            ],
        );
        assert.equal(await unwrap(gpu.namespace), "nvidia");
        const namespace = resourceNamed("kubernetes:core/v1:Namespace", "gpu-a-namespace");
        assert.ok(dependsOn(plugin, namespace) && dependsOn(dcgm, namespace));
    });

    it("puts both DaemonSets on the GPU nodes only, through the GPU taint", async () => {
        build("gpu-b");
        await settled();
        for (const role of ["device-plugin", "dcgm-exporter"]) {
            const values = resourceNamed(Release, `gpu-b-${role}`).inputs.values;
            assert.deepEqual(requiredLabels(values), { "gpu-serverless.io/accelerator": ["nvidia-a100"] }, role);
            assert.deepEqual(values.tolerations, gpuTolerations, role);
        }
    });

    it("turns the DCGM ServiceMonitor on and installs it only after the monitoring CRDs", async () => {
        build("gpu-c");
        await settled();
        const dcgm = resourceNamed(Release, "gpu-c-dcgm-exporter");
        const monitoringRelease = resourceNamed(Release, "gpu-c-mon-kube-prometheus-stack");
        assert.equal(dcgm.inputs.values.serviceMonitor.enabled, true);
        assert.ok(dependsOn(dcgm, monitoringRelease));
        assert.equal(dependsOn(resourceNamed(Release, "gpu-c-device-plugin"), monitoringRelease), false);
    });

    it("takes a namespace and chart version overrides", async () => {
        build("gpu-d", { namespace: "gpu-operator", chartVersions: { "dcgm-exporter": "4.9.0" } });
        await settled();
        const dcgm = resourceNamed(Release, "gpu-d-dcgm-exporter");
        assert.equal(dcgm.inputs.version, "4.9.0");
        assert.equal(dcgm.inputs.namespace, "gpu-operator");
        assert.equal(resourceNamed(Release, "gpu-d-device-plugin").inputs.version, "0.20.0");
    });

    const invalid: Array<[string, object, RegExp]> = [
        ["no GPU node label", { gpuNodeSelector: {} }, /^GpuSupport "bad" args\.gpuNodeSelector: must name at least one node label/],
        ["no toleration", { gpuTolerations: [] }, /^GpuSupport "bad" args\.gpuTolerations: must tolerate the GPU node taint/],
        [
            "a toleration without value",
            { gpuTolerations: [{ key: "nvidia.com/gpu", operator: "Equal" }] },
            /^GpuSupport "bad" args\.gpuTolerations\[0\]: operator Equal/,
        ],
        ["no monitoring", { monitoring: undefined }, /^GpuSupport "bad" args\.monitoring: required/],
    ];
    invalid.forEach(([what, override, message], i) => {
        it(`refuses ${what} before creating anything`, async () => {
            const monitoring = new Monitoring(`monitoring-for-bad-${i}`, { provider, systemNodeSelector });
            assert.throws(() => new GpuSupport("bad", { provider, monitoring, gpuNodeSelector, gpuTolerations, ...override }), { message });
            await settled();
            assert.deepEqual(allResources().filter((r) => r.name === "bad" || r.name.startsWith("bad-")), []);
        });
    });
});
