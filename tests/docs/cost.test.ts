/**
 * docs/cost.md and the README's cost line against the one price table (components/domain/prices.ts) and the dev
 * stack's config as the program parses it (Pulumi.yaml defaults + Pulumi.dev.yaml + the operator's API CIDR): every
 * figure is recomputed here, so a price or a dev stack change that the page does not follow fails.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseStackConfig } from "../../components/config/stack";
import { instancePrice, prices, type Price } from "../../components/domain/prices";
import { repoRoot, stackConfig } from "../components/config/stackFiles";

const page = fs.readFileSync(path.join(repoRoot, "docs/cost.md"), "utf8");
const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8");

const dev = parseStackConfig(stackConfig("dev"));
const region = prices[dev.region];
const vpc = dev.vpc as { kind: string; natGateways?: string; availabilityZoneCount?: number };
const natGateways = vpc.kind !== "create" ? 0 : vpc.natGateways === "single" ? 1 : (vpc.availabilityZoneCount ?? 3);
const systemType = dev.systemNodeGroup.instanceType;
const systemCount = dev.systemNodeGroup.minSize;
const gpuType = dev.gpuNodeGroups[0].instanceType;

const read = (p: Price): string => `${p.asOf}${p.estimate ? ", estimate" : ""}`;
const h = (usd: number): string => usd.toFixed(4);
const usd2 = (usd: number): string => usd.toFixed(2);

const idle = region.eksCluster.usd + natGateways * region.natGatewayHour.usd + systemCount * instancePrice(dev.region, systemType).usd + region.nlbHour.usd;
const gpu = instancePrice(dev.region, gpuType);
const withGpu = idle + gpu.usd;

describe("docs/cost.md: what the dev stack costs, from components/domain/prices.ts", () => {
    it("reads the dev stack the page describes (a GPU group that scales to zero, system nodes at their minimum)", () => {
        assert.equal(dev.gpuNodeGroups.length, 1);
        assert.equal(dev.gpuNodeGroups[0].minSize, 0, "the idle figures assume the GPU group scales to zero");
        assert.ok(page.includes(`\`${dev.region}\``) && page.includes(`\`${gpuType}\``) && page.includes(`\`${systemType}\``), "region and instance types named");
    });

    it("per hour: each line and both totals", () => {
        const rows = [
            `| EKS control plane (standard support) | 1 | ${h(region.eksCluster.usd)} | ${h(region.eksCluster.usd)} | ${read(region.eksCluster)} |`,
            `| NAT gateway (\`vpc.natGateways: ${vpc.natGateways}\`) | ${natGateways} | ${h(region.natGatewayHour.usd)} | ${h(natGateways * region.natGatewayHour.usd)} | ${read(region.natGatewayHour)} |`,
            `| system nodes, \`${systemType}\` (\`systemNodeGroup.minSize\`) | ${systemCount} | ${h(instancePrice(dev.region, systemType).usd)} | ${h(systemCount * instancePrice(dev.region, systemType).usd)} | ${read(instancePrice(dev.region, systemType))} |`,
            // The activator's proxy Service is the stack's one load balancer.
            `| Network Load Balancer (the activator's \`activator-proxy\`) | 1 | ${h(region.nlbHour.usd)} | ${h(region.nlbHour.usd)} | ${read(region.nlbHour)} |`,
            `| **idle: every model at zero, no GPU node** | | | **${h(idle)}** | |`,
            `| GPU node, \`${gpuType}\` (8 x A100 40 GB) | 1 | ${h(gpu.usd)} | ${h(gpu.usd)} | ${read(gpu)} |`,
            `| **with one GPU node up** | | | **${h(withGpu)}** | |`,
        ];
        for (const row of rows) assert.ok(page.includes(row), `docs/cost.md has the row\n${row}`);
    });

    it("over 30 days: idle, 8 hours a day, always on, and the saving", () => {
        const month = 720;
        const rows = [
            `| never (every model idle all month) | 0 | ${usd2(idle * month)} |`,
            `| 8 hours a day (scale-to-zero, the node removed the rest of the time) | 240 | ${usd2(idle * month + gpu.usd * 240)} |`,
            `| always (\`gpuNodeGroups[].minSize: 1\`, or a model with \`minReplicas: 1\`) | ${month} | ${usd2(withGpu * month)} |`,
        ];
        for (const row of rows) assert.ok(page.includes(row), `docs/cost.md has the row\n${row}`);
        assert.ok(page.includes(`saves $${usd2(gpu.usd)} for every hour the GPU node is away: $${usd2(gpu.usd * (month - 240))} a month`), "the saving");
        assert.ok(page.includes(`(${region.natGatewayPerGB.usd} $/GB`), "NAT data processing price");
    });

    it("the README's cost line gives the same figures and links the page", () => {
        const line = readme.split("\n").find((l) => l.includes("docs/cost.md") && l.includes("an hour idle"));
        assert.ok(line, "README has the cost line");
        assert.ok(line.includes(`$${usd2(idle)} an hour idle`), `idle ${usd2(idle)}`);
        assert.ok(line.includes(`$${usd2(withGpu)} with its one GPU node up`), `with GPU ${usd2(withGpu)}`);
        assert.ok(line.includes(`saves $${usd2(gpu.usd)} for every hour`), `saving ${usd2(gpu.usd)}`);
    });
});
