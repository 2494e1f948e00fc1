/**
 * Other work on the machine skews every figure, and a shared CI box or workstation is rarely idle. This measures
 * it: CPU time the whole machine spent (/proc/stat user, nice, system, irq, softirq) minus what this process and its
 * descendants spent (utime + stime + cutime + cstime from /proc/<pid>/stat, so children that exited and were
 * reaped still count), in cores. The benches record it next to their figures, repeat a disturbed measurement,
 * and wait for a quiet machine before starting.
 */
import { readdirSync, readFileSync } from "node:fs";
import { sleep } from "./report";

const USER_HZ = 100;

/**
 * Busy CPU seconds of the whole machine since boot: user, nice, system, irq and softirq (a process's stime includes
 * the interrupt work done while it ran, which /proc/stat files under irq/softirq; loopback traffic is mostly that).
 */
function machineBusySeconds(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
  const [user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).slice(1, 8).map(Number);
  return (user! + nice! + system! + irq! + softirq!) / USER_HZ;
}

interface ProcStat {
  ppid: number;
  /** utime + stime + cutime + cstime, seconds. */
  cpu: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // After "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / USER_HZ };
  } catch {
    return undefined; // exited meanwhile
  }
}

/** CPU seconds of this process and every live descendant (reaped ones are in their parents' cutime/cstime). */
function ownTreeSeconds(): number {
  const stats = new Map<number, ProcStat>();
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (stat) stats.set(pid, stat);
  }
  const children = new Map<number, number[]>();
  for (const [pid, stat] of stats) {
    const list = children.get(stat.ppid);
    if (list) list.push(pid);
    else children.set(stat.ppid, [pid]);
  }
  let total = 0;
  const stack = [process.pid];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    total += stats.get(pid)?.cpu ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

/** Starts measuring; the returned function gives the average number of cores other processes used since. */
export function foreignLoad(): () => number {
  const startedAt = performance.now();
  const machine = machineBusySeconds();
  const own = ownTreeSeconds();
  return () => {
    const seconds = (performance.now() - startedAt) / 1000;
    const foreign = machineBusySeconds() - machine - (ownTreeSeconds() - own);
    return seconds > 0 ? Math.max(0, foreign / seconds) : 0;
  };
}

/** Other processes may use this many cores on average before a measurement counts as disturbed. */
export const QUIET_CORES = 0.1;

/**
 * Waits (at most maxWaitMs) for a 2-second window in which other processes use less than QUIET_CORES;
 * returns the foreign load of the last window (the bench then runs anyway and records it).
 */
export async function waitForQuiet(maxWaitMs: number, log: (m: string) => void): Promise<number> {
  const end = performance.now() + maxWaitMs;
  let said = false;
  for (;;) {
    const measure = foreignLoad();
    await sleep(2000);
    const load = measure();
    if (load < QUIET_CORES || performance.now() > end) return load;
    if (!said) {
      log(`machine busy (other processes use ${load.toFixed(2)} cores): waiting up to ${Math.round(maxWaitMs / 1000)} s for quiet`);
      said = true;
    }
  }
}
