/**
 * `node -r ts-node/register/transpile-only bench/simulate.ts [requests] [seed]`: the simulator's speed on a seeded
 * synthetic week shaped like the Azure code trace (token counts resampled from simulator/fixtures/code-sample.csv,
 * Poisson arrivals with a day/night cycle; default 1,000,000 requests), one model on the dev stack's pool, scale to
 * zero with cooldown 300 s. Target: ≤ 10 s on one core (the engine is single-threaded). Prints requests, events
 * handled, wall time and the run's headline figures.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { coldStartBudget } from "../components/domain/coldStartBudget";
import { simulate, type SimInput } from "../simulator/engine";
import { waitStats } from "../simulator/report";
import { rng } from "../simulator/rng";
import { parseTrace, synthesize } from "../simulator/trace";

const count = Number(process.argv[2] ?? 1_000_000);
const seed = Number(process.argv[3] ?? 1);
const week = 7 * 86400;
const sample = parseTrace(fs.readFileSync(path.join(__dirname, "../simulator/fixtures/code-sample.csv"), "utf8"), "code-sample.csv");

const t0 = performance.now();
const trace = synthesize(sample, count, week, rng(seed));
const service = Float64Array.from(trace.arrivals, (_, i) => trace.contextTokens[i] / 5000 + trace.generatedTokens[i] / 40);
const input: SimInput = {
    models: [{ name: "qwen", gpus: 1, pool: 0, minReplicas: 0, maxReplicas: 4, cooldownSeconds: 300, pollingSeconds: 15, targetConcurrency: 10, slots: 256, holdSeconds: 2430 }],
    pools: [{ name: "a100", gpusPerNode: 8, minSize: 0, maxSize: 1, scaleDownUnneededSeconds: 300 }],
    arrivals: trace.arrivals,
    model: new Int32Array(count),
    service,
    phases: coldStartBudget.today,
    seed,
    horizon: week + 3600,
};
const t1 = performance.now();
const result = simulate(input);
const t2 = performance.now();
const w = waitStats(result.models[0].waits);
console.log(
    `simulate bench: ${count} requests over 7 days (seed ${seed}); generate ${((t1 - t0) / 1000).toFixed(2)} s, simulate ${((t2 - t1) / 1000).toFixed(2)} s ` +
        `(target ≤ 10 s); cold starts ${result.models[0].coldStarts}, wait p50 ${w.p50.toFixed(2)} s p99 ${w.p99.toFixed(1)} s, GPU node-hours ${(result.nodeSeconds[0] / 3600).toFixed(1)}`,
);
