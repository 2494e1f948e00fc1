/**
 * `npm run simulate -- --stack <stack> --trace FILE [options]`: replays a request trace against the stack's
 * scale-to-zero settings and prints cost against waits. See docs/simulate.md. `main` returns the exit code; bad input
 * (an InputError, a stack config error) prints one message, no stack trace, and returns 1.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { parseStackConfig, type StackConfig } from "../components/config/stack";
import { coldStartBudget, phaseNames, type PhaseDistribution, type PhaseName } from "../components/domain/coldStartBudget";
import { prices } from "../components/domain/prices";
import { planConfig } from "../scripts/plan/stackConfig";
import { simulate } from "./engine";
import { summarize, table, type RunSummary } from "./report";
import { buildScenario, knobNames, parsePhase, type Knobs, type ScenarioOptions } from "./scenario";
import { frontierSvg, timelineSvg } from "./svg";
import { InputError, readTrace } from "./trace";

export const usage = `usage: npm run simulate -- --stack <stack> --trace FILE [--set key=value ...] [--model NAME ...]
  [--thin N | --thin MODEL=N ...] [--path today|fast] [--phase NAME=S|NAME=MIN:TYPICAL:MAX ...]
  [--with KNOB=V ...] [--sweep KNOB=V1,V2,...] [--seed N] [--prefill-tps N] [--decode-tps N] [--slots N]
  [--tail S] [--json FILE] [--svg DIR]
knobs: ${knobNames.join(", ")}; phases: ${phaseNames.join(", ")}`;

const root = path.resolve(__dirname, "..");

function num(flag: string, text: string | undefined, min = 0): number | undefined {
    if (text === undefined) return undefined;
    const v = Number(text);
    if (!Number.isFinite(v) || v < min) throw new InputError(`${flag} ${JSON.stringify(text)}: expected a number ≥ ${min}`);
    return v;
}

function knob(flag: string, key: string, value: string): number {
    if (!(knobNames as readonly string[]).includes(key)) throw new InputError(`${flag}: unknown knob ${JSON.stringify(key)}; knobs: ${knobNames.join(", ")}`);
    const v = Number(value);
    if (!Number.isInteger(v) || v < 0) throw new InputError(`${flag} ${key}=${JSON.stringify(value)}: expected an integer ≥ 0`);
    if ((key === "pollingSeconds" || key === "targetConcurrency" || key === "maxReplicas") && v < 1) throw new InputError(`${flag} ${key}=${v}: must be at least 1`);
    return v;
}

function keyValue(flag: string, text: string): [string, string] {
    const eq = text.indexOf("=");
    if (eq <= 0) throw new InputError(`${flag} ${JSON.stringify(text)}: expected KEY=VALUE`);
    return [text.slice(0, eq), text.slice(eq + 1)];
}

/** Stack keys the simulator reads; problems in any other key do not change its result. */
const keysRead = ["region", "vpc", "systemNodeGroup", "gpuNodeGroups", "clusterAutoscaler", "models"];
/** A stand-in for keys the simulator does not read but the stack files ship as refused placeholders (apiEndpoint). */
const standIn: Record<string, string> = { "gpu-serverless:apiEndpoint": JSON.stringify({ access: "public", publicAccessCidrs: ["1.2.3.4/32"] }) };

/**
 * Loads a stack exactly as `npm run plan` does (Pulumi.yaml defaults, Pulumi.<stack>.yaml, --set) and validates it
 * with the program's own schema. Problems confined to keys the simulator does not read (the dev stack's placeholder
 * API CIDR, say) are reported through `note` and those keys validated with a stand-in or their default instead;
 * a problem in a key it reads is an InputError.
 */
function loadStack(stack: string, sets: string[], note: (s: string) => void = () => {}): StackConfig {
    let config: Record<string, string>;
    try {
        config = planConfig(root, stack, sets).config;
    } catch (e) {
        throw new InputError((e as Error).message);
    }
    try {
        return parseStackConfig(config);
    } catch (e) {
        const problems: readonly string[] = (e as { problems?: string[] }).problems ?? [];
        const keyOf = (line: string) => /^gpu-serverless:([A-Za-z]+)/.exec(line)?.[1] ?? "";
        if (problems.length === 0 || problems.some((l) => keysRead.includes(keyOf(l)))) throw new InputError((e as Error).message);
        const unread = [...new Set(problems.map(keyOf))];
        const patched = { ...config };
        for (const k of unread) {
            const full = `gpu-serverless:${k}`;
            if (standIn[full]) patched[full] = standIn[full];
            else delete patched[full];
        }
        try {
            const parsed = parseStackConfig(patched);
            note(`simulate: note: ignoring ${problems.length} stack config problem(s) in keys the simulator does not read (${unread.join(", ")}); \`npm run plan\` reports them`);
            return parsed;
        } catch {
            throw new InputError((e as Error).message);
        }
    }
}

export function main(argv: string[], out: (s: string) => void = console.log, err: (s: string) => void = console.error): number {
    try {
        return run(argv, out, err);
    } catch (e) {
        if (e instanceof InputError) {
            err(`simulate: ${e.message}`);
            return 1;
        }
        if (e instanceof Error && /^(Unknown option|Option|Unexpected argument)/.test(e.message)) {
            err(`simulate: ${e.message.split("\n")[0]}\n${usage}`);
            return 1;
        }
        throw e;
    }
}

function run(argv: string[], out: (s: string) => void, err: (s: string) => void): number {
    const { values } = parseArgs({
        args: argv,
        options: {
            stack: { type: "string", short: "s" },
            set: { type: "string", multiple: true },
            trace: { type: "string" },
            model: { type: "string", multiple: true },
            thin: { type: "string", multiple: true },
            path: { type: "string" },
            phase: { type: "string", multiple: true },
            with: { type: "string", multiple: true },
            sweep: { type: "string" },
            seed: { type: "string" },
            "prefill-tps": { type: "string" },
            "decode-tps": { type: "string" },
            slots: { type: "string" },
            tail: { type: "string" },
            json: { type: "string" },
            svg: { type: "string" },
            help: { type: "boolean", short: "h" },
        },
    });
    if (values.help) {
        out(usage);
        return 0;
    }
    if (!values.stack) throw new InputError(`--stack is required\n${usage}`);
    if (!values.trace) throw new InputError(`--trace is required (e.g. ../shared/traces/AzureLLMInferenceTrace_code.csv)\n${usage}`);
    if (values.path !== undefined && values.path !== "today" && values.path !== "fast") throw new InputError(`--path ${JSON.stringify(values.path)}: expected today or fast`);

    const thin: Record<string, number> = {};
    for (const t of values.thin ?? []) {
        const [k, v] = t.includes("=") ? keyValue("--thin", t) : ["*", t];
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new InputError(`--thin ${JSON.stringify(t)}: N must be an integer ≥ 1 (keep 1 request in N)`);
        thin[k] = n;
    }
    const phases: Partial<Record<PhaseName, PhaseDistribution>> = {};
    for (const p of values.phase ?? []) {
        const [name, d] = parsePhase(p);
        phases[name] = d;
    }
    const fixed: Knobs = {};
    for (const w of values.with ?? []) {
        const [k, v] = keyValue("--with", w);
        (fixed as Record<string, number>)[k] = knob("--with", k, v);
    }
    let sweep: { key: string; values: number[] } | undefined;
    if (values.sweep) {
        const [k, v] = keyValue("--sweep", values.sweep);
        const list = v.split(",").filter((x) => x !== "");
        if (list.length === 0) throw new InputError(`--sweep ${k}: list at least one value`);
        sweep = { key: k, values: list.map((x) => knob("--sweep", k, x)) };
    }
    const seed = num("--seed", values.seed) ?? 1;
    const options: ScenarioOptions = {
        models: values.model,
        thin,
        path: values.path as "today" | "fast" | undefined,
        phases,
        seed,
        prefillTokensPerSecond: num("--prefill-tps", values["prefill-tps"], 1e-9),
        decodeTokensPerSecond: num("--decode-tps", values["decode-tps"], 1e-9),
        slots: num("--slots", values.slots, 1),
        tailSeconds: num("--tail", values.tail),
    };

    const trace = readTrace(values.trace);
    const notes: string[] = [];
    const stack = loadStack(values.stack, values.set ?? [], (s) => notes.push(s));
    const variants: { label: string; knobs: Knobs }[] = sweep
        ? sweep.values.map((v) => ({ label: `${sweep!.key}=${v}`, knobs: { ...fixed, [sweep!.key]: v } }))
        : [{ label: Object.entries(fixed).map(([k, v]) => `${k}=${v}`).join(",") || "stack", knobs: fixed }];
    // A common tail for every run, so costs compare over the same window.
    const probe = variants.map((v) => buildScenario(stack, trace, options, v.knobs));
    const tail = options.tailSeconds ?? Math.max(...probe.map((s) => s.input.horizon - s.traceSeconds));
    const gpus = probe[0].input.models.filter((m) => m.gpus > 0).reduce((k, m) => k + m.gpus, 0);
    variants.push({ label: "always-on", knobs: { ...fixed, minReplicas: Math.max(1, fixed.minReplicas ?? 1), warmNodes: Math.max(fixed.warmNodes ?? 0, Math.ceil(gpus / 8)) } });

    const runs: RunSummary[] = [];
    const svgs: [string, string][] = [];
    // The sweep's scenarios are the probes with the common tail (buildScenario is seeded: a rebuild is identical);
    // only always-on is built anew.
    for (const s of probe) s.input.horizon = s.traceSeconds + tail;
    for (const [i, v] of variants.entries()) {
        const scenario = probe[i] ?? buildScenario(stack, trace, { ...options, tailSeconds: tail }, v.knobs);
        scenario.input.timeline = !!values.svg;
        const result = simulate(scenario.input);
        runs.push(summarize(v.label, scenario, result));
        if (values.svg && result.timeline) {
            const name = `timeline-${v.label.replace(/[^A-Za-z0-9=.-]+/g, "_")}.svg`;
            svgs.push([name, timelineSvg(`stack ${values.stack}, ${v.label}: replicas and GPU nodes against arrivals`, scenario.input.arrivals, result.timeline, scenario.input.horizon)]);
        }
    }
    out(`stack ${values.stack} (${stack.region}), trace ${values.trace}, thin ${JSON.stringify(thin)}, path ${options.path ?? "today"}, seed ${seed}; window ${(runs[0].total.windowHours).toFixed(2)} h (trace + ${tail.toFixed(0)} s tail)`);
    out(table(runs));
    if (values.svg) {
        fs.mkdirSync(values.svg, { recursive: true });
        if (runs.length > 2) svgs.push(["frontier.svg", frontierSvg(`stack ${values.stack}: GPU cost against p99 wait`, runs.map((r) => ({ label: r.label, usd: r.total.gpuUsd, p99: r.total.p99 })))]);
        for (const [name, text] of svgs) fs.writeFileSync(path.join(values.svg, name), text);
        out(`pictures: ${svgs.map(([n]) => path.join(values.svg!, n)).join(", ")}`);
    }
    if (values.json) {
        const phasesUsed = { ...coldStartBudget[options.path ?? "today"], ...phases };
        fs.writeFileSync(values.json, JSON.stringify({ stack: values.stack, region: stack.region, trace: values.trace, thin, seed, path: options.path ?? "today", phases: phasesUsed, prices: prices[stack.region], tailSeconds: tail, runs }, null, 2) + "\n");
        out(`json: ${values.json}`);
    }
    for (const n of notes) err(n);
    return 0;
}
