/**
 * Warm path: the same fast backend (nginx `return 200`, a 11-byte JSON body) reached (a) directly, (b) through nginx
 * `proxy_pass` with a keep-alive upstream and one worker, (c) through the activator, one process; and, as a reference
 * for what Node.js itself costs, (d) `node-floor`: a bare node:http + undici proxy (lib/nodeProxy.ts). wrk with one
 * thread: 64 connections for throughput, 1 connection for the unloaded cost of the hop. Paths are measured in
 * rotating order, several rounds; each figure is the median over the rounds.
 */
import * as path from "node:path";
import { freePort } from "../tests/activator/testing/backend";
import { send } from "../tests/activator/testing/http";
import { startActivator, type BenchActivator } from "./lib/activator";
import { BACKEND_BODY, startNginx, waitForPort, type Nginx } from "./lib/nginx";
import { childPids, cpuSecondsOf, spawnChild, type Spawned } from "./lib/processes";
import { fixed, type Bench, type BenchContext, type BenchResult } from "./lib/report";
import { errorCount, rps, runWrk, type WrkResult } from "./lib/wrk";

const HOST = "fast.bench";
const NODE_PROXY = path.join(__dirname, "lib", "nodeProxy.ts");
const PATHS = ["direct", "nginx", "node-floor", "activator"] as const;
type PathName = (typeof PATHS)[number];

interface Measured {
  /** Throughput run, 64 connections. */
  loaded: WrkResult;
  /** CPU share of the proxy process during the loaded run (1 = one full core). */
  proxyCpu: number;
  /** Latency run, 1 connection. */
  single: WrkResult;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export const warmPath: Bench = {
  name: "warm-path",
  description: "direct vs nginx vs activator: wrk throughput at 64 connections and latency at 1 connection",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const seconds = ctx.smoke ? 1 : 10;
    const rounds = ctx.smoke ? 1 : 3;
    const warmupSeconds = ctx.smoke ? 1 : 5;
    let backend: Nginx | undefined;
    let proxy: Nginx | undefined;
    let act: BenchActivator | undefined;
    let floor: Spawned | undefined;
    try {
      backend = await startNginx(await freePort(), { role: "backend" }, ctx.cores.others);
      proxy = await startNginx(await freePort(), { role: "proxy", upstreamPort: backend.port }, ctx.cores.proxy);
      act = await startActivator(
        {
          readiness: { mode: "probe" },
          models: [{ name: "fast", namespace: "bench", backend: `http://127.0.0.1:${backend.port}`, readinessPath: "/", hosts: [HOST] }],
        },
        ctx.cores.proxy,
      );
      await act.waitQueue((q) => q.models["bench/fast"]?.ready === true, "model bench/fast ready");
      const floorPort = await freePort();
      floor = spawnChild(process.execPath, ["-r", require.resolve("ts-node/register/transpile-only"), NODE_PROXY, String(floorPort), String(backend.port)], {
        cpuList: ctx.cores.proxy,
      });
      await waitForPort(floorPort, 10_000, () => floor!.child.exitCode !== null);

      const nginxWorker = childPids(proxy.process.child.pid!)[0] ?? proxy.process.child.pid!;
      const targets: Record<PathName, { url: string; pid: number | undefined }> = {
        direct: { url: `http://127.0.0.1:${backend.port}/`, pid: undefined },
        nginx: { url: `http://127.0.0.1:${proxy.port}/`, pid: nginxWorker },
        "node-floor": { url: `http://127.0.0.1:${floorPort}/`, pid: floor.child.pid },
        activator: { url: `${act.proxyUrl}/`, pid: act.pid },
      };
      for (const name of PATHS) await checkAnswer(name, targets[name].url);

      const wrk = (name: PathName, connections: number, durationSeconds: number) =>
        runWrk({ url: targets[name].url, connections, durationSeconds, headers: { Host: HOST }, cpuList: ctx.cores.others });

      ctx.log(`warm-path: warming up each path ${warmupSeconds} s`);
      for (const name of PATHS) await wrk(name, 64, warmupSeconds);

      const runs: Record<PathName, Measured[]> = { direct: [], nginx: [], "node-floor": [], activator: [] };
      for (let round = 0; round < rounds; round++) {
        for (let k = 0; k < PATHS.length; k++) {
          const name = PATHS[(k + round) % PATHS.length]!;
          const pid = targets[name].pid;
          const cpuBefore = pid ? cpuSecondsOf(pid) : 0;
          const loaded = await wrk(name, 64, seconds);
          const proxyCpu = pid ? (cpuSecondsOf(pid) - cpuBefore) / (loaded.durationUs / 1e6) : NaN;
          const single = await wrk(name, 1, seconds);
          for (const r of [loaded, single]) {
            if (errorCount(r) > 0 || r.requests === 0) throw new Error(`warm-path ${name}: ${r.requests} requests, errors ${JSON.stringify(r.errors)}`);
          }
          runs[name].push({ loaded, proxyCpu, single });
          ctx.log(`warm-path: round ${round + 1}/${rounds} ${name}: ${rps(loaded).toFixed(0)} rps at 64, p99 ${(single.latencyUs.p99 / 1000).toFixed(3)} ms at 1`);
        }
      }

      const figures = {
        direct: pathFigures(runs.direct),
        nginx: pathFigures(runs.nginx),
        "node-floor": pathFigures(runs["node-floor"]),
        activator: pathFigures(runs.activator),
      };
      const ratio = figures.activator.c64.rps / figures.nginx.c64.rps;
      const addedP99 = figures.activator.c1.p99Ms - figures.direct.c1.p99Ms;
      const nginxAddedP99 = figures.nginx.c1.p99Ms - figures.direct.c1.p99Ms;
      const overFloor = figures.activator.c64.rps / figures["node-floor"].c64.rps;
      return {
        name: "warm-path",
        method: {
          backend: `nginx return 200 (${BACKEND_BODY.length}-byte JSON body), one worker, shared by all three paths`,
          loadGenerator: "wrk 1 thread: 64 connections (throughput), 1 connection (latency)",
          secondsPerRun: seconds,
          rounds,
          warmupSeconds,
          statistic: "median over rounds",
          activatorReadiness: "probe (backend ready throughout)",
          routing: `activator routes by Host ${HOST}; the other paths ignore it`,
          nodeFloor: "bench/lib/nodeProxy.ts: node:http server + undici Pool.dispatch, nothing else (reference for Node's own cost)",
        },
        figures: {
          ...figures,
          activatorOverNginxThroughput: ratio,
          activatorOverNodeFloorThroughput: overFloor,
          activatorMinusDirectP99Ms: addedP99,
          nginxMinusDirectP99Ms: nginxAddedP99,
        },
        tables: [
          {
            title: `Warm path (${rounds} × ${seconds} s per path and concurrency, medians; latencies in ms)`,
            columns: ["path", "rps @64", "p50 @64", "p99 @64", "p99.9 @64", "proxy CPU @64", "rps @1", "p50 @1", "p99 @1", "p99.9 @1"],
            rows: PATHS.map((name) => {
              const f = figures[name];
              return [
                name,
                fixed(f.c64.rps, 0),
                fixed(f.c64.p50Ms, 3),
                fixed(f.c64.p99Ms, 3),
                fixed(f.c64.p999Ms, 3),
                name === "direct" ? "-" : `${fixed(f.c64.proxyCpuCores * 100, 0)}%`,
                fixed(f.c1.rps, 0),
                fixed(f.c1.p50Ms, 3),
                fixed(f.c1.p99Ms, 3),
                fixed(f.c1.p999Ms, 3),
              ];
            }),
          },
        ],
        targets: [
          { what: "activator ÷ nginx throughput at 64 connections", target: "≥ 0.8", value: ratio, unit: "", met: ratio >= 0.8 },
          { what: "activator − direct p99 at 1 connection", target: "≤ 1 ms", value: addedP99, unit: "ms", met: addedP99 <= 1 },
        ],
      };
    } finally {
      await floor?.stop();
      await act?.stop();
      await proxy?.stop();
      await backend?.stop();
    }
  },
};

/** Medians over the rounds of one path. */
function pathFigures(m: Measured[]) {
  const pick = (f: (x: Measured) => number) => median(m.map(f));
  return {
    c64: {
      rps: pick((x) => rps(x.loaded)),
      p50Ms: pick((x) => x.loaded.latencyUs.p50 / 1000),
      p99Ms: pick((x) => x.loaded.latencyUs.p99 / 1000),
      p999Ms: pick((x) => x.loaded.latencyUs.p999 / 1000),
      proxyCpuCores: pick((x) => x.proxyCpu),
    },
    c1: {
      rps: pick((x) => rps(x.single)),
      p50Ms: pick((x) => x.single.latencyUs.p50 / 1000),
      p99Ms: pick((x) => x.single.latencyUs.p99 / 1000),
      p999Ms: pick((x) => x.single.latencyUs.p999 / 1000),
    },
    requests: m.reduce((a, x) => a + x.loaded.requests + x.single.requests, 0),
    errors: m.reduce((a, x) => a + errorCount(x.loaded) + errorCount(x.single), 0),
  };
}

/** Every path must answer the backend's body with 200 before it is measured (the activator: as a warm request). */
async function checkAnswer(name: PathName, url: string): Promise<void> {
  const res = await send(url, { headers: { host: HOST } });
  if (res.status !== 200 || res.body !== BACKEND_BODY) throw new Error(`warm-path ${name}: ${url} answered ${res.status} ${res.body.slice(0, 200)}`);
  if (name === "activator" && res.headers["x-activator-cold-start"] !== "false") {
    throw new Error(`warm-path activator: expected a warm request, got x-activator-cold-start=${res.headers["x-activator-cold-start"]}`);
  }
}
