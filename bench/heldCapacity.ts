/**
 * Held capacity: 10 000 requests held for one cold model in one activator process, its RSS while they are held,
 * then all released (the fake API turns the model's EndpointSlice ready) and all answered correctly: 0 lost.
 *
 * Clients are separate processes (each request on its own connection; spread so no process nears its
 * file-descriptor limit); the backend (tests' TestBackend, JSON echo) and the fake API run in this process.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { startColdModel } from "./lib/activator";
import { rssOf, spawnChild, type Spawned } from "./lib/processes";
import { fixed, sleep, type Bench, type BenchContext, type BenchResult } from "./lib/report";

const HOST = "held.bench";
const MiB = 1024 * 1024;
const CLIENT_SCRIPT = path.join(__dirname, "lib", "holdClient.ts");

interface ClientDone {
  type: "done";
  ok: number;
  failures: Record<string, number>;
  lastEndEpochMs: number;
}

/** The open-files limit of this process (children inherit it). */
function openFilesLimit(): number {
  const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"));
  return line?.[1] === "unlimited" || !line ? Infinity : Number(line[1]);
}

function startClient(url: string, count: number, id: number, cpuList: string | undefined): { proc: Spawned; sent: Promise<number>; done: Promise<ClientDone> } {
  const proc = spawnChild(process.execPath, ["-r", require.resolve("ts-node/register/transpile-only"), CLIENT_SCRIPT, url, HOST, String(count), String(id), "180000"], {
    cpuList,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  const message = <T>(type: string) =>
    new Promise<T>((resolve, reject) => {
      proc.child.on("message", (m: { type: string }) => m.type === type && resolve(m as T));
      void proc.exited.then((code) => reject(new Error(`hold client ${id} exited (${code}) before "${type}":\n${proc.stderr()}`)));
    });
  return { proc, sent: message<{ count: number }>("sent").then((m) => m.count), done: message<ClientDone>("done") };
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms / 1000} s`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface HoldOutcome {
  variant: string;
  requests: number;
  heldMax: number;
  answered: number;
  lost: number;
  failures: Record<string, number>;
  activatorProblems: Record<string, number>;
  rssIdleMiB: number;
  rssHeldMiB: number;
  rssPeakMiB: number;
  bytesPerHeldRequest: number;
  secondsToHoldAll: number;
  secondsReleaseToLastAnswer: number;
  queueAfter: { held: number; inFlight: number };
}

/** One activator process: `total` requests held, RSS sampled, the model turned ready, every answer checked. */
async function holdAndRelease(ctx: BenchContext, variant: string, total: number, clientCount: number, maxConcurrencyPerReplica?: number): Promise<HoldOutcome> {
  const cold = await startColdModel("held", HOST, ctx.cores.proxy, {
    limits: { maxPendingTotal: total },
    model: { maxPending: total, coldStartTimeoutSeconds: 170, ...(maxConcurrencyPerReplica ? { maxConcurrencyPerReplica } : {}) },
  });
  const { act } = cold;
  try {
    await act.waitQueue((q) => q.models["bench/held"]?.ready === false, "model at zero");
    const idle = rssOf(act.pid);

    const started = performance.now();
    const clients = Array.from({ length: clientCount }, (_, id) => {
      const share = Math.floor(total / clientCount) + (id < total % clientCount ? 1 : 0);
      return startClient(act.proxyUrl, share, id, ctx.cores.others);
    });
    const done = Promise.all(clients.map((c) => c.done));
    done.catch(() => undefined); // awaited below; a client that dies early must not be an unhandled rejection
    await withTimeout(Promise.all(clients.map((c) => c.sent)), 120_000, `held-capacity: sending ${total} requests`);
    const heldQueue = await act.waitQueue((q) => q.held === total, `${total} requests held`, 60_000);
    const holdSeconds = (performance.now() - started) / 1000;
    await sleep(ctx.smoke ? 200 : 2000);
    const held = rssOf(act.pid);
    ctx.log(`held-capacity (${variant}): ${heldQueue.held} held, RSS ${(held.rss / MiB).toFixed(1)} MiB`);

    const releasedAt = performance.now();
    cold.setReady(true);
    const results = await withTimeout(done, 180_000, `held-capacity: answering ${total} requests`);
    const lastEnd = Math.max(...results.map((r) => r.lastEndEpochMs)) - performance.timeOrigin;
    const after = await act.waitQueue((q) => q.held === 0 && q.inFlight === 0, "queue empty after release");
    const peak = rssOf(act.pid).peak;

    const answered = results.reduce((a, r) => a + r.ok, 0);
    const failures: Record<string, number> = {};
    for (const r of results) for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v;
    return {
      variant,
      requests: total,
      heldMax: heldQueue.held,
      answered,
      lost: total - answered,
      failures,
      activatorProblems: act.problems(),
      rssIdleMiB: idle.rss / MiB,
      rssHeldMiB: held.rss / MiB,
      rssPeakMiB: peak / MiB,
      bytesPerHeldRequest: (held.rss - idle.rss) / total,
      secondsToHoldAll: holdSeconds,
      secondsReleaseToLastAnswer: (lastEnd - releasedAt) / 1000,
      queueAfter: { held: after.held, inFlight: after.inFlight },
    };
  } finally {
    await cold.stop();
  }
}

/** Release metering used by the second, full-run-only variant (the knob for backends that cannot take a burst). */
const METERED_CONCURRENCY = 256;

export const heldCapacity: Bench = {
  name: "held-capacity",
  description: "10 000 requests held for one cold model: RSS while held, all released and answered",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const total = ctx.smoke ? 500 : 10_000;
    const clientCount = ctx.smoke ? 1 : 4;
    const limit = openFilesLimit();
    // The activator holds one client socket per request; after release it also opens backend connections.
    if (limit < total + 1000) throw new Error(`held-capacity needs ulimit -n ≥ ${total + 1000} (is ${limit})`);
    const outcomes = [await holdAndRelease(ctx, "all at once (default config)", total, clientCount)];
    if (!ctx.smoke) {
      outcomes.push(await holdAndRelease(ctx, `maxConcurrencyPerReplica ${METERED_CONCURRENCY}`, total, clientCount, METERED_CONCURRENCY));
    }
    const main = outcomes[0]!;
    return {
      name: "held-capacity",
      method: {
        readiness: "kubernetes (fake EndpointSlice API): held while no ready endpoint, released when the slice turns ready",
        requests: total,
        clientProcesses: clientCount,
        connections: "one per request (all held at once)",
        backend: "testing/activator/backend.ts JSON echo in the bench process; a request counts only with 200 and its own URL echoed",
        openFilesLimit: limit,
        rss: "/proc/<activator pid>/status VmRSS (held: after the last request was held and a settle pause) and VmHWM (peak, release included)",
      },
      figures: { ...main, variants: outcomes },
      tables: [
        {
          title: `Held capacity: ${total} requests held for one cold model, one activator process`,
          columns: ["release", "held", "answered", "lost", "RSS idle MiB", "RSS held MiB", "RSS peak MiB", "KiB/held req", "hold all s", "release→last answer s"],
          rows: outcomes.map((o) => [
            o.variant,
            o.heldMax,
            o.answered,
            o.lost,
            fixed(o.rssIdleMiB, 1),
            fixed(o.rssHeldMiB, 1),
            fixed(o.rssPeakMiB, 1),
            fixed(o.bytesPerHeldRequest / 1024, 2),
            fixed(o.secondsToHoldAll, 2),
            fixed(o.secondsReleaseToLastAnswer, 2),
          ]),
        },
      ],
      targets: [
        { what: "RSS while holding (default config)", target: "≤ 256 MiB", value: main.rssHeldMiB, unit: "MiB", met: main.rssHeldMiB <= 256 },
        { what: "requests lost (default config)", target: "0", value: main.lost, unit: "", met: main.lost === 0 },
      ],
    };
  },
};
