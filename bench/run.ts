/**
 * Runs the benchmarks: `npm run bench` (all, full length), `npm run bench -- --help` (the options and every bench by
 * name), `npm run bench -- --smoke` (each briefly, to prove it
 * works), `--only warm-path,streaming` (a subset), `--out DIR` (where the JSON results go; default bench/results,
 * or bench/results/smoke with --smoke so a smoke run never overwrites real figures).
 *
 * Needs nginx and wrk (Debian: apt-get install nginx-light wrk) and the built activator (npm run build). A full run
 * also builds KEDA's HTTP add-on interceptor with Go into its cache when missing (npm run bench:build builds it
 * alone); a smoke run uses it only when already built.
 * Each bench prints its table and targets and writes `<out>/<name>.json`; the process exits 1 if a bench failed
 * (a missed target is reported, not a failure).
 */
import { cpus, loadavg, totalmem } from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { spawnSync } from "node:child_process";
import { activationPush } from "./activationPush";
import { catalogScale } from "./catalogScale";
import { batchApi } from "./batchApi";
import { coldPath } from "./coldPath";
import { heldBodies } from "./heldBodies";
import { failFast } from "./failFast";
import { heldCapacity } from "./heldCapacity";
import { NGINX } from "./lib/nginx";
import { foreignLoad, QUIET_CORES, waitForQuiet } from "./lib/machineLoad";
import { missingPrerequisites } from "./lib/prerequisites";
import { coreLayout, pin, stopAll, stopChildrenOnSignals } from "./lib/processes";
import { formatTable, formatTargets, sourceRevision, writeResult, type Bench, type BenchContext, type BenchResult } from "./lib/report";
import { WRK } from "./lib/wrk";
import { earlyErrors } from "./earlyErrors";
import { peerPush } from "./peerPush";
import { programScale } from "./programScale";
import { replicaChoice } from "./replicaChoice";
import { staleUpstream } from "./staleUpstream";
import { streaming } from "./streaming";
import { warmPath } from "./warmPath";

const BENCHES: Bench[] = [
  warmPath,
  streaming,
  activationPush,
  peerPush,
  failFast,
  coldPath,
  heldCapacity,
  heldBodies,
  staleUpstream,
  earlyErrors,
  programScale,
  replicaChoice,
  catalogScale,
  batchApi,
];

/** A full run waits this long at most for the machine to be quiet before each bench (then runs and says so). */
const QUIET_WAIT_MS = 120_000;
/** Runs of a bench marked repeatWhenDisturbed, at most. */
const MAX_ATTEMPTS = 3;

interface MachineLoad {
  otherProcessesCoresBefore: number | undefined;
  otherProcessesCoresDuring: number;
  attempt: number;
}

function machine(): Record<string, unknown> {
  const version = (file: string | undefined, args: string[]) => {
    if (!file) return "missing";
    const out = spawnSync(file, args, { encoding: "utf8" });
    return `${out.stdout ?? ""}${out.stderr ?? ""}`.trim().split("\n")[0] ?? "unknown";
  };
  return {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    /** 1-minute load average when the run started: other work on the machine skews every figure. */
    loadAverageAtStart: Number(loadavg()[0]!.toFixed(2)),
    nginx: version(NGINX, ["-v"]),
    wrk: version(WRK, ["-v"]),
  };
}

/** What `--help` prints: the options and each bench by name. */
function usage(): string {
  const width = Math.max(...BENCHES.map((b) => b.name.length));
  return [
    "usage: npm run bench -- [--smoke] [--only NAME[,NAME...]] [--out DIR]",
    "  --smoke   each bench briefly, to prove it works (figures not meaningful; results go to bench/results/smoke)",
    "  --only    run these benches only",
    "  --out     where the JSON results go (default bench/results)",
    "benches:",
    ...BENCHES.map((b) => `  ${b.name.padEnd(width)}  ${b.description}`),
  ].join("\n");
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ options: { smoke: { type: "boolean", default: false }, only: { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } } });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage()}\n`);
    return 2;
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const smoke = values.smoke!;
  const outDir = path.resolve(values.out ?? path.join(__dirname, "results", smoke ? "smoke" : ""));
  const only = values.only?.split(",").map((s) => s.trim());
  const unknown = only?.filter((name) => !BENCHES.some((b) => b.name === name)) ?? [];
  if (unknown.length > 0) {
    process.stderr.write(`unknown bench(es): ${unknown.join(", ")}; known: ${BENCHES.map((b) => b.name).join(", ")}\n`);
    return 2;
  }
  const missing = missingPrerequisites();
  if (missing.length > 0) {
    process.stderr.write(`cannot run the benches:\n${missing.map((m) => `  - ${m}`).join("\n")}\n`);
    return 2;
  }

  stopChildrenOnSignals();
  const cores = coreLayout();
  pin(process.pid, cores.others); // the driver hosts backends, fake APIs and clients: keep it off the proxy's core
  const ctx: BenchContext = { smoke, cores, log: (m) => process.stderr.write(`[bench] ${m}\n`) };
  const info = { source: sourceRevision(), machine: machine(), cores: cores.description, smoke, startedAt: new Date().toISOString() };
  process.stdout.write(`${smoke ? "SMOKE run (figures not meaningful)" : "Benchmark run"}: ${JSON.stringify(info.machine)}\n${cores.description}\n\n`);

  const failed: string[] = [];
  for (const bench of BENCHES.filter((b) => !only || only.includes(b.name))) {
    ctx.log(`${bench.name}: ${bench.description}`);
    try {
      // Short latency benches are repeated when other processes disturbed them; the least disturbed run is kept.
      const attempts = smoke || !bench.repeatWhenDisturbed ? 1 : MAX_ATTEMPTS;
      let kept: { result: BenchResult; seconds: number; machineLoad: MachineLoad } | undefined;
      for (let attempt = 1; attempt <= attempts; attempt++) {
        const quietBefore = smoke ? undefined : await waitForQuiet(QUIET_WAIT_MS, ctx.log);
        const started = performance.now();
        const foreign = foreignLoad();
        const result = await bench.run(ctx);
        await stopAll();
        const machineLoad = { otherProcessesCoresBefore: quietBefore, otherProcessesCoresDuring: foreign(), attempt };
        if (!kept || machineLoad.otherProcessesCoresDuring < kept.machineLoad.otherProcessesCoresDuring) {
          kept = { result, seconds: (performance.now() - started) / 1000, machineLoad };
        }
        if (machineLoad.otherProcessesCoresDuring < QUIET_CORES || attempt === attempts) break;
        ctx.log(`${bench.name}: disturbed (other processes used ${machineLoad.otherProcessesCoresDuring.toFixed(2)} cores), attempt ${attempt}/${attempts}`);
      }
      const { result, seconds, machineLoad } = kept!;
      const file = writeResult(outDir, result, { ...info, seconds, machineLoad });
      process.stdout.write(
        `${result.tables.map(formatTable).join("\n\n")}\n${formatTargets(result.targets)}\n` +
          `  other processes used ${machineLoad.otherProcessesCoresDuring.toFixed(2)} cores on average meanwhile\n  → ${path.relative(process.cwd(), file)}\n\n`,
      );
    } catch (err) {
      failed.push(bench.name);
      process.stdout.write(`${bench.name} FAILED: ${(err as Error).stack ?? String(err)}\n\n`);
    } finally {
      await stopAll();
    }
  }
  if (failed.length > 0) process.stdout.write(`failed: ${failed.join(", ")}\n`);
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (err: Error) => {
    process.stderr.write(`bench run failed: ${err.stack ?? err.message}\n`);
    await stopAll();
    process.exit(1);
  },
);
