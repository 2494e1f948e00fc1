/** What every bench receives and returns, the printed table, the JSON result file and the shared statistics. */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { percentile } from "../../testing/activator/http";
import type { CoreLayout } from "./processes";

export interface BenchContext {
  /** Brief runs (a few seconds each) that prove the bench works; not for figures. */
  smoke: boolean;
  cores: CoreLayout;
  /** Log a progress line (stderr, so tables stay readable on stdout). */
  log(message: string): void;
}

export type Cell = string | number;

export interface Table {
  title: string;
  columns: string[];
  rows: Cell[][];
}

export interface Target {
  /** What is measured, e.g. "activator ÷ nginx throughput (64 connections)". */
  what: string;
  /** The target in words, e.g. "≥ 0.8". */
  target: string;
  value: number;
  unit: string;
  met: boolean;
}

export interface BenchResult {
  /** File name under bench/results: `<name>.json`. */
  name: string;
  tables: Table[];
  targets: Target[];
  /** How the figures were obtained (readiness mode, backend, counts, ...), for the report. */
  method: Record<string, unknown>;
  /** Every figure, machine-readable (what the smoke test checks). */
  figures: Record<string, unknown>;
}

export interface Bench {
  name: string;
  description: string;
  /** A short latency bench: a full run repeats it when other processes disturbed it (warm-path retries per run itself). */
  repeatWhenDisturbed?: boolean;
  run(ctx: BenchContext): Promise<BenchResult>;
}

/** Latency summary in milliseconds. */
export interface Summary {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export function summarize(valuesMs: readonly number[]): Summary {
  if (valuesMs.length === 0) return { count: 0, p50: NaN, p99: NaN, p999: NaN, max: NaN, mean: NaN };
  let sum = 0;
  let max = -Infinity;
  for (const v of valuesMs) {
    sum += v;
    if (v > max) max = v;
  }
  return {
    count: valuesMs.length,
    p50: percentile(valuesMs, 50),
    p99: percentile(valuesMs, 99),
    p999: percentile(valuesMs, 99.9),
    max,
    mean: sum / valuesMs.length,
  };
}

/** A number with `digits` decimals, for table cells. */
export const fixed = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : "n/a");

export function formatTable(table: Table): string {
  const cells = [table.columns, ...table.rows.map((r) => r.map(String))];
  const widths = table.columns.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? "").length)));
  const line = (r: Cell[]) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!))).join("  ");
  return [table.title, line(table.columns), widths.map((w) => "-".repeat(w)).join("  "), ...table.rows.map(line)].join("\n");
}

export function formatTargets(targets: Target[]): string {
  return targets
    .map((t) => {
      const value = Number.isInteger(t.value) ? String(t.value) : fixed(t.value, t.unit === "" ? 3 : 2);
      return `  ${t.met ? "met   " : "MISSED"}  ${t.what}: ${value}${t.unit ? ` ${t.unit}` : ""} (target ${t.target})`;
    })
    .join("\n");
}

export function writeResult(dir: string, result: BenchResult, extra: Record<string, unknown>): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${result.name}.json`);
  writeFileSync(file, JSON.stringify({ ...extra, ...result }, null, 2) + "\n");
  return file;
}

/** The source a run measured: `commit` (git HEAD, 40 hex) and `dirty` (uncommitted changes to tracked files then). */
export interface SourceRevision {
  commit: string;
  dirty: boolean;
}

/** Reads the checkout's revision; throws a one-line error when this is not a git checkout (figures must say what they measured). */
export function sourceRevision(cwd = path.resolve(__dirname, "../..")): SourceRevision {
  const git = (...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  try {
    return { commit: git("rev-parse", "HEAD"), dirty: git("status", "--porcelain", "--untracked-files=no") !== "" };
  } catch (err) {
    throw new Error(`bench: cannot read the git commit of ${cwd} (results record what they measured): ${(err as Error).message.split("\n")[0]}`);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Throws `what` once past the deadline: every bench loop is bounded in time as well as in count. */
export function deadline(ms: number, what: string): () => void {
  const end = performance.now() + ms;
  return () => {
    if (performance.now() > end) throw new Error(`${what}: still running after ${Math.round(ms / 1000)} s, gave up`);
  };
}
