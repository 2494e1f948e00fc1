/**
 * Cold-path overhead: a request held for a model at zero, the backend becoming ready at a known instant T, and
 * the first byte of the response at the client; overhead = first byte − T. Backend, fake API and client run in
 * this process, so T and the first byte are on one clock.
 *
 * - `kubernetes` (the production mode): the backend listens throughout; the fake API flips the Service's
 *   EndpointSlice to ready at T (the watch event is the only readiness signal). The slice is set back to not
 *   ready, and the activator seen not ready, before each cold start.
 * - `probe` (local runs): the backend is stopped, a request is held, and the backend starts listening at T after
 *   a short cold start (COLD_MS); the activator probes every 10 ms in the first 500 ms of a cold start, so this
 *   measures the probe interval more than anything else.
 */
import http from "node:http";
import { TestBackend } from "../testing/activator/backend";
import { send, type HttpResult } from "../testing/activator/http";
import { startActivator, startColdModel, type BenchActivator } from "./lib/activator";
import { deadline, fixed, sleep, summarize, type Bench, type BenchContext, type BenchResult, type Summary } from "./lib/report";

const HOST = "cold.bench";
const COLD_MS = 100;

function expectCold(res: HttpResult, what: string): void {
  if (res.status !== 200 || res.headers["x-activator-cold-start"] !== "true") {
    throw new Error(`${what}: expected 200 after a cold start, got ${res.status} cold-start=${res.headers["x-activator-cold-start"]} ${res.body.slice(0, 200)}`);
  }
}

async function kubernetesMode(ctx: BenchContext, count: number, agent: http.Agent): Promise<number[]> {
  const cold = await startColdModel("cold", HOST, ctx.cores.proxy);
  const { act } = cold;
  try {
    const overheads: number[] = [];
    const overdue = deadline(30_000 + count * 200, "cold-path kubernetes");
    for (let i = 0; i < count; i++) {
      overdue();
      cold.setReady(false);
      await act.waitQueue((q) => q.models["bench/cold"]?.ready === false, "model seen not ready");
      const answered = send(`${act.proxyUrl}/cold/${i}`, { headers: { host: HOST }, agent });
      await act.waitQueue((q) => q.held === 1, "request held");
      await sleep(Math.random() * 5);
      const readyAt = performance.now();
      cold.setReady(true);
      const res = await answered;
      expectCold(res, `cold-path kubernetes #${i}`);
      overheads.push(res.firstByteAt - readyAt);
    }
    return overheads;
  } finally {
    await cold.stop();
  }
}

async function probeMode(ctx: BenchContext, count: number, agent: http.Agent): Promise<number[]> {
  let backend: TestBackend | undefined;
  let act: BenchActivator | undefined;
  try {
    backend = await TestBackend.create();
    await backend.start();
    act = await startActivator(
      { readiness: { mode: "probe" }, models: [{ name: "cold", namespace: "bench", backend: backend.url, readinessPath: "/health", hosts: [HOST] }] },
      ctx.cores.proxy,
    );
    await act.waitQueue((q) => q.models["bench/cold"]?.ready === true, "model ready");
    const overheads: number[] = [];
    const overdue = deadline(30_000 + count * (COLD_MS + 300), "cold-path probe");
    for (let i = 0; i < count; i++) {
      overdue();
      await backend.stop();
      const answered = send(`${act.proxyUrl}/cold/${i}`, { headers: { host: HOST }, agent });
      // Held either because a probe saw the backend gone, or because its connection was refused (retried once).
      await act.waitQueue((q) => q.held === 1, "request held");
      await sleep(COLD_MS);
      await backend.start();
      const res = await answered;
      expectCold(res, `cold-path probe #${i}`);
      overheads.push(res.firstByteAt - backend.listeningAt!);
    }
    return overheads;
  } finally {
    await act?.stop();
    await backend?.stop();
  }
}

export const coldPath: Bench = {
  name: "cold-path",
  repeatWhenDisturbed: true,
  description: "backend ready at a known instant → first byte at the client",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const kubeCount = ctx.smoke ? 10 : 300;
    const probeCount = ctx.smoke ? 5 : 100;
    const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
    try {
      const kube = summarize(await kubernetesMode(ctx, kubeCount, agent));
      ctx.log(`cold-path: kubernetes mode p99 ${kube.p99.toFixed(2)} ms`);
      const probe = summarize(await probeMode(ctx, probeCount, agent));
      const row = (mode: string, s: Summary) => [mode, s.count, fixed(s.p50), fixed(s.p99), fixed(s.max), fixed(s.mean)];
      return {
        name: "cold-path",
        method: {
          kubernetes: "fake EndpointSlice API flips the Service's slice to ready at T; backend already listening",
          probe: `backend stopped, request held, backend starts listening at T after ${COLD_MS} ms; probe every 10 ms early in a cold start`,
          measured: "first response byte at the client − T, one held request per cold start, all in the bench process",
        },
        figures: { kubernetes: kube, probe },
        tables: [
          {
            title: "Cold-path overhead: backend ready (T) → first byte at the client (ms)",
            columns: ["readiness mode", "cold starts", "p50", "p99", "max", "mean"],
            rows: [row("kubernetes (EndpointSlice watch)", kube), row(`probe (${COLD_MS} ms cold start)`, probe)],
          },
        ],
        targets: [{ what: "cold-path overhead p99, kubernetes mode", target: "≤ 50 ms", value: kube.p99, unit: "ms", met: kube.p99 <= 50 }],
      };
    } finally {
      agent.destroy();
    }
  },
};
