/**
 * The pod's memory limit, applied to a bench's activator as the kubelet applies it: a memory cgroup whose limit is the
 * pod's (cgroup v2 `memory.max`, v1 `memory.limit_in_bytes`), which the process is in before Node starts.
 *
 * Why the benches need it: Node sizes V8's heap from the memory it sees, the cgroup's limit when there is one
 * (nodejs/node src/api/environment.cc, SetIsolateCreateParamsForNode: `uv_get_constrained_memory()`, else the machine's
 * memory, into `ResourceConstraints::ConfigureDefaults`). Measured with Node 26.10 (heap_size_limit for a limit):
 * 256 MiB → 262, 768 MiB → 408, 1047 MiB → 571.5, 2048 MiB → 1072, no limit on this 24 GiB machine → 4192. Run
 * without one, a bench's activator has a 4 GiB heap to fill before V8 must collect its old generation, which no pod
 * has: its peak RSS says how lazily V8 collects on this machine, not what the pod does. In the cgroup the heap is the
 * pod's, and a peak over the limit ends as in the pod: the kernel kills the process (oomKills).
 *
 * Needs root (or a delegated cgroup tree); elsewhere `podMemory` returns why not, and the bench says so in its figures.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";

export interface PodMemory {
  readonly limitBytes: number;
  /** e.g. "cgroup v2 /sys/fs/cgroup/gpu-serverless-bench-123-1, memory.max 1097859072". */
  readonly description: string;
  /** Argv prefix that starts a command inside the cgroup: the shell moves itself in, then execs the command. */
  readonly launcher: string[];
  /** The cgroup's peak memory use, bytes (v2 memory.peak, v1 memory.max_usage_in_bytes; page cache included). */
  peakBytes(): number | undefined;
  /** Processes the kernel killed for the limit. */
  oomKills(): number;
  /** Removes the cgroup once its processes have exited (a no-op while one remains). */
  remove(): void;
}

const ROOT = "/sys/fs/cgroup";
let created = 0;

const readNumber = (file: string): number | undefined => {
  try {
    const n = Number(readFileSync(file, "utf8").trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
};

/** The `key N` value of a cgroup flat-keyed file (memory.events, memory.oom_control). */
const readKey = (file: string, key: string): number => {
  try {
    return Number(new RegExp(`^${key} (\\d+)$`, "m").exec(readFileSync(file, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
};

/**
 * A memory cgroup limited to `limitBytes` (> 0), or the reason none could be made (no cgroup filesystem, no memory
 * controller, not permitted). The caller removes it after its process exited.
 */
export function podMemory(limitBytes: number): PodMemory | { unavailable: string } {
  if (!(limitBytes > 0)) throw new Error(`pod memory limit must be > 0 bytes, got ${limitBytes}`);
  const name = `gpu-serverless-bench-${process.pid}-${++created}`;
  const v2 = existsSync(path.join(ROOT, "cgroup.controllers"));
  try {
    if (v2) {
      if (!readFileSync(path.join(ROOT, "cgroup.controllers"), "utf8").split(/\s+/).includes("memory")) return { unavailable: "cgroup v2 without the memory controller" };
      const subtree = path.join(ROOT, "cgroup.subtree_control");
      if (!readFileSync(subtree, "utf8").split(/\s+/).includes("memory")) writeFileSync(subtree, "+memory");
      const dir = path.join(ROOT, name);
      mkdirSync(dir);
      writeFileSync(path.join(dir, "memory.max"), String(limitBytes));
      writeFileSync(path.join(dir, "memory.swap.max"), "0");
      return handle(dir, limitBytes, `cgroup v2 ${dir}, memory.max ${limitBytes}`, "memory.peak", () => readKey(path.join(dir, "memory.events"), "oom_kill"));
    }
    const base = path.join(ROOT, "memory");
    if (!existsSync(path.join(base, "memory.limit_in_bytes"))) return { unavailable: `no memory cgroup at ${base}` };
    const dir = path.join(base, name);
    mkdirSync(dir);
    writeFileSync(path.join(dir, "memory.limit_in_bytes"), String(limitBytes));
    // Like a pod without swap: the limit covers memory + swap where the kernel accounts swap.
    if (existsSync(path.join(dir, "memory.memsw.limit_in_bytes"))) writeFileSync(path.join(dir, "memory.memsw.limit_in_bytes"), String(limitBytes));
    return handle(dir, limitBytes, `cgroup v1 ${dir}, memory.limit_in_bytes ${limitBytes}`, "memory.max_usage_in_bytes", () => readKey(path.join(dir, "memory.oom_control"), "oom_kill"));
  } catch (err) {
    return { unavailable: `cannot make a memory cgroup: ${(err as Error).message}` };
  }
}

function handle(dir: string, limitBytes: number, description: string, peakFile: string, oomKills: () => number): PodMemory {
  let removed = false;
  const remove = () => {
    if (removed) return;
    try {
      rmdirSync(dir);
      removed = true;
    } catch {
      // processes remain (or it is gone): removed by a later call, or at exit
    }
  };
  process.once("exit", remove);
  return {
    limitBytes,
    description,
    launcher: ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', path.join(dir, "cgroup.procs")],
    peakBytes: () => readNumber(path.join(dir, peakFile)),
    oomKills,
    remove,
  };
}
