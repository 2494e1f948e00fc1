/**
 * The price table and the cold-start budget as a reader checks them: every instance type a stack file names has a
 * dated, sourced price in that stack's region; every phase of every path is ordered min ≤ typical ≤ max and has a
 * source; the trace reader names the line of a bad row; thinning keeps about 1 in N.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { coldStartBudget, pathTotal, phaseNames } from "../../components/domain/coldStartBudget";
import { instancePrice, prices } from "../../components/domain/prices";
import { rng } from "../../simulator/rng";
import { parseTrace, thin } from "../../simulator/trace";

const root = path.resolve(__dirname, "../..");

describe("price table", () => {
    const defaults = YAML.parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")).config;
    for (const file of fs.readdirSync(root).filter((f) => /^Pulumi\.[a-z]+\.yaml$/.test(f))) {
        it(`${file}: every instance type it runs has a dated, sourced price in its region`, () => {
            const c = YAML.parse(fs.readFileSync(path.join(root, file), "utf8")).config;
            const region = c["gpu-serverless:region"] ?? defaults.region.default;
            const types = [(c["gpu-serverless:systemNodeGroup"] ?? defaults.systemNodeGroup.default).instanceType, ...(c["gpu-serverless:gpuNodeGroups"] ?? defaults.gpuNodeGroups.default).map((g: { instanceType: string }) => g.instanceType)];
            for (const t of types) {
                const p = instancePrice(region, t);
                assert.ok(p.usd > 0 && /^https:\/\//.test(p.source) && /^\d{4}-\d{2}-\d{2}$/.test(p.asOf), `${t} in ${region}`);
            }
            const r = prices[region];
            for (const p of [r.eksCluster, r.natGatewayHour, r.natGatewayPerGB, r.nlbHour]) assert.ok(p.usd > 0 && /^https:\/\//.test(p.source));
        });
    }
    it("an instance type missing from the table is an error naming it", () => {
        assert.throws(() => instancePrice("us-west-2", "p5.48xlarge"), /no price for p5\.48xlarge in us-west-2/);
    });
});

describe("cold-start budget", () => {
    for (const [name, p] of Object.entries(coldStartBudget)) {
        it(`${name}: every phase ordered and sourced`, () => {
            for (const phase of phaseNames) {
                const d = p[phase];
                assert.ok(d.min <= d.typical && d.typical <= d.max, `${name}.${phase}`);
                assert.ok(d.source.length > 0, `${name}.${phase} has a source`);
            }
        });
    }
    it("today's path from zero nodes is minutes; the warm node is within the 30 s goal only as an estimate", () => {
        assert.ok(pathTotal(coldStartBudget.today).typical > 600);
        assert.ok(pathTotal(coldStartBudget.warmNode).typical <= 30);
        assert.ok(coldStartBudget.warmNode.engineStart.estimate);
    });
});

describe("trace reader", () => {
    it("reads the sample's rows as seconds from the first", () => {
        const t = parseTrace(fs.readFileSync(path.join(root, "simulator/fixtures/code-sample.csv"), "utf8"), "sample");
        assert.equal(t.arrivals.length, 600);
        assert.equal(t.arrivals[0], 0);
        assert.ok(Math.abs(t.arrivals[1] - 0.052) < 1e-6);
        assert.deepEqual([t.contextTokens[0], t.generatedTokens[0]], [4808, 10]);
    });
    for (const [row, message] of [
        ["2023-11-16 18:17:05,1", /x line 3: expected 3 fields/],
        ["yesterday,1,2", /x line 3: timestamp "yesterday" is not/],
        ["2023-11-16 18:17:05,1,-2", /x line 3: GeneratedTokens "-2" is not a non-negative integer/],
        ["2023-11-16 18:17:01,1,2", /x line 3: earlier than the row before it/],
    ] as const) {
        it(`names the line of a bad row: ${row}`, () => {
            assert.throws(() => parseTrace(`TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03,5,5\n${row}\n`, "x"), message);
        });
    }
    it("thinning keeps about 1 in N", () => {
        const n = 100_000;
        const t = { arrivals: Float64Array.from({ length: n }, (_, i) => i), contextTokens: new Int32Array(n), generatedTokens: new Int32Array(n) };
        const kept = thin(t, 50, rng(1)).arrivals.length;
        assert.ok(Math.abs(kept - n / 50) < 200, `${kept}`);
    });
});
