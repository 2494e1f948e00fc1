import * as assert from "node:assert/strict";
import { parseStackConfig } from "../../../components/config/stack";
import { reachableApi } from "../config/stackFiles";
import { allGpuNodesSelector, gpuLaunchTemplateData, gpuNodeLabels, gpuSchedulingFor, systemLaunchTemplateData } from "../../../components/domain/nodeGroups";

const group = (fields: object) => parseStackConfig({ ...reachableApi, "gpu-serverless:gpuNodeGroups": JSON.stringify([{ name: "a100", instanceType: "p4d.24xlarge", ...fields }]) }).gpuNodeGroups[0];

describe("node group data", () => {
    const cases: Array<[string, object, object | undefined, object | undefined]> = [
        ["on-demand", {}, undefined, undefined],
        ["spot", { capacityType: "SPOT" }, undefined, undefined],
        ["on-demand in a targeted reservation", { capacityReservationId: "cr-0123456789abcdef0", availabilityZone: "us-west-2b" }, undefined,
            { capacityReservationTarget: { capacityReservationId: "cr-0123456789abcdef0" } }],
        ["a capacity block", { capacityType: "CAPACITY_BLOCK", capacityReservationId: "cr-0123456789abcdef0", availabilityZone: "us-west-2a" },
            { marketType: "capacity-block" }, { capacityReservationTarget: { capacityReservationId: "cr-0123456789abcdef0" } }],
    ];
    for (const [what, fields, market, reservation] of cases) {
        it(`launch template for ${what}`, () => {
            const data = gpuLaunchTemplateData(group(fields)) as Record<string, unknown>;
            assert.deepEqual(data.instanceMarketOptions, market);
            assert.deepEqual(data.capacityReservationSpecification, reservation);
            assert.equal(data.instanceType, "p4d.24xlarge");
        });
    }

    it("gives GPU volumes more throughput than the gp3 baseline, system volumes the baseline", () => {
        const gpuEbs = gpuLaunchTemplateData(group({})).blockDeviceMappings[0].ebs;
        const systemEbs = systemLaunchTemplateData({ instanceType: "m6i.large", rootVolumeSizeGiB: 50 }).blockDeviceMappings[0].ebs;
        assert.ok(gpuEbs.throughput! > 125 && gpuEbs.iops! > 3000);
        assert.equal((systemEbs as { throughput?: number }).throughput, undefined);
        assert.equal(systemEbs.volumeSize, 50);
    });

    it("labels GPU nodes with their group and accelerator, which user labels cannot override", () => {
        const labels = gpuNodeLabels({ name: "a100", labels: { team: "ml", "gpu-serverless.io/node-group": "other" } });
        assert.equal(labels["gpu-serverless.io/node-group"], "a100");
        assert.equal(labels.team, "ml");
        for (const [key, value] of Object.entries(allGpuNodesSelector)) assert.equal(labels[key], value);
    });

    it("schedules onto one group by its label, tolerating the GPU taint", () => {
        assert.deepEqual(gpuSchedulingFor("big"), {
            nodeSelector: { "gpu-serverless.io/node-group": "big" },
            tolerations: [{ key: "nvidia.com/gpu", operator: "Equal", value: "true", effect: "NoSchedule" }],
        });
    });
});
