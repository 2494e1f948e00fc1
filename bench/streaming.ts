/**
 * Streaming: an SSE backend emitting one event every 10 ms, read directly, through nginx (`proxy_buffering off`)
 * and through the activator. Each event carries the instant it was written; backend and client run in this
 * process, so receipt − emission is exact on one clock. The activator's cost is its per-event latency minus the
 * direct one (p50/p99); every event of every stream must arrive, in order. Each proxy is measured on its own core
 * and, to separate its processing from cross-core wake-ups, moved onto the backend's core.
 */
import http from "node:http";
import { freePort, TestBackend } from "../testing/activator/backend";
import { startActivator, type BenchActivator } from "./lib/activator";
import { startNginx, type Nginx } from "./lib/nginx";
import { childPids, pin } from "./lib/processes";
import { deadline, fixed, summarize, type Bench, type BenchContext, type BenchResult, type Summary } from "./lib/report";

const HOST = "sse.bench";
const INTERVAL_MS = 10;
/** Each proxy twice: on its own core (every event crosses cores twice), and moved onto the backend's core. */
const PATHS = ["direct", "nginx", "activator", "nginx, one core", "activator, one core"] as const;
type PathName = (typeof PATHS)[number];

interface StreamOutcome {
  /** receipt − emission per event, ms. */
  latencies: number[];
  /** Events missing or out of order, plus a missing [DONE]. */
  lost: number;
}

/** Reads one SSE stream, timing every `data:` event by the emission instant it carries. */
function readStream(url: string, agent: http.Agent, chunks: number, timeoutMs: number): Promise<StreamOutcome> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    let expected = 0;
    let lost = 0;
    let done = false;
    let pending = "";
    const req = http.get(url, { agent, headers: { host: HOST, accept: "text/event-stream" } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`${url}: HTTP ${res.statusCode}`));
        return;
      }
      res.setEncoding("utf8");
      res.on("data", (data: string) => {
        const now = performance.now();
        pending += data;
        let end: number;
        while ((end = pending.indexOf("\n\n")) >= 0) {
          const event = pending.slice(0, end);
          pending = pending.slice(end + 2);
          if (!event.startsWith("data: ")) continue;
          const payload = event.slice(6);
          if (payload === "[DONE]") {
            done = true;
            continue;
          }
          const { index, t } = JSON.parse(payload) as { index: number; t: number };
          if (index !== expected) lost++;
          expected = index + 1;
          latencies.push(now - (t - performance.timeOrigin));
        }
      });
      res.on("end", () => {
        clearTimeout(timer);
        resolve({ latencies, lost: lost + (chunks - latencies.length) + (done ? 0 : 1) });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    const timer = setTimeout(() => req.destroy(new Error(`${url}: stream not finished within ${timeoutMs} ms`)), timeoutMs);
  });
}

export const streaming: Bench = {
  name: "streaming",
  repeatWhenDisturbed: true,
  description: "SSE event every 10 ms: per-event latency direct vs nginx vs activator",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const streams = ctx.smoke ? 4 : 16;
    const chunks = ctx.smoke ? 20 : 500;
    const rounds = ctx.smoke ? 1 : 2;
    let backend: TestBackend | undefined;
    let proxy: Nginx | undefined;
    let act: BenchActivator | undefined;
    const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
    try {
      backend = await TestBackend.create();
      await backend.start();
      proxy = await startNginx(await freePort(), { role: "proxy", upstreamPort: backend.port }, ctx.cores.proxy);
      act = await startActivator(
        { readiness: { mode: "probe" }, models: [{ name: "sse", namespace: "bench", backend: backend.url, readinessPath: "/health", hosts: [HOST] }] },
        ctx.cores.proxy,
      );
      await act.waitQueue((q) => q.models["bench/sse"]?.ready === true, "model bench/sse ready");
      const nginxMaster = proxy.process.child.pid!;
      const nginxPids = [nginxMaster, ...childPids(nginxMaster)];
      const base: Record<PathName, string> = {
        direct: backend.url,
        nginx: `http://127.0.0.1:${proxy.port}`,
        activator: act.proxyUrl,
        "nginx, one core": `http://127.0.0.1:${proxy.port}`,
        "activator, one core": act.proxyUrl,
      };
      const moved: Partial<Record<PathName, number[]>> = { "nginx, one core": nginxPids, "activator, one core": [act.pid] };
      const streamMs = chunks * INTERVAL_MS;
      const overdue = deadline((rounds * PATHS.length + 1) * (streamMs + 10_000), "streaming");

      // Warm-up: a short stream on every path (connections, JIT).
      for (const name of PATHS) await readStream(`${base[name]}/sse?chunks=20&interval=${INTERVAL_MS}`, agent, 20, 10_000);

      const latencies = Object.fromEntries(PATHS.map((p) => [p, [] as number[]])) as Record<PathName, number[]>;
      const lost = Object.fromEntries(PATHS.map((p) => [p, 0])) as Record<PathName, number>;
      for (let round = 0; round < rounds; round++) {
        for (let k = 0; k < PATHS.length; k++) {
          overdue();
          const name = PATHS[(k + round) % PATHS.length]!;
          const url = `${base[name]}/sse?chunks=${chunks}&interval=${INTERVAL_MS}`;
          const pids = moved[name] ?? [];
          for (const pid of pids) pin(pid, ctx.cores.others);
          let outcomes: StreamOutcome[];
          try {
            outcomes = await Promise.all(Array.from({ length: streams }, () => readStream(url, agent, chunks, streamMs + 10_000)));
          } finally {
            for (const pid of pids) pin(pid, ctx.cores.proxy);
          }
          for (const o of outcomes) {
            latencies[name].push(...o.latencies);
            lost[name] += o.lost;
          }
          ctx.log(`streaming: round ${round + 1}/${rounds} ${name}: ${streams} streams × ${chunks} events`);
        }
      }
      const stats = Object.fromEntries(PATHS.map((p) => [p, summarize(latencies[p])])) as Record<PathName, Summary>;
      const addedP99 = stats.activator.p99 - stats.direct.p99;
      const addedP50 = stats.activator.p50 - stats.direct.p50;
      const addedP99OneCore = stats["activator, one core"].p99 - stats.direct.p99;
      return {
        name: "streaming",
        method: {
          backend: "testing/activator/backend.ts SSE (node:http) in the bench process, one event every 10 ms",
          client: "node:http in the bench process (same clock as the backend); latency = receipt − emission per event",
          streams,
          eventsPerStream: chunks,
          rounds,
          nginx: "proxy_pass with keep-alive upstream, proxy_buffering off",
          layouts: "each proxy alone on core 1, and (\"one core\") moved onto core 0 with the backend and clients",
        },
        figures: {
          ...Object.fromEntries(PATHS.map((p) => [p, { ...stats[p], lost: lost[p] }])),
          activatorAddedP50Ms: addedP50,
          activatorAddedP99Ms: addedP99,
          activatorAddedP99OneCoreMs: addedP99OneCore,
          nginxAddedP99Ms: stats.nginx.p99 - stats.direct.p99,
          nginxAddedP99OneCoreMs: stats["nginx, one core"].p99 - stats.direct.p99,
        },
        tables: [
          {
            title: `Streaming: per-event latency, emission → receipt (${streams} streams × ${chunks} events × ${rounds} rounds per path; ms)`,
            columns: ["path", "events", "lost", "p50", "p99", "p99.9", "max", "added p50", "added p99"],
            rows: PATHS.map((p) => [
              p,
              stats[p].count,
              lost[p],
              fixed(stats[p].p50, 3),
              fixed(stats[p].p99, 3),
              fixed(stats[p].p999, 3),
              fixed(stats[p].max, 3),
              p === "direct" ? "-" : fixed(stats[p].p50 - stats.direct.p50, 3),
              p === "direct" ? "-" : fixed(stats[p].p99 - stats.direct.p99, 3),
            ]),
          },
        ],
        targets: [
          { what: "activator − direct per-event latency p99 (activator on its own core)", target: "≤ 1 ms", value: addedP99, unit: "ms", met: addedP99 <= 1 },
          { what: "activator − direct per-event latency p99 (one core)", target: "≤ 1 ms", value: addedP99OneCore, unit: "ms", met: addedP99OneCore <= 1 },
          { what: "events lost through the activator", target: "0", value: lost.activator, unit: "", met: lost.activator === 0 },
        ],
      };
    } finally {
      agent.destroy();
      await act?.stop();
      await proxy?.stop();
      await backend?.stop();
    }
  },
};
