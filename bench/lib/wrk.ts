/** wrk runs with the JSON reporting hook (wrk-report.lua), bounded in time and killed if they overrun. */
import * as path from "node:path";
import { findBinary, spawnChild } from "./processes";

export const WRK = findBinary("wrk");
const REPORT_SCRIPT = path.join(__dirname, "wrk-report.lua");

export interface WrkOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  headers?: Record<string, string>;
  cpuList: string | undefined;
}

export interface WrkResult {
  requests: number;
  durationUs: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latencyUs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
}

/** Requests per second of a wrk result. */
export const rps = (r: WrkResult): number => r.requests / (r.durationUs / 1e6);

/** Total errors of any kind (connect, read, write, timeout, non-2xx/3xx status). */
export const errorCount = (r: WrkResult): number => Object.values(r.errors).reduce((a, b) => a + b, 0);

/** One wrk run with one thread (the load generator gets one core), at most durationSeconds + 15 s. */
export async function runWrk(opts: WrkOptions): Promise<WrkResult> {
  if (!WRK) throw new Error("wrk not found: apt-get install nginx-light wrk");
  const args = ["-t", "1", "-c", String(opts.connections), "-d", `${opts.durationSeconds}s`, "--timeout", "5s", "-s", REPORT_SCRIPT];
  for (const [name, value] of Object.entries(opts.headers ?? {})) args.push("-H", `${name}: ${value}`);
  args.push(opts.url);
  const proc = spawnChild(WRK, args, { cpuList: opts.cpuList });
  const timer = setTimeout(() => void proc.stop(), (opts.durationSeconds + 15) * 1000);
  const code = await proc.exited;
  clearTimeout(timer);
  const line = /^WRK_JSON (.*)$/m.exec(proc.stdout());
  if (code !== 0 || !line) {
    throw new Error(`wrk ${args.join(" ")} failed (exit ${code}):\n${proc.stdout()}\n${proc.stderr()}`);
  }
  return JSON.parse(line[1]!) as WrkResult;
}
