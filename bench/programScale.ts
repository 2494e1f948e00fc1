/**
 * Program scale: the Pulumi program (index.ts, dev stack config) evaluated under the test suite's mocks with 2, 10,
 * 50 and 100 generated models (half vLLM on an A100, half CPU sklearn; even counts, as a GPU model has one resource
 * more than a CPU one, its first-replica admission binding), each in a fresh process. Wall time of the
 * process (what `pulumi preview` pays before talking to any cloud, ts-node included), its split into loading the
 * SDKs and evaluating the program, and the resources registered. Growth must be linear: a constant number of
 * resources per model, and an evaluation cost per added model that does not grow with the number of models.
 * A full run also evaluates 1000 models once (a large catalog): within 60 s, and on the resources line of the others.
 */
import * as path from "node:path";
import { spawnChild } from "./lib/processes";
import { fixed, type Bench, type BenchContext, type BenchResult } from "./lib/report";

const CHILD = path.join(__dirname, "lib", "programChild.ts");
/** A large catalog, evaluated once in a full run (not in the fits): its wall time is bounded by CATALOG_WALL_S. */
const CATALOG_MODELS = 1000;
const CATALOG_WALL_S = 60;

interface Evaluation {
  models: number;
  loadMs: number;
  evalMs: number;
  resources: number;
  byType: Record<string, number>;
  wallMs: number;
}

async function evaluate(models: number, cpuList: string | undefined): Promise<Evaluation> {
  const started = performance.now();
  const proc = spawnChild(process.execPath, ["-r", require.resolve("ts-node/register/transpile-only"), CHILD, String(models)], { cpuList });
  const timer = setTimeout(() => void proc.stop(), 300_000);
  const code = await proc.exited;
  clearTimeout(timer);
  const wallMs = performance.now() - started;
  const line = /^PROGRAM_JSON (.*)$/m.exec(proc.stdout());
  if (code !== 0 || !line) throw new Error(`program with ${models} models failed (exit ${code}):\n${proc.stderr()}`);
  return { ...(JSON.parse(line[1]!) as Omit<Evaluation, "wallMs">), wallMs };
}

/** Least-squares line y = a + b·x and its R². */
export function linearFit(xs: number[], ys: number[]): { intercept: number; slope: number; r2: number } {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { intercept: my - slope * mx, slope, r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) };
}

/**
 * Evaluation ms per added model over the last step between sizes, divided by the same over the step before
 * (50→100 vs 10→50): about 1 when growth is linear, below when fixed costs dominate, above when superlinear.
 * Undefined with fewer than three sizes. An R² over a line is reported too, but a large fixed cost (the first
 * model pays for the platform) makes it a poor judge of linearity.
 */
export function marginalGrowth(rows: { models: number; evalMs: number }[]): number | undefined {
  if (rows.length < 3) return undefined;
  const [a, b, c] = rows.slice(-3) as [(typeof rows)[number], (typeof rows)[number], (typeof rows)[number]];
  const previous = (b.evalMs - a.evalMs) / (b.models - a.models);
  const last = (c.evalMs - b.evalMs) / (c.models - b.models);
  return previous > 0 ? last / previous : undefined;
}

const medianBy = (runs: Evaluation[], key: "wallMs" | "evalMs" | "loadMs"): number => {
  const sorted = runs.map((r) => r[key]).sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
};

export const programScale: Bench = {
  name: "program-scale",
  description: "Pulumi program under mocks with 2, 10, 50, 100 models (and 1000 once): wall time and resources",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const sizes = ctx.smoke ? [2, 4] : [2, 10, 50, 100];
    const repeats = ctx.smoke ? 1 : 3;
    const rows: { models: number; wallMs: number; loadMs: number; evalMs: number; resources: number; byType: Record<string, number> }[] = [];
    for (const models of sizes) {
      const runs: Evaluation[] = [];
      for (let r = 0; r < repeats; r++) runs.push(await evaluate(models, ctx.cores.others));
      if (new Set(runs.map((x) => x.resources)).size !== 1) throw new Error(`program with ${models} models registered a varying number of resources`);
      rows.push({ models, wallMs: medianBy(runs, "wallMs"), loadMs: medianBy(runs, "loadMs"), evalMs: medianBy(runs, "evalMs"), resources: runs[0]!.resources, byType: runs[0]!.byType });
      ctx.log(`program-scale: ${models} models → ${runs[0]!.resources} resources, ${(medianBy(runs, "wallMs") / 1000).toFixed(2)} s`);
    }
    // The large-catalog guard (issue: `npm run plan` with 1000 models within 60 s): one evaluation, outside the fits.
    const catalog = ctx.smoke ? undefined : await evaluate(CATALOG_MODELS, ctx.cores.others);
    if (catalog) ctx.log(`program-scale: ${CATALOG_MODELS} models → ${catalog.resources} resources, ${(catalog.wallMs / 1000).toFixed(2)} s`);
    const xs = rows.map((r) => r.models);
    const resourcesFit = linearFit(xs, rows.map((r) => r.resources));
    const evalFit = linearFit(xs, rows.map((r) => r.evalMs));
    const perModel = (rows.at(-1)!.resources - rows[0]!.resources) / (rows.at(-1)!.models - rows[0]!.models);
    const resourcesLinear = rows.every((r) => r.resources === rows[0]!.resources + perModel * (r.models - rows[0]!.models));
    const largest = rows.at(-1)!;
    const marginal = marginalGrowth(rows);
    const targets: BenchResult["targets"] = [
      { what: "resources per model constant (exactly linear)", target: "R² = 1", value: resourcesFit.r2, unit: "", met: resourcesLinear },
    ];
    if (marginal !== undefined) {
      targets.push({ what: "evaluation ms per added model, last step ÷ previous step (> 1: superlinear)", target: "≤ 1.5", value: marginal, unit: "", met: marginal <= 1.5 });
    }
    if (largest.models === 100) {
      targets.push({ what: "wall time at 100 models", target: "≤ 10 s", value: largest.wallMs / 1000, unit: "s", met: largest.wallMs <= 10_000 });
    }
    if (catalog) {
      const expected = rows[0]!.resources + perModel * (CATALOG_MODELS - rows[0]!.models);
      targets.push(
        { what: `wall time at ${CATALOG_MODELS} models (a regression guard)`, target: `≤ ${CATALOG_WALL_S} s`, value: catalog.wallMs / 1000, unit: "s", met: catalog.wallMs <= CATALOG_WALL_S * 1000 },
        { what: `resources at ${CATALOG_MODELS} models on the line of the smaller sizes`, target: `${expected}`, value: catalog.resources, unit: "", met: catalog.resources === expected },
      );
    }
    return {
      name: "program-scale",
      method: {
        program: "index.ts with the dev stack config (Pulumi.yaml defaults + Pulumi.dev.yaml), models replaced by N generated ones",
        models: "alternately vllm on one A100 (OpenAI-routed) and sklearn on CPU (path-routed), namespace models",
        mocks: "tests/support/mocks.ts (pulumi.runtime.setMocks, every registration recorded)",
        process: "one fresh node process per evaluation, ts-node transpile-only",
        repeats,
        statistic: "median over repeats",
      },
      figures: {
        sizes: rows,
        resourcesPerModel: perModel,
        resourcesFit,
        evalMsFit: evalFit,
        evalMarginalGrowth: marginal,
        ...(catalog ? { catalog } : {}),
      },
      tables: [
        {
          title: `Program scale: index.ts under mocks (median of ${repeats} fresh processes each; seconds)`,
          columns: ["models", "resources", "wall", "load SDKs", "evaluate", "evaluate/model ms"],
          rows: [...rows, ...(catalog ? [catalog] : [])].map((r) => [r.models, r.resources, fixed(r.wallMs / 1000), fixed(r.loadMs / 1000), fixed(r.evalMs / 1000), fixed(r.evalMs / r.models, 1)]),
        },
        {
          title: "Program scale: linear fits over the sizes",
          columns: ["measure", "intercept", "per model", "R²"],
          rows: [
            ["resources", fixed(resourcesFit.intercept, 1), fixed(resourcesFit.slope, 2), fixed(resourcesFit.r2, 4)],
            ["evaluate ms", fixed(evalFit.intercept, 0), fixed(evalFit.slope, 1), fixed(evalFit.r2, 4)],
          ],
        },
      ],
      targets,
    };
  },
};
