/**
 * Warm path: the same fast backend (nginx `return 200`, an 11-byte JSON body) reached (a) directly, (b) through nginx
 * `proxy_pass` with a keep-alive upstream and one worker, (c) through the activator, one process; and, as a reference
 * for what Node.js itself costs, (d) `node-floor`: a bare node:http + undici proxy (lib/nodeProxy.ts); and the real peer, (e) KEDA's HTTP add-on
 * interceptor (lib/interceptor.ts), when built: a full run builds it into its cache if missing, a smoke run skips it.
 *
 * wrk with one thread, three runs per path and round:
 * - 64 connections, proxy on its own core: throughput, and latency under load;
 * - 1 connection, same layout: the unloaded cost of the hop, cross-core wake-ups included (every request crosses
 *   between the two cores four times, as it would cross machines);
 * - 1 connection with the proxy moved onto the load generator's core: the hop's processing cost without
 *   cross-core wake-ups (the chain is sequential at one connection, so sharing a core costs nothing else).
 * Paths are measured in rotating order, several rounds; each figure is the median over the rounds. A run that
 * other processes disturbed (lib/machineLoad) is repeated, the least disturbed attempt kept.
 */
import * as path from "node:path";
import { freePort } from "../testing/activator/backend";
import { send } from "../testing/activator/http";
import { startActivator, type BenchActivator } from "./lib/activator";
import { ensureInterceptor, interceptorBinary, interceptorBuildInfo, interceptorCacheDir, INTERCEPTOR_VERSION, startInterceptor, type BenchInterceptor } from "./lib/interceptor";
import { foreignLoad, QUIET_CORES } from "./lib/machineLoad";
import { BACKEND_BODY, startNginx, waitForPort, type Nginx } from "./lib/nginx";
import { childPids, cpuSecondsOf, pin, spawnChild, type Spawned } from "./lib/processes";
import { fixed, type Bench, type BenchContext, type BenchResult } from "./lib/report";
import { errorCount, rps, runWrk, type WrkResult } from "./lib/wrk";

const HOST = "fast.bench";
const NODE_PROXY = path.join(__dirname, "lib", "nodeProxy.ts");
const ALL_PATHS = ["direct", "nginx", "node-floor", "activator", "interceptor"] as const;
type PathName = (typeof ALL_PATHS)[number];
const RUNS = ["c64", "c1", "c1SameCore"] as const;
type RunName = (typeof RUNS)[number];

/** Runs repeated when other processes disturbed them. */
const MAX_ATTEMPTS = 3;

interface Run {
  result: WrkResult;
  /** CPU of the proxy process during the run, in cores (NaN for direct). */
  proxyCores: number;
  /** Cores other processes used meanwhile: how disturbed the run was. */
  foreignCores: number;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Medians over the rounds of one run kind of one path. */
function runFigures(runs: Run[]) {
  const pick = (f: (r: Run) => number) => median(runs.map(f));
  return {
    rps: pick((r) => rps(r.result)),
    p50Ms: pick((r) => r.result.latencyUs.p50 / 1000),
    p90Ms: pick((r) => r.result.latencyUs.p90 / 1000),
    p99Ms: pick((r) => r.result.latencyUs.p99 / 1000),
    p999Ms: pick((r) => r.result.latencyUs.p999 / 1000),
    proxyCores: pick((r) => r.proxyCores),
    requests: runs.reduce((a, r) => a + r.result.requests, 0),
    errors: runs.reduce((a, r) => a + errorCount(r.result), 0),
    foreignCoresMax: Math.max(...runs.map((r) => r.foreignCores)),
  };
}
type RunFigures = ReturnType<typeof runFigures>;

export const warmPath: Bench = {
  name: "warm-path",
  description: "direct vs nginx vs activator vs KEDA HTTP interceptor: wrk throughput at 64 connections and latency at 1 connection",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const seconds = ctx.smoke ? 1 : 10;
    const rounds = ctx.smoke ? 1 : 3;
    const warmupSeconds = ctx.smoke ? 1 : 5;
    let backend: Nginx | undefined;
    let proxy: Nginx | undefined;
    let act: BenchActivator | undefined;
    let floor: Spawned | undefined;
    let interceptor: BenchInterceptor | undefined;
    try {
      // The real peer: built into its cache by a full run when missing; a smoke run (npm test) never builds.
      let interceptorSkipped: string | undefined;
      const interceptorBin = ctx.smoke
        ? interceptorBinary()
        : await ensureInterceptor(ctx.log).catch((err: Error) => void (interceptorSkipped = err.message));
      if (!interceptorBin) {
        interceptorSkipped ??= `not built (${interceptorCacheDir()} is empty; npm run bench:build builds it)`;
        ctx.log(`warm-path: KEDA HTTP interceptor skipped: ${interceptorSkipped}`);
      }
      const paths = ALL_PATHS.filter((p) => p !== "interceptor" || interceptorBin);
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
      if (interceptorBin) interceptor = await startInterceptor({ binary: interceptorBin, host: HOST, backendPort: backend.port, cpuList: ctx.cores.proxy });

      const nginxMaster = proxy.process.child.pid!;
      const targets: Partial<Record<PathName, { url: string; cpuPid?: number; pids: number[] }>> = {
        direct: { url: `http://127.0.0.1:${backend.port}/`, pids: [] },
        nginx: { url: `http://127.0.0.1:${proxy.port}/`, cpuPid: childPids(nginxMaster)[0] ?? nginxMaster, pids: [nginxMaster, ...childPids(nginxMaster)] },
        "node-floor": { url: `http://127.0.0.1:${floorPort}/`, cpuPid: floor.child.pid!, pids: [floor.child.pid!] },
        activator: { url: `${act.proxyUrl}/`, cpuPid: act.pid, pids: [act.pid] },
        ...(interceptor ? { interceptor: { url: `${interceptor.proxyUrl}/`, cpuPid: interceptor.pid, pids: [interceptor.pid] } } : {}),
      };
      for (const name of paths) await checkAnswer(name, targets[name]!.url);

      const wrk = (name: PathName, connections: number, durationSeconds: number) =>
        runWrk({ url: targets[name]!.url, connections, durationSeconds, headers: { Host: HOST }, cpuList: ctx.cores.others });

      /** One run, repeated (full runs) while other processes disturbed it; the least disturbed attempt is kept. */
      const measure = async (name: PathName, kind: RunName): Promise<Run> => {
        const { cpuPid, pids } = targets[name]!;
        const sameCore = kind === "c1SameCore";
        if (sameCore) for (const pid of pids) pin(pid, ctx.cores.others);
        try {
          let best: Run | undefined;
          for (let attempt = 1; attempt <= (ctx.smoke ? 1 : MAX_ATTEMPTS); attempt++) {
            const cpuBefore = cpuPid ? cpuSecondsOf(cpuPid) : 0;
            const foreign = foreignLoad();
            const result = await wrk(name, kind === "c64" ? 64 : 1, seconds);
            const foreignCores = foreign();
            const proxyCores = cpuPid ? (cpuSecondsOf(cpuPid) - cpuBefore) / (result.durationUs / 1e6) : NaN;
            if (errorCount(result) > 0 || result.requests === 0) {
              throw new Error(`warm-path ${name} ${kind}: ${result.requests} requests, errors ${JSON.stringify(result.errors)}`);
            }
            if (!best || foreignCores < best.foreignCores) best = { result, proxyCores, foreignCores };
            if (foreignCores < QUIET_CORES) break;
            ctx.log(`warm-path: ${name} ${kind} disturbed (other processes used ${foreignCores.toFixed(2)} cores), attempt ${attempt}/${MAX_ATTEMPTS}`);
          }
          return best!;
        } finally {
          if (sameCore) for (const pid of pids) pin(pid, ctx.cores.proxy);
        }
      };

      ctx.log(`warm-path: warming up each path ${warmupSeconds} s`);
      for (const name of paths) await wrk(name, 64, warmupSeconds);

      const noRuns = (): Record<RunName, Run[]> => ({ c64: [], c1: [], c1SameCore: [] });
      const runs = Object.fromEntries(paths.map((p) => [p, noRuns()])) as Record<PathName, Record<RunName, Run[]>>;
      for (let round = 0; round < rounds; round++) {
        for (let k = 0; k < paths.length; k++) {
          const name = paths[(k + round) % paths.length]!;
          for (const kind of RUNS) runs[name][kind].push(await measure(name, kind));
          const last = (kind: RunName) => runs[name][kind].at(-1)!.result;
          ctx.log(
            `warm-path: round ${round + 1}/${rounds} ${name}: ${rps(last("c64")).toFixed(0)} rps at 64; ` +
              `p99 at 1: ${(last("c1").latencyUs.p99 / 1000).toFixed(3)} ms, same core ${(last("c1SameCore").latencyUs.p99 / 1000).toFixed(3)} ms`,
          );
        }
      }

      const figures = Object.fromEntries(
        paths.map((p) => [p, { c64: runFigures(runs[p].c64), c1: runFigures(runs[p].c1), c1SameCore: runFigures(runs[p].c1SameCore) }]),
      ) as Record<PathName, Record<RunName, RunFigures>>;
      const added = (p: PathName, kind: RunName, q: "p50Ms" | "p99Ms") => figures[p][kind][q] - figures.direct[kind][q];
      const ratio = figures.activator.c64.rps / figures.nginx.c64.rps;
      const addedP99 = added("activator", "c1", "p99Ms");
      const addedP99SameCore = added("activator", "c1SameCore", "p99Ms");
      const ms = (v: number) => fixed(v, 3);
      const peer = interceptor
        ? {
            interceptorOverNginxThroughput: figures.interceptor.c64.rps / figures.nginx.c64.rps,
            activatorOverInterceptorThroughput: figures.activator.c64.rps / figures.interceptor.c64.rps,
            /** Requests per second of proxy CPU, activator ÷ interceptor: the comparison least skewed by a busy machine. */
            activatorOverInterceptorPerCore:
              figures.activator.c64.rps / figures.activator.c64.proxyCores / (figures.interceptor.c64.rps / figures.interceptor.c64.proxyCores),
            interceptorMinusDirectP99Ms: added("interceptor", "c1", "p99Ms"),
            interceptorMinusDirectP99SameCoreMs: added("interceptor", "c1SameCore", "p99Ms"),
            interceptorMinusDirectP50Ms: added("interceptor", "c1", "p50Ms"),
            interceptorMinusDirectP50SameCoreMs: added("interceptor", "c1SameCore", "p50Ms"),
            interceptorApiRequests: interceptor.apiRequests(),
          }
        : { interceptorSkipped };
      return {
        name: "warm-path",
        method: {
          backend: `nginx return 200 (${BACKEND_BODY.length}-byte JSON body), one worker, shared by every path`,
          loadGenerator: "wrk, 1 thread: 64 connections (throughput), 1 connection (latency), pinned with the backend",
          layouts: "c64 and c1: proxy alone on its core; c1SameCore: proxy moved onto the load generator's core",
          secondsPerRun: seconds,
          rounds,
          warmupSeconds,
          statistic: "median over rounds; disturbed runs repeated (up to 3 attempts), least disturbed kept",
          activatorReadiness: "probe (backend ready throughout)",
          routing: `activator routes by Host ${HOST}; the other paths ignore it`,
          nginx: "proxy_pass, upstream keepalive 128, proxy_http_version 1.1, Connection \"\", X-Forwarded-* set, default buffering",
          nodeFloor: "bench/lib/nodeProxy.ts: node:http server + the activator's undici Pool.dispatch, nothing else",
          interceptor: interceptor
            ? `KEDA HTTP add-on interceptor ${INTERCEPTOR_VERSION} (built from the Go module proxy, GOMAXPROCS from its one pinned core), ` +
              "routing one InterceptorRoute by Host to a Service whose name /etc/hosts maps to 127.0.0.1 (own mount namespace); " +
              "routes, Service and a ready EndpointSlice listed and watched from a stand-in API (bench/lib/listWatchApi.ts); metrics exporter on, as deployed"
            : `skipped: ${interceptorSkipped}`,
          interceptorBuild: interceptorBuildInfo() ?? null,
        },
        figures: {
          ...figures,
          activatorOverNginxThroughput: ratio,
          activatorOverNodeFloorThroughput: figures.activator.c64.rps / figures["node-floor"].c64.rps,
          activatorMinusDirectP99Ms: addedP99,
          activatorMinusDirectP99SameCoreMs: addedP99SameCore,
          activatorMinusDirectP50Ms: added("activator", "c1", "p50Ms"),
          activatorMinusDirectP50SameCoreMs: added("activator", "c1SameCore", "p50Ms"),
          nginxMinusDirectP99Ms: added("nginx", "c1", "p99Ms"),
          nginxMinusDirectP99SameCoreMs: added("nginx", "c1SameCore", "p99Ms"),
          ...peer,
        },
        tables: [
          {
            title: `Warm path, 64 connections (${rounds} × ${seconds} s per path, medians; ms)`,
            columns: ["path", "rps", "÷ nginx", "p50", "p99", "p99.9", "proxy CPU", "rps per proxy core", "other load"],
            rows: paths.map((p) => {
              const f = figures[p].c64;
              const direct = p === "direct";
              return [p, fixed(f.rps, 0), fixed(f.rps / figures.nginx.c64.rps, 2), ms(f.p50Ms), ms(f.p99Ms), ms(f.p999Ms), direct ? "-" : `${fixed(f.proxyCores * 100, 0)}%`, direct ? "-" : fixed(f.rps / f.proxyCores, 0), `≤ ${fixed(f.foreignCoresMax, 2)}`];
            }),
          },
          {
            title: `Warm path, 1 connection (${rounds} × ${seconds} s per path and layout, medians; ms; "+" = minus direct)`,
            columns: ["path", "rps", "p50", "p90", "p99", "p99.9", "+p50", "+p99", "same core: p50", "p99", "+p50", "+p99"],
            rows: paths.map((p) => {
              const [c, s] = [figures[p].c1, figures[p].c1SameCore];
              const plus = (kind: RunName, q: "p50Ms" | "p99Ms") => (p === "direct" ? "-" : ms(added(p, kind, q)));
              return [p, fixed(c.rps, 0), ms(c.p50Ms), ms(c.p90Ms), ms(c.p99Ms), ms(c.p999Ms), plus("c1", "p50Ms"), plus("c1", "p99Ms"), ms(s.p50Ms), ms(s.p99Ms), plus("c1SameCore", "p50Ms"), plus("c1SameCore", "p99Ms")];
            }),
          },
        ],
        targets: [
          { what: "activator ÷ nginx throughput at 64 connections", target: "≥ 0.8", value: ratio, unit: "", met: ratio >= 0.8 },
          { what: "activator − direct p99 at 1 connection (proxy on its own core)", target: "≤ 1 ms", value: addedP99, unit: "ms", met: addedP99 <= 1 },
          { what: "activator − direct p99 at 1 connection (one core)", target: "≤ 1 ms", value: addedP99SameCore, unit: "ms", met: addedP99SameCore <= 1 },
        ],
      };
    } finally {
      await interceptor?.stop();
      await floor?.stop();
      await act?.stop();
      await proxy?.stop();
      await backend?.stop();
    }
  },
};

/** Every path must answer the backend's body with 200 before it is measured (the activator: as a warm request). */
async function checkAnswer(name: PathName, url: string): Promise<void> {
  const res = await send(url, { headers: { host: HOST } });
  if (res.status !== 200 || res.body !== BACKEND_BODY) throw new Error(`warm-path ${name}: ${url} answered ${res.status} ${res.body.slice(0, 200)}`);
  if (name === "activator" && res.headers["x-activator-cold-start"] !== "false") {
    throw new Error(`warm-path activator: expected a warm request, got x-activator-cold-start=${res.headers["x-activator-cold-start"]}`);
  }
  if (name === "interceptor" && res.headers["x-keda-http-cold-start"] !== "false") {
    throw new Error(`warm-path interceptor: expected a warm request, got x-keda-http-cold-start=${res.headers["x-keda-http-cold-start"]}`);
  }
}
