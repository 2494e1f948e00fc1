/**
 * Held bodies: bursts of large and many requests against one activator configured with the stack's default limits
 * (`gpu-serverless:activator` defaults: limits and pod memory), every model at zero. Measures the activator's RSS
 * (peak, VmHWM) against 80 % of the pod's memory limit, in a memory cgroup with that limit as in the pod
 * (bench/lib/podMemory.ts), and that every request gets an answer: held ones are
 * answered 200 once their models turn ready, refused ones get their 503 / 413; a request that gets no answer at all
 * (reset, EPIPE) is lost.
 *
 * Phases, in one process (so their memory adds up): (1) 8000 bodiless requests held on nine path-routed models;
 * (2) 2000 requests with 1 MiB bodies for one path-routed model (held with their bodies unread, up to its default
 * maxPending of 1000); (3) 400 OpenAI chat requests with 1 MiB bodies (read to route by `model`, kept while held,
 * until the body budget is spent); (4) 40 uploads of 12 MiB, over the 10 MiB body limit.
 */
import * as path from "node:path";
import { memoryBytes, activatorStackSchema } from "../components/config/models";
import { endpointSlice, FakeKubeApi } from "../testing/activator/fakeKubeApi";
import { TestBackend } from "../testing/activator/backend";
import { podMemoryFigures, startActivator } from "./lib/activator";
import { rssOf, spawnChild, type Spawned } from "./lib/processes";
import { fixed, sleep, type Bench, type BenchContext, type BenchResult } from "./lib/report";

const MiB = 1024 * 1024;
const CLIENT_SCRIPT = path.join(__dirname, "lib", "burstClient.ts");
const PATH_MODELS = 10;

interface BurstDone {
  type: "done";
  statuses: Record<string, number>;
  errors: Record<string, number>;
}

function startBurst(url: string, paths: string[], count: number, bytes: number, model: string, cpuList: string | undefined): { proc: Spawned; sent: Promise<unknown>; done: Promise<BurstDone> } {
  const proc = spawnChild(
    process.execPath,
    ["-r", require.resolve("ts-node/register/transpile-only"), CLIENT_SCRIPT, url, paths.join(","), String(count), String(bytes), model, "600000"],
    { cpuList, stdio: ["ignore", "pipe", "pipe", "ipc"] },
  );
  const message = <T>(type: string) =>
    new Promise<T>((resolve, reject) => {
      proc.child.on("message", (m: { type: string }) => m.type === type && resolve(m as T));
      void proc.exited.then((code) => reject(new Error(`burst client exited (${code}) before "${type}":\n${proc.stderr()}`)));
    });
  return { proc, sent: message("sent"), done: message<BurstDone>("done") };
}

interface Phase {
  name: string;
  requests: number;
  bytesEach: number;
  heldAfter: number;
  rssAfterMiB: number;
  peakAfterMiB: number;
  statuses?: Record<string, number>;
  lost?: number;
}

export const heldBodies: Bench = {
  name: "held-bodies",
  description: "bursts of large bodies and many held requests under the stack's default limits: RSS vs the pod limit, none lost",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const stack = activatorStackSchema.parse({});
    const podLimit = memoryBytes(stack.memory);
    const scale = ctx.smoke ? 0.05 : 1;
    const api = await FakeKubeApi.start();
    const backend = await TestBackend.create();
    await backend.start();
    const names = [...Array.from({ length: PATH_MODELS }, (_, i) => `m${i}`), "llm"];
    const slice = (name: string, ready: boolean) => endpointSlice({ namespace: "bench", service: name, name: `${name}-a`, ready: [ready], address: "127.0.0.1", port: backend.port });
    for (const name of names) api.apply(slice(name, false));
    const model = (name: string) => ({
      name,
      namespace: "bench",
      backend: backend.url,
      serviceName: name,
      readinessPath: "/health",
      coldStartTimeoutSeconds: 900,
      ...(name === "llm" ? { openaiModels: ["llm"] } : { pathPrefix: `/${name}` }),
    });
    const act = await startActivator({ readiness: { mode: "kubernetes" }, limits: { ...stack.limits }, models: names.map(model) }, ctx.cores.proxy, { kubeApi: api, podMemoryBytes: podLimit });
    const bursts: ReturnType<typeof startBurst>[] = [];
    const phases: Phase[] = [];
    try {
      await act.waitQueue((q) => Object.values(q.models).every((m) => !m.ready), "models at zero");
      const idle = rssOf(act.pid);
      const settle = async () => {
        let last = -1;
        for (;;) {
          await sleep(ctx.smoke ? 300 : 1500);
          const q = await act.queue();
          if (q.held === last) return q.held;
          last = q.held;
        }
      };
      const run = async (name: string, paths: string[], count: number, bytes: number, modelName: string) => {
        const burst = startBurst(act.proxyUrl, paths, count, bytes, modelName, ctx.cores.others);
        bursts.push(burst);
        await burst.sent;
        const heldAfter = await settle();
        const { rss, peak } = rssOf(act.pid);
        phases.push({ name, requests: count, bytesEach: bytes, heldAfter, rssAfterMiB: rss / MiB, peakAfterMiB: peak / MiB });
        ctx.log(`held-bodies: ${name}: ${heldAfter} held, RSS ${(rss / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB`);
      };
      const pathModels = Array.from({ length: PATH_MODELS - 1 }, (_, i) => `/m${i}/held`);
      // 8000 + 1000 held below leave room in maxPendingTotal for OpenAI bodies: the budget, not the count, stops those.
      await run("bodiless, held on 9 models", pathModels, Math.round(8000 * scale), 0, "-");
      await run("1 MiB bodies, path-routed (unread)", [`/m${PATH_MODELS - 1}/upload`], Math.round(2000 * scale), MiB, "-");
      await run("1 MiB OpenAI bodies (read for model)", ["/v1/chat/completions"], Math.round(400 * scale), MiB, "llm");
      await run("12 MiB uploads over the 10 MiB limit", ["/v1/chat/completions"], Math.max(4, Math.round(40 * scale)), 12 * MiB, "llm");

      for (const name of names) api.apply(slice(name, true));
      const results = await Promise.all(bursts.map((b) => b.done));
      results.forEach((r, i) => {
        phases[i]!.statuses = r.statuses;
        phases[i]!.lost = Object.values(r.errors).reduce((a, b) => a + b, 0);
        if (phases[i]!.lost) ctx.log(`held-bodies: ${phases[i]!.name}: lost ${JSON.stringify(r.errors)}`);
      });
      await act.waitQueue((q) => q.held === 0 && q.inFlight === 0, "queue empty after release", 120_000);
      const peak = rssOf(act.pid).peak;
      const problems = act.problems();
      if (Object.keys(problems).length > 0) ctx.log(`held-bodies: the activator's warnings and errors: ${JSON.stringify(problems)}`);
      const memory = podMemoryFigures(act, stack.memory);
      const lost = phases.reduce((a, p) => a + (p.lost ?? 0), 0);
      const limitMiB = podLimit / MiB;
      return {
        name: "held-bodies",
        method: {
          limits: stack.limits,
          podMemoryLimit: stack.memory,
          podMemory: memory.podMemory,
          readiness: "kubernetes (fake EndpointSlice API), 11 models at zero, released together after the last phase",
          clients: "one process per phase, one connection per request, bodies written whole before reading (Node http)",
          rss: "/proc/<activator pid>/status VmRSS after each phase settled, VmHWM (peak) over the whole run",
        },
        figures: { problems, podLimitMiB: limitMiB, rssIdleMiB: idle.rss / MiB, rssPeakMiB: peak / MiB, cgroupPeakMiB: memory.cgroupPeakMiB, peakShareOfLimit: peak / podLimit, lost, phases },
        tables: [
          {
            title: `Held bodies: stack defaults (maxPendingTotal ${stack.limits.maxPendingTotal}, maxBodyBytes ${stack.limits.maxBodyBytes / MiB} MiB, maxBufferedBodyBytes ${stack.limits.maxBufferedBodyBytes / MiB} MiB), pod memory ${stack.memory}; RSS idle ${fixed(idle.rss / MiB, 0)} MiB`,
            columns: ["phase", "requests", "held after", "RSS after MiB", "peak so far MiB", "answers", "lost"],
            rows: phases.map((p) => [p.name, p.requests, p.heldAfter, fixed(p.rssAfterMiB, 0), fixed(p.peakAfterMiB, 0), JSON.stringify(p.statuses ?? {}), p.lost ?? "?"]),
          },
        ],
        targets: [
          { what: "peak RSS ÷ pod memory limit (stack defaults)", target: "≤ 0.8", value: peak / podLimit, unit: "", met: peak / podLimit <= 0.8 },
          { what: "requests without an answer", target: "0", value: lost, unit: "", met: lost === 0 },
        ],
      };
    } finally {
      for (const b of bursts) b.proc.child.kill("SIGKILL");
      await act.stop();
      await backend.stop();
      await api.stop();
    }
  },
};
