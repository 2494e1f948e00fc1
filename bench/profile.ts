/**
 * Profiles the activator's warm path: the warm-path setup (nginx `return 200` backend, activator pinned to its own
 * core), the activator run with `--cpu-prof`, wrk at 64 connections, then the profile summarized: where the
 * activator's CPU goes by file/package and by function (self time), and the biggest inclusive subtrees.
 *
 *   node -r ts-node/register/transpile-only bench/profile.ts [--seconds 10] [--connections 64] [--out DIR]
 *
 * The raw .cpuprofile stays in DIR (default bench/results/profile) for Chrome DevTools or speedscope.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import * as YAML from "yaml";
import type { ActivatorConfigInput } from "../activator/src/config/schema";
import { ACTIVATOR_MAIN } from "../testing/activator/activatorProcess";
import { freePort } from "../testing/activator/backend";
import { startNginx, waitForPort, type Nginx } from "./lib/nginx";
import { missingPrerequisites } from "./lib/prerequisites";
import { coreLayout, pin, spawnChild, stopAll, stopChildrenOnSignals, type Spawned } from "./lib/processes";
import { formatTable } from "./lib/report";
import { rps, runWrk } from "./lib/wrk";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame comes from: our activator file, a package, a Node internal module, or a V8 pseudo-frame. */
export function origin(url: string, functionName: string): string {
  if (!url) return `(${functionName || "native"})`.replace(/^\(\((.*)\)\)$/, "($1)");
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const ours = /activator\/dist\/(.*)$/.exec(url);
  if (ours) return `activator/${ours[1]}`;
  if (url.startsWith("node:")) return url;
  return path.basename(url);
}

/** Self and inclusive time per function and self time per origin, as shares of all non-idle samples. */
export function summarizeProfile(profile: CpuProfile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const idle = profile.nodes.filter((n) => n.callFrame.functionName === "(idle)").reduce((a, n) => a + (selfMs.get(n.id) ?? 0), 0);
  const total = [...selfMs.values()].reduce((a, b) => a + b, 0) - idle;

  const inclusive = new Map<number, number>();
  const visit = (id: number): number => {
    const node = byId.get(id)!;
    let sum = selfMs.get(id) ?? 0;
    for (const child of node.children ?? []) sum += visit(child);
    inclusive.set(id, sum);
    return sum;
  };
  visit(profile.nodes[0]!.id);

  const key = (n: ProfileNode) => `${n.callFrame.functionName || "(anonymous)"}  ${origin(n.callFrame.url, n.callFrame.functionName)}:${n.callFrame.lineNumber + 1}`;
  const selfByFunction = new Map<string, number>();
  const inclusiveByFunction = new Map<string, number>();
  const selfByOrigin = new Map<string, number>();
  for (const n of profile.nodes) {
    if (n.callFrame.functionName === "(idle)" || n.callFrame.functionName === "(root)") continue;
    const k = key(n);
    selfByFunction.set(k, (selfByFunction.get(k) ?? 0) + (selfMs.get(n.id) ?? 0));
    // A recursive function counts once per path: take the max subtree rather than the sum of nested frames.
    inclusiveByFunction.set(k, Math.max(inclusiveByFunction.get(k) ?? 0, inclusive.get(n.id) ?? 0));
    const o = origin(n.callFrame.url, n.callFrame.functionName);
    selfByOrigin.set(o, (selfByOrigin.get(o) ?? 0) + (selfMs.get(n.id) ?? 0));
  }
  const top = (m: Map<string, number>, count: number) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, count).map(([k, ms]) => ({ name: k, ms, share: ms / total }));
  return { totalMs: total, idleMs: idle, selfByOrigin: top(selfByOrigin, 20), selfByFunction: top(selfByFunction, 30), inclusiveByFunction: top(inclusiveByFunction, 30) };
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { seconds: { type: "string", default: "10" }, connections: { type: "string", default: "64" }, out: { type: "string" } } });
  const missing = missingPrerequisites();
  if (missing.length > 0) {
    process.stderr.write(`cannot profile:\n  ${missing.join("\n  ")}\n`);
    return 2;
  }
  stopChildrenOnSignals();
  const outDir = path.resolve(values.out ?? path.join(__dirname, "results", "profile"));
  mkdirSync(outDir, { recursive: true });
  const cores = coreLayout();
  pin(process.pid, cores.others);
  let backend: Nginx | undefined;
  let act: Spawned | undefined;
  try {
    backend = await startNginx(await freePort(), { role: "backend" }, cores.others);
    const proxyPort = await freePort();
    const configFile = path.join(outDir, "activator.yaml");
    const config: ActivatorConfigInput = {
      readiness: { mode: "probe" },
      listeners: { proxy: { host: "127.0.0.1", port: proxyPort }, scaler: { host: "127.0.0.1", port: await freePort() }, admin: { host: "127.0.0.1", port: await freePort() } },
      models: [{ name: "fast", namespace: "bench", backend: `http://127.0.0.1:${backend.port}`, readinessPath: "/", hosts: ["fast.bench"] }],
    };
    writeFileSync(configFile, YAML.stringify(config));
    const startedAt = Date.now();
    act = spawnChild(process.execPath, ["--cpu-prof", "--cpu-prof-dir", outDir, ACTIVATOR_MAIN, "--config", configFile], { cpuList: cores.proxy });
    await waitForPort(proxyPort, 10_000, () => act!.child.exitCode !== null);
    // Warm (probe mode: the model is ready once a probe answered); a cold first request would be held, not fail.
    await runWrk({ url: `http://127.0.0.1:${proxyPort}/`, connections: 8, durationSeconds: 1, headers: { Host: "fast.bench" }, cpuList: cores.others });
    const result = await runWrk({
      url: `http://127.0.0.1:${proxyPort}/`,
      connections: Number(values.connections),
      durationSeconds: Number(values.seconds),
      headers: { Host: "fast.bench" },
      cpuList: cores.others,
    });
    act.child.kill("SIGTERM"); // a clean exit writes the profile
    await act.exited;
    const file = readdirSync(outDir)
      .filter((f) => f.endsWith(".cpuprofile"))
      .map((f) => path.join(outDir, f))
      .filter((f) => statSync(f).mtimeMs >= startedAt)
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
    if (!file) throw new Error(`no .cpuprofile written in ${outDir}`);
    const summary = summarizeProfile(JSON.parse(readFileSync(file, "utf8")) as CpuProfile);
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    const perRequestUs = (summary.totalMs * 1000) / result.requests;
    process.stdout.write(
      `${result.requests} requests, ${rps(result).toFixed(0)} rps at ${values.connections} connections; activator busy ${(summary.totalMs / 1000).toFixed(1)} s ` +
        `(≈ ${perRequestUs.toFixed(1)} µs of CPU per request, startup included); profile: ${file}\n\n`,
    );
    const rows = (list: { name: string; ms: number; share: number }[]) => list.map((e) => [e.name, e.ms.toFixed(0), pct(e.share)]);
    process.stdout.write(`${formatTable({ title: "Self time by origin", columns: ["origin", "ms", "share"], rows: rows(summary.selfByOrigin) })}\n\n`);
    process.stdout.write(`${formatTable({ title: "Self time by function", columns: ["function  origin:line", "ms", "share"], rows: rows(summary.selfByFunction) })}\n\n`);
    process.stdout.write(`${formatTable({ title: "Inclusive time by function", columns: ["function  origin:line", "ms", "share"], rows: rows(summary.inclusiveByFunction) })}\n`);
    return 0;
  } finally {
    await act?.stop(10_000);
    await backend?.stop();
    await stopAll();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`profile failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
