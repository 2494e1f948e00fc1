/**
 * Run results → figures: per model and in total, GPU-hours and dollars (prices from components/domain/prices.ts),
 * cold starts, wait p50/p99/max (nearest rank), 504s after the hold budget, and requests that would exceed the
 * official SDKs' default 600 s timeout; a text table of runs.
 */
import type { SimResult } from "./engine";
import type { Scenario } from "./scenario";

export interface WaitStats {
    requests: number;
    p50: number;
    p99: number;
    max: number;
    mean: number;
}

export interface ModelSummary extends WaitStats {
    model: string;
    coldStarts: number;
    podStarts: number;
    timeouts: number;
    overSdkTimeout: number;
    /** GPU-hours allocated to the model's pods. */
    gpuHours: number;
}

export interface RunSummary {
    label: string;
    models: ModelSummary[];
    total: WaitStats & {
        coldStarts: number;
        timeouts: number;
        overSdkTimeout: number;
        /** GPU node-hours billed, all pools. */
        nodeHours: number;
        /** GPU-hours billed (node-hours × GPUs per node). */
        gpuHours: number;
        gpuUsd: number;
        /** Fixed platform cost over the same window (EKS, system nodes, NAT, NLB). */
        platformUsd: number;
        windowHours: number;
    };
}

/** Nearest-rank quantile of sorted values; 0 for none. */
export function quantile(sorted: Float64Array, q: number): number {
    if (sorted.length === 0) return 0;
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function waitStats(waits: Float64Array): WaitStats {
    const s = Float64Array.from(waits).sort();
    let sum = 0;
    for (const w of s) sum += w;
    return { requests: s.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s.length ? s[s.length - 1] : 0, mean: s.length ? sum / s.length : 0 };
}

export function summarize(label: string, scenario: Scenario, result: SimResult): RunSummary {
    const models = result.models.map((m, i) => ({
        model: scenario.modelNames[i],
        ...waitStats(m.waits),
        coldStarts: m.coldStarts,
        podStarts: m.podStarts,
        timeouts: m.timeouts,
        overSdkTimeout: m.overSdkTimeout,
        gpuHours: m.gpuSeconds / 3600,
    }));
    const all = new Float64Array(result.models.reduce((k, m) => k + m.waits.length, 0));
    let k = 0;
    for (const m of result.models) {
        all.set(m.waits, k);
        k += m.waits.length;
    }
    let nodeHours = 0;
    let gpuHours = 0;
    let gpuUsd = 0;
    scenario.pools.forEach((p, i) => {
        const h = result.nodeSeconds[i] / 3600;
        nodeHours += h;
        gpuHours += h * p.gpusPerNode;
        gpuUsd += h * p.usdPerHour;
    });
    const windowHours = scenario.input.horizon / 3600;
    const sum = (f: (m: ModelSummary) => number) => models.reduce((s, m) => s + f(m), 0);
    return {
        label,
        models,
        total: {
            ...waitStats(all),
            coldStarts: sum((m) => m.coldStarts),
            timeouts: sum((m) => m.timeouts),
            overSdkTimeout: sum((m) => m.overSdkTimeout),
            nodeHours,
            gpuHours,
            gpuUsd,
            platformUsd: scenario.platformUsdPerHour * windowHours,
            windowHours,
        },
    };
}

const fmtS = (s: number) => (s >= 100 ? s.toFixed(0) : s >= 10 ? s.toFixed(1) : s.toFixed(2));

/** A fixed-width table: one row per run (and per model when there are several). */
export function table(runs: RunSummary[]): string {
    const head = ["run", "model", "requests", "cold starts", "wait p50 s", "wait p99 s", "wait max s", "504s", ">600 s", "GPU node-h", "GPU $", "platform $"];
    const rows: string[][] = [];
    for (const r of runs) {
        const t = r.total;
        rows.push([r.label, r.models.length === 1 ? r.models[0].model : "all", `${t.requests}`, `${t.coldStarts}`, fmtS(t.p50), fmtS(t.p99), fmtS(t.max), `${t.timeouts}`, `${t.overSdkTimeout}`, t.nodeHours.toFixed(2), t.gpuUsd.toFixed(2), t.platformUsd.toFixed(2)]);
        if (r.models.length > 1) {
            for (const m of r.models) rows.push(["", m.model, `${m.requests}`, `${m.coldStarts}`, fmtS(m.p50), fmtS(m.p99), fmtS(m.max), `${m.timeouts}`, `${m.overSdkTimeout}`, `(${m.gpuHours.toFixed(2)} GPU-h)`, "", ""]);
        }
    }
    const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(width[i]) : c.padStart(width[i]))).join("  ");
    return [line(head), width.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
