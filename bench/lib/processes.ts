/**
 * Child processes of a bench run, and how the machine's cores are shared between them.
 *
 * Every child is registered here and killed when its bench ends (`stopAll`), when the run fails, and, as a last
 * resort, when the bench process itself exits (a synchronous SIGKILL from the `exit` handler), so no nginx, wrk,
 * activator or client is ever left running. Children spawned here lead their own process group, and are killed
 * as a group: nginx's worker would otherwise outlive a killed master.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { cpus } from "node:os";
import * as path from "node:path";

/**
 * Where each role runs, among the CPUs this process may use. With 2: the proxy under test (nginx worker or activator)
 * alone on the second; load generator, backend and the bench process itself share the first. With more, the proxy
 * still gets the second and the others share the rest. With one CPU or no `taskset`, nothing is pinned.
 */
export interface CoreLayout {
  /** taskset CPU list for the proxy under test, or undefined when not pinned. */
  proxy: string | undefined;
  /** taskset CPU list for everything else (load generator, backend, clients, this process). */
  others: string | undefined;
  /** Human description for the reports. */
  description: string;
}

const TASKSET = findBinary("taskset");

export function coreLayout(): CoreLayout {
  const allowed = allowedCpus();
  if (allowed.length < 2 || !TASKSET) {
    return { proxy: undefined, others: undefined, description: `${allowed.length} core(s) allowed, nothing pinned${TASKSET ? "" : " (no taskset)"}` };
  }
  const proxy = String(allowed[1]);
  const others = allowed.filter((_, i) => i !== 1).join(",");
  return {
    proxy,
    others,
    description: `${allowed.length} cores: proxy under test (nginx worker or activator) pinned to core ${proxy}; load generator, backend, clients and the bench driver pinned to core(s) ${others}`,
  };
}

/** CPUs this process may run on (its cpuset, e.g. in a container), from /proc/self/status; else all of them. */
function allowedCpus(): number[] {
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
  if (!list) return cpus().map((_, i) => i);
  return list.split(",").flatMap((range) => {
    const [from, to = from] = range.split("-").map(Number);
    return Array.from({ length: to! - from! + 1 }, (_, i) => from! + i);
  });
}

/** Pins every thread of a running process (`taskset -a -p`); a no-op without a CPU list. */
export function pin(pid: number, cpuList: string | undefined): void {
  if (!cpuList || !TASKSET) return;
  execFileSync(TASKSET, ["-a", "-p", "-c", cpuList, String(pid)], { stdio: "ignore" });
}

/** Absolute path of an executable on PATH or in the sbin directories (nginx lives in /usr/sbin). */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
process.on("exit", () => {
  killAllNow();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A temp dir to remove when the bench process exits, however it exits (benches also remove theirs when done). */
export function removeOnExit(dir: string): string {
  tempDirs.add(dir);
  return dir;
}

/** SIGKILL to a child's process group when it leads one (spawned here), else to the child alone. */
function kill(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (groupLeaders.has(child)) process.kill(-child.pid!, signal);
    else child.kill(signal);
  } catch {
    // already gone
  }
}

const groupLeaders = new WeakSet<ChildProcess>();

function killAllNow(): void {
  for (const child of live) kill(child, "SIGKILL");
}

/** Registers a child spawned elsewhere (the activator's ActivatorProcess) so stopAll and exit kill it too. */
export function track(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  live.add(child);
  child.once("exit", () => live.delete(child));
}

/** For the bench entry point: on SIGINT/SIGTERM, kill every child and exit (Node skips `exit` handlers on signals). */
export function stopChildrenOnSignals(): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      killAllNow();
      process.exit(signal === "SIGINT" ? 130 : 143);
    });
  }
}

export interface Spawned {
  readonly child: ChildProcess;
  /** stdout and stderr as received so far (bounded to the last 64 KiB each). */
  stdout(): string;
  stderr(): string;
  /** Exit code, or the signal name. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after graceMs if still running; resolves once exited. */
  stop(graceMs?: number): Promise<void>;
}

const KEEP_OUTPUT = 64 * 1024;

/** Spawns a registered child, pinned to `cpuList` through taskset when given. */
export function spawnChild(command: string, args: string[], opts: SpawnOptions & { cpuList?: string | undefined } = {}): Spawned {
  const { cpuList, ...spawnOptions } = opts;
  const [file, argv] = cpuList && TASKSET ? [TASKSET, ["-c", cpuList, command, ...args]] : [command, args];
  const child = spawn(file, argv, { stdio: ["ignore", "pipe", "pipe"], detached: true, ...spawnOptions });
  live.add(child);
  groupLeaders.add(child);
  let out = "";
  let err = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => (out = (out + d).slice(-KEEP_OUTPUT)));
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (err = (err + d).slice(-KEEP_OUTPUT)));
  const exited = new Promise<number | string>((resolve) => {
    child.once("error", (e) => {
      err += `\nspawn failed: ${e.message}`;
      live.delete(child);
      resolve("spawn-error");
    });
    child.once("exit", (code, signal) => {
      live.delete(child);
      resolve(code ?? signal ?? "unknown");
    });
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop(graceMs = 2000) {
      if (child.exitCode !== null || child.signalCode !== null || !live.has(child)) return;
      child.kill("SIGTERM"); // the leader only: nginx's master stops its worker itself
      const timer = setTimeout(() => kill(child, "SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
      kill(child, "SIGKILL"); // anything the leader left behind in its group
    },
  };
}

/** Kills every child still registered (end of a bench, failure). */
export async function stopAll(): Promise<void> {
  const children = [...live];
  for (const child of children) kill(child, "SIGKILL");
  await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once("exit", r)))));
}

/** Resident set size of a process in bytes (Linux /proc), current and peak (VmHWM). */
export function rssOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (USER_HZ = 100 on Linux). */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after "(comm)" start at field 3 (state); utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Child process ids of a process (nginx master → its worker). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
