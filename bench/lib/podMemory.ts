/**
 * The pod's memory limit, applied to a bench's activator as the kubelet applies it: a memory cgroup whose limit is the
 * pod's (cgroup v2 `memory.max`, v1 `memory.limit_in_bytes`), which the process is in before Node starts.
 *
 * Why the benches need it: Node sizes V8's heap from the memory it sees, the cgroup's limit when there is one
 * (nodejs/node src/api/environment.cc, SetIsolateCreateParamsForNode: `uv_get_constrained_memory()`, else the machine's
 * memory, into `ResourceConstraints::ConfigureDefaults`). Measured with Node 26.10 (heap_size_limit for a limit):
 * 256 MiB → 262, 768 MiB → 408, 1047 MiB → 571.5, 2048 MiB → 1072, no limit on this 24 GiB machine → 4192. Run
 * without one, a bench's activator gets a 4 GiB heap no pod has, and V8, with that much room, collects its old
 * generation later: its peak RSS says how lazily V8 collects on this machine, not what the pod does. In the cgroup the heap is the
 * pod's, and a peak over the limit ends as in the pod: the kernel kills the process (oomKills).
 *
 * The cgroup is made at the root of the memory hierarchy (v2 `/sys/fs/cgroup`, v1 `/sys/fs/cgroup/memory`), which needs
 * root and a writable cgroup filesystem (inside a cgroup v2 container whose root cgroup holds processes, the memory
 * controller cannot be enabled for children); elsewhere `podMemory` returns why not, and the bench says so.
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
  let made: string | undefined;
  try {
    if (v2) {
      if (!readFileSync(path.join(ROOT, "cgroup.controllers"), "utf8").split(/\s+/).includes("memory")) return { unavailable: "cgroup v2 without the memory controller" };
      const subtree = path.join(ROOT, "cgroup.subtree_control");
      if (!readFileSync(subtree, "utf8").split(/\s+/).includes("memory")) writeFileSync(subtree, "+memory");
      const dir = path.join(ROOT, name);
      made = dir;
      mkdirSync(dir);
      writeFileSync(path.join(dir, "memory.max"), String(limitBytes));
      if (existsSync(path.join(dir, "memory.swap.max"))) writeFileSync(path.join(dir, "memory.swap.max"), "0"); // like a pod without swap
      return handle(dir, limitBytes, `cgroup v2 ${dir}, memory.max ${limitBytes}`, "memory.peak", () => readKey(path.join(dir, "memory.events"), "oom_kill"));
    }
    const base = path.join(ROOT, "memory");
    if (!existsSync(path.join(base, "memory.limit_in_bytes"))) return { unavailable: `no memory cgroup at ${base}` };
    const dir = path.join(base, name);
    made = dir;
    mkdirSync(dir);
    writeFileSync(path.join(dir, "memory.limit_in_bytes"), String(limitBytes));
    // Like a pod without swap: the limit covers memory + swap where the kernel accounts swap.
    if (existsSync(path.join(dir, "memory.memsw.limit_in_bytes"))) writeFileSync(path.join(dir, "memory.memsw.limit_in_bytes"), String(limitBytes));
    return handle(dir, limitBytes, `cgroup v1 ${dir}, memory.limit_in_bytes ${limitBytes}`, "memory.max_usage_in_bytes", () => readKey(path.join(dir, "memory.oom_control"), "oom_kill"));
  } catch (err) {
    if (made && existsSync(made)) rmdirSync(made);
    return { unavailable: `cannot make a memory cgroup: ${(err as Error).message}` };
  }
}

/** Pids in a cgroup (cgroup.procs). */
const procsOf = (dir: string): number[] => {
  try {
    return readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

function handle(dir: string, limitBytes: number, description: string, peakFile: string, oomKills: () => number): PodMemory {
  let removed = false;
  const remove = () => {
    if (removed || !existsSync(dir)) return void (removed = true);
    try {
      rmdirSync(dir);
      removed = true;
    } catch {
      // processes remain: removed by a later call, or at exit
    }
  };
  // At exit (a bench that failed or was interrupted): kill what is left in the cgroup, then remove it once the kernel
  // has taken the processes out (rmdir fails with EBUSY until then).
  process.once("exit", () => {
    for (const pid of procsOf(dir)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    const until = Date.now() + 1000;
    while (!removed && Date.now() < until) {
      remove();
      if (!removed) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
    if (!removed) process.stderr.write(`bench: could not remove the memory cgroup ${dir}: its processes did not exit\n`);
  });
  return {
    limitBytes,
    description,
    launcher: ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', path.join(dir, "cgroup.procs")],
    peakBytes: () => readNumber(path.join(dir, peakFile)),
    oomKills,
    remove,
  };
}
