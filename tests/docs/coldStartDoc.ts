/**
 * The tables of docs/cold-start.md as they must read, computed from the data every other figure of the project
 * reads: the cold-start budget (components/domain/coldStartBudget.ts) and the price table (components/domain/prices.ts).
 * `npx ts-node tests/docs/coldStartDoc.ts` prints them (to paste into the doc when the data changes).
 */
import { coldStartBudget, pathTotal, phaseNames, type PhaseDistribution } from "../../components/domain/coldStartBudget";
import { a100InstanceTypes, type A100InstanceType } from "../../components/domain/nodeGroups";
import { instancePrice } from "../../components/domain/prices";
import { warmHoursPerWeek } from "../../components/domain/warmSchedule";
import { warmCapacityHourlyCost } from "../../components/manifests/warm/warmCapacity";

const seconds = (s: number): string => (s === 0 ? "0" : s < 1 ? s.toFixed(2) : s < 120 ? `${Math.round(s)}` : `${(s / 60).toFixed(1)} min`);
const range = (min: number, max: number): string => {
    const unit = (s: number) => (s === 0 ? "0" : s < 120 ? `${seconds(s)} s` : seconds(s));
    return min === max ? unit(min) : `${unit(min)} – ${unit(max)}`;
};
const cell = (p: PhaseDistribution): string => `${range(p.min, p.max)}${p.estimate ? " (*estimate*)" : p.measured ? " (*measured*, e2e)" : ""}`;

/** The budget table: one row per phase, min – max per path, then the totals. */
export function budgetTable(): string {
    const paths = [coldStartBudget.today, coldStartBudget.fast, coldStartBudget.warmNode];
    const rows = ["| phase | today's path | fast path | warm node |", "| --- | --- | --- | --- |"];
    for (const phase of phaseNames) rows.push(`| ${phase} | ${paths.map((p) => cell(p[phase])).join(" | ")} |`);
    rows.push(`| **total** | ${paths.map((p) => { const t = pathTotal(p); return `**${range(t.min, t.max)}**`; }).join(" | ")} |`);
    return rows.join("\n");
}

const usd = (x: number): string => `$${x.toFixed(2)}`;

/** The warm-capacity cost examples, priced from prices.ts (p4d.24xlarge, us-east-1). */
export function warmCostTable(region = "us-east-1", instanceType: A100InstanceType = "p4d.24xlarge"): string {
    const price = instancePrice(region, instanceType);
    const node = price.usd;
    const office = { start: "0 8 * * 1-5", end: "0 18 * * 1-5" };
    const night = { start: "0 22 * * *", end: "0 6 * * *" };
    const gpuShare = 1 / a100InstanceTypes[instanceType].gpus;
    const rows = [
        `| choice | example | hours a week | average cost per hour (${instanceType}, ${region}, ${usd(node)}/h as of ${price.asOf}) |`,
        "| --- | --- | --- | --- |",
        `| none (default) | – | 0 | ${usd(0)} |`,
        `| per model, pre-warm window | 1 replica of 1 GPU, \`${office.start}\` → \`${office.end}\` | ${warmHoursPerWeek(office)} | ${usd(warmCapacityHourlyCost({ units: gpuShare, schedule: office }, node))} (its GPU's share of a node; the node itself costs ${usd(warmCapacityHourlyCost({ units: 1, schedule: office }, node))} if nothing else runs on it) |`,
        `| per GPU pool, warm nodes always | 1 node | 168 | ${usd(warmCapacityHourlyCost({ units: 1 }, node))} |`,
        `| per GPU pool, warm nodes on a schedule | 1 node, \`${office.start}\` → \`${office.end}\` | ${warmHoursPerWeek(office)} | ${usd(warmCapacityHourlyCost({ units: 1, schedule: office }, node))} |`,
        `| per GPU pool, warm nodes on a schedule | 1 node, \`${night.start}\` → \`${night.end}\` | ${warmHoursPerWeek(night)} | ${usd(warmCapacityHourlyCost({ units: 1, schedule: night }, node))} |`,
    ];
    return rows.join("\n");
}

if (require.main === module) console.log(`${budgetTable()}\n\n${warmCostTable()}`);
