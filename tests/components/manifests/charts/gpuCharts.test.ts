import * as assert from "node:assert/strict";
import { chartDefaults, unknownValuePaths } from "../../../support/chartValues";
import { dcgmExporterValues } from "../../../../components/manifests/charts/dcgmExporter";
import { devicePluginValues } from "../../../../components/manifests/charts/nvidiaDevicePlugin";
import { requiredNodeAffinity } from "../../../../components/manifests/charts/scheduling";

const placement = {
    gpuNodeSelector: { "gpu-serverless.io/accelerator": "nvidia-a100" },
    gpuTolerations: [{ key: "nvidia.com/gpu", operator: "Equal", value: "true", effect: "NoSchedule" }],
};

// Keys of every node label a required node affinity asks for.
function requiredLabelKeys(affinity: any): string[] {
    return affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.flatMap((t: any) =>
        t.matchExpressions.map((e: any) => e.key),
    );
}

describe("values/nvidiaDevicePlugin", () => {
    const values = devicePluginValues(placement);

    it("replaces the chart's node-feature-discovery affinity with our GPU node label", () => {
        // The default would keep the plugin off our nodes unless NFD (which we do not run) labelled them.
        const defaultKeys = requiredLabelKeys(chartDefaults("nvidia-device-plugin").affinity);
        assert.ok(defaultKeys.includes("feature.node.kubernetes.io/pci-10de.present"));
        assert.deepEqual(values.affinity, requiredNodeAffinity(placement.gpuNodeSelector));
        assert.deepEqual(requiredLabelKeys(values.affinity), ["gpu-serverless.io/accelerator"]);
    });

    it("tolerates the GPU taint", () => {
        assert.deepEqual(values.tolerations, placement.gpuTolerations);
    });

    it("sets only keys the chart declares", () => {
        assert.deepEqual(unknownValuePaths("nvidia-device-plugin", values), []);
    });
});

describe("values/dcgmExporter", () => {
    const values = dcgmExporterValues(placement);

    it("runs on the GPU nodes, through their taint (the chart tolerates only control-plane taints)", () => {
        assert.deepEqual(values.affinity, requiredNodeAffinity(placement.gpuNodeSelector));
        assert.deepEqual(values.tolerations, placement.gpuTolerations);
        assert.deepEqual(
            (chartDefaults("dcgm-exporter").tolerations as any[]).map((t) => t.key),
            ["node-role.kubernetes.io/control-plane"],
        );
    });

    it("turns its ServiceMonitor on", () => {
        assert.equal(values.serviceMonitor.enabled, true);
    });

    it("sets only keys the chart declares", () => {
        assert.deepEqual(unknownValuePaths("dcgm-exporter", values), []);
    });
});
