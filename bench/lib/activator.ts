/**
 * The built activator as the benches run it: the tests' ActivatorProcess (child process, free ports, start log),
 * pinned to the proxy core, plus what the benches read from its admin port.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { ActivatorConfigInput } from "../../activator/src/config/schema";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { TestBackend } from "../../testing/activator/backend";
import { endpointSlice, FakeKubeApi } from "../../testing/activator/fakeKubeApi";
import { sendJson } from "../../testing/activator/http";
import { podMemory, type PodMemory } from "./podMemory";
import { pin, removeOnExit, track } from "./processes";
import { deadline, sleep } from "./report";

export interface QueueState {
  held: number;
  inFlight: number;
  models: Record<string, { held: number; inFlight: number; ready: boolean }>;
}

export interface BenchActivator {
  readonly process: ActivatorProcess;
  readonly pid: number;
  readonly proxyUrl: string;
  queue(): Promise<QueueState>;
  /** Polls /queue every 2 ms until `check` holds (at most timeoutMs). */
  waitQueue(check: (q: QueueState) => boolean, what: string, timeoutMs?: number): Promise<QueueState>;
  /** Warning and error log lines so far, counted by message (and error text): what went wrong, if anything. */
  problems(): Record<string, number>;
  /** The activator's own Prometheus text. */
  metrics(): Promise<string>;
  /** The pod memory limit it runs under (ActivatorOptions.podMemoryBytes): how, or why it could not be applied. */
  readonly podMemory: PodMemory | { unavailable: string } | undefined;
  stop(): Promise<void>;
}

export interface ActivatorOptions {
  /** Readiness mode `kubernetes` talks to this fake API server through a generated kubeconfig (KUBECONFIG). */
  kubeApi?: FakeKubeApi;
  /** How long the activator may take to listen, ms (default 15 000; large catalogs take longer on a busy machine). */
  listenTimeoutMs?: number;
  /**
   * The pod's memory limit, bytes: the activator runs in a memory cgroup with it, as in the pod, so Node sizes its heap
   * as it does there (bench/lib/podMemory.ts). Where no cgroup can be made it runs without, and `podMemory` says why.
   */
  podMemoryBytes?: number;
}

/**
 * Starts the activator with `config`, pinned to `cpuList`. ActivatorProcess spawns it with this process's
 * environment, so KUBECONFIG is set here for the moment of the spawn only.
 */
export async function startActivator(config: ActivatorConfigInput, cpuList: string | undefined, opts: ActivatorOptions = {}): Promise<BenchActivator> {
  let kubeDir: string | undefined;
  const env: Record<string, string> = {};
  if (opts.kubeApi) {
    kubeDir = removeOnExit(mkdtempSync(path.join(tmpdir(), "bench-kubeconfig-")));
    env.KUBECONFIG = path.join(kubeDir, "config");
    writeFileSync(env.KUBECONFIG, opts.kubeApi.kubeConfig().exportConfig());
  }
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  const memory = opts.podMemoryBytes === undefined ? undefined : podMemory(opts.podMemoryBytes);
  let act: ActivatorProcess;
  try {
    act = await ActivatorProcess.start(config as Record<string, unknown>, {
      ...(opts.listenTimeoutMs ? { listenTimeoutMs: opts.listenTimeoutMs } : {}),
      ...(memory && "launcher" in memory ? { launcher: memory.launcher } : {}),
    });
  } catch (err) {
    if (memory && "remove" in memory) memory.remove();
    throw err;
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  track(act.child);
  const pid = act.child.pid!;
  pin(pid, cpuList);
  const queue = async () => (await sendJson<QueueState>(`${act.adminUrl}/queue`)).json;
  return {
    process: act,
    pid,
    proxyUrl: act.proxyUrl,
    queue,
    async waitQueue(check, what, timeoutMs = 10_000) {
      const overdue = deadline(timeoutMs, `waiting for the activator: ${what}`);
      for (;;) {
        // A kept-alive admin connection the activator closed as idle resets the next poll: poll again.
        const q = await queue().catch((err: NodeJS.ErrnoException) => {
          if (err.code === "ECONNRESET") return undefined;
          throw err;
        });
        if (q && check(q)) return q;
        overdue();
        await sleep(2);
      }
    },
    problems() {
      const counts: Record<string, number> = {};
      for (const line of act.logs) {
        if (line.level < 40) continue;
        const err = line["err"];
        const detail = typeof err === "string" ? err : ((err as { message?: string } | undefined)?.message ?? "");
        const key = detail ? `${line.msg}: ${detail.replace(/\d+/g, "N")}` : line.msg;
        counts[key] = (counts[key] ?? 0) + 1;
      }
      return counts;
    },
    async metrics() {
      const res = await fetch(`${act.adminUrl}/metrics`);
      return res.text();
    },
    podMemory: memory,
    async stop() {
      await act.stop();
      if (memory && "remove" in memory) memory.remove();
      if (kubeDir) rmSync(kubeDir, { recursive: true, force: true });
    },
  };
}

/**
 * How the pod's memory limit applied to `act` (ActivatorOptions.podMemoryBytes), for a bench's figures: the cgroup, or
 * why there was none, and the cgroup's own peak (MiB; NaN without one). Throws when the kernel killed the activator for
 * the limit (`limit` names it), as the pod would be.
 */
export function podMemoryFigures(act: BenchActivator, limit: string): { podMemory: string; cgroupPeakMiB: number } {
  const memory = act.podMemory;
  if (!memory) return { podMemory: "not asked", cgroupPeakMiB: NaN };
  if ("unavailable" in memory) return { podMemory: `not applied: ${memory.unavailable}`, cgroupPeakMiB: NaN };
  if (memory.oomKills() > 0) throw new Error(`the activator was killed for the pod's memory limit (${limit})`);
  return { podMemory: memory.description, cgroupPeakMiB: (memory.peakBytes() ?? NaN) / (1024 * 1024) };
}

type ModelInput = ActivatorConfigInput["models"][number];

/** One model at zero behind the fake EndpointSlice API, in kubernetes readiness mode, with its backend listening. */
export interface ColdModel {
  readonly act: BenchActivator;
  readonly api: FakeKubeApi;
  readonly backend: TestBackend;
  /** Marks the model's EndpointSlice ready or not: the activator's only readiness signal in this mode. */
  setReady(ready: boolean): void;
  stop(): Promise<void>;
}

/**
 * Starts the fake API (slice not ready), a listening backend and the activator routing `host` to model
 * `bench/<name>`; `model` and `limits` add to the model's and the activator's settings.
 */
export async function startColdModel(
  name: string,
  host: string,
  cpuList: string | undefined,
  extra: { model?: Partial<ModelInput>; limits?: ActivatorConfigInput["limits"] } = {},
): Promise<ColdModel> {
  let api: FakeKubeApi | undefined;
  let backend: TestBackend | undefined;
  let act: BenchActivator | undefined;
  const stop = async () => {
    await act?.stop();
    await backend?.stop();
    await api?.stop();
  };
  try {
    api = await FakeKubeApi.start();
    backend = await TestBackend.create();
    await backend.start();
    const slice = (ready: boolean) => endpointSlice({ namespace: "bench", service: name, name: `${name}-a`, ready: [ready], address: "127.0.0.1", port: backend!.port });
    api.apply(slice(false));
    const model = { name, namespace: "bench", backend: backend.url, serviceName: name, readinessPath: "/health", hosts: [host], ...extra.model };
    act = await startActivator(
      { readiness: { mode: "kubernetes" }, ...(extra.limits ? { limits: extra.limits } : {}), models: [model] },
      cpuList,
      { kubeApi: api },
    );
    const fakeApi = api;
    return { act, api, backend, setReady: (ready) => fakeApi.apply(slice(ready)), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
