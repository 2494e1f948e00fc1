/**
 * Request traces: the Azure LLM inference trace format (CSV header `TIMESTAMP,ContextTokens,GeneratedTokens`,
 * timestamps `YYYY-MM-DD HH:MM:SS.fffffff`, rows sorted by time; Azure/AzurePublicDataset, CC BY 4.0, Splitwise,
 * ISCA 2024), per-model thinning, and a synthetic trace of the same shape.
 */
import * as fs from "node:fs";
import { exponential, type Rng } from "./rng";

/** Requests in time order: arrival seconds from the trace's first row, and token counts. */
export interface Trace {
    readonly arrivals: Float64Array;
    readonly contextTokens: Int32Array;
    readonly generatedTokens: Int32Array;
}

/** A problem with the user's input: the CLI prints its message alone and exits 1. */
export class InputError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "InputError";
    }
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)$/;

/** Seconds since the epoch of a trace timestamp (time zone ignored: only differences count), or NaN. */
function timestampSeconds(text: string): number {
    const m = TIMESTAMP.exec(text);
    if (!m) return NaN;
    const day = Date.UTC(+m[1], +m[2] - 1, +m[3]) / 1000;
    return day + +m[4] * 3600 + +m[5] * 60 + +m[6];
}

/**
 * Parses trace CSV text. `name` names the input in errors. Throws InputError naming the line for a bad header,
 * a row without three fields, an unreadable timestamp, a token count that is not a non-negative integer, or a row
 * earlier than the one before it.
 */
export function parseTrace(text: string, name: string): Trace {
    const lines = text.split(/\r?\n/);
    const header = lines[0]?.trim();
    if (header !== "TIMESTAMP,ContextTokens,GeneratedTokens") {
        throw new InputError(`${name} line 1: expected the header TIMESTAMP,ContextTokens,GeneratedTokens, got ${JSON.stringify(header?.slice(0, 60))}`);
    }
    const n = lines.length;
    const t = new Float64Array(n);
    const ctx = new Int32Array(n);
    const gen = new Int32Array(n);
    let count = 0;
    let t0 = NaN;
    for (let i = 1; i < n; i++) {
        const line = lines[i];
        if (line.trim() === "") continue;
        const fields = line.split(",");
        const where = `${name} line ${i + 1}`;
        if (fields.length !== 3) throw new InputError(`${where}: expected 3 fields (TIMESTAMP,ContextTokens,GeneratedTokens), got ${fields.length}`);
        const s = timestampSeconds(fields[0].trim());
        if (Number.isNaN(s)) throw new InputError(`${where}: timestamp ${JSON.stringify(fields[0])} is not YYYY-MM-DD HH:MM:SS.fffffff`);
        const c = Number(fields[1]);
        const g = Number(fields[2]);
        if (!Number.isInteger(c) || c < 0) throw new InputError(`${where}: ContextTokens ${JSON.stringify(fields[1])} is not a non-negative integer`);
        if (!Number.isInteger(g) || g < 0) throw new InputError(`${where}: GeneratedTokens ${JSON.stringify(fields[2])} is not a non-negative integer`);
        if (count === 0) t0 = s;
        const rel = s - t0;
        if (count > 0 && rel < t[count - 1]) throw new InputError(`${where}: earlier than the row before it (the trace must be sorted by time)`);
        t[count] = rel;
        ctx[count] = c;
        gen[count] = g;
        count++;
    }
    if (count === 0) throw new InputError(`${name}: no requests after the header`);
    return { arrivals: t.slice(0, count), contextTokens: ctx.slice(0, count), generatedTokens: gen.slice(0, count) };
}

/** Reads and parses a trace file; a missing file is an InputError. */
export function readTrace(file: string): Trace {
    if (!fs.existsSync(file)) throw new InputError(`trace ${file} does not exist`);
    return parseTrace(fs.readFileSync(file, "utf8"), file);
}

/** Keeps each request with probability 1/n (n ≥ 1; n = 1 keeps all), drawing from `r`: a low-traffic model's share. */
export function thin(trace: Trace, n: number, r: Rng): Trace {
    if (n <= 1) return trace;
    const keep: number[] = [];
    for (let i = 0; i < trace.arrivals.length; i++) if (r.next() * n < 1) keep.push(i);
    return pick(trace, keep);
}

function pick(trace: Trace, idx: number[]): Trace {
    const a = new Float64Array(idx.length);
    const c = new Int32Array(idx.length);
    const g = new Int32Array(idx.length);
    idx.forEach((j, k) => {
        a[k] = trace.arrivals[j];
        c[k] = trace.contextTokens[j];
        g[k] = trace.generatedTokens[j];
    });
    return { arrivals: a, contextTokens: c, generatedTokens: g };
}

/**
 * A synthetic trace of `count` requests over `seconds`, shaped like `sample`: token counts resampled from the sample's
 * rows, arrivals a Poisson process whose rate follows a day/night cycle (rate ∝ 1 + 0.6·sin(2πt/86400), averaging
 * count/seconds).
 */
export function synthesize(sample: Trace, count: number, seconds: number, r: Rng): Trace {
    const a = new Float64Array(count);
    const c = new Int32Array(count);
    const g = new Int32Array(count);
    const mean = seconds / count;
    const n = sample.arrivals.length;
    let t = 0;
    let k = 0;
    while (k < count) {
        // Thinning of a Poisson process at the peak rate (1.6 × mean rate) against the cycle.
        t += exponential(r, mean / 1.6);
        if (r.next() * 1.6 > 1 + 0.6 * Math.sin((2 * Math.PI * t) / 86400)) continue;
        const j = Math.floor(r.next() * n);
        a[k] = t;
        c[k] = sample.contextTokens[j];
        g[k] = sample.generatedTokens[j];
        k++;
    }
    return { arrivals: a, contextTokens: c, generatedTokens: g };
}
