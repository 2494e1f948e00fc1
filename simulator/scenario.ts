/**
 * A stack's config (as `npm run plan` reads it) plus a trace → the engine's input, with the knobs a sweep varies.
 *
 * Service time per request (a simple throughput model per GPU replica, our estimate, overridable):
 *   seconds = ContextTokens / prefillTokensPerSecond + GeneratedTokens / decodeTokensPerSecond,
 * defaults 5000 and 40 tokens/s (an 8B-class model in fp16 on one A100, per sequence, under batching), each replica
 * serving `slots` requests at once without slowing down (default: the model's `maxConcurrencyPerReplica`, else 256,
 * vLLM's default `--max-num-seqs`). `exponentialServiceMean` replaces it with exponential times (the M/M/c check).
 */
import { coldStartBudget, phaseNames, type ColdStartPath, type PhaseDistribution, type PhaseName } from "../components/domain/coldStartBudget";
import { a100InstanceTypes } from "../components/domain/nodeGroups";
import { instancePrice, prices } from "../components/domain/prices";
import type { StackConfig } from "../components/config/stack";
import { goDurationSeconds } from "../components/config/coldStart";
import type { SimInput, SimModel, SimPool } from "./engine";
import { exponential, rng } from "./rng";
import { InputError, thin, type Trace } from "./trace";

/** Knobs a run or a sweep sets, applied to every simulated model (or every GPU pool for the pool knobs). */
export interface Knobs {
    cooldownSeconds?: number;
    pollingSeconds?: number;
    targetConcurrency?: number;
    minReplicas?: number;
    maxReplicas?: number;
    /** GPU nodes kept up in every GPU pool (its minSize; maxSize grows to match). */
    warmNodes?: number;
    /** How long an empty GPU node stays (cluster-autoscaler's scale-down-unneeded-time). */
    scaleDownUnneededSeconds?: number;
}
export const knobNames = ["cooldownSeconds", "pollingSeconds", "targetConcurrency", "minReplicas", "maxReplicas", "warmNodes", "scaleDownUnneededSeconds"] as const;

export interface ScenarioOptions {
    /** Models that get the trace (default: every model with gpus > 0). */
    models?: string[];
    /** 1-in-N thinning per model name; `*` for the rest (default 1). */
    thin?: Record<string, number>;
    path?: "today" | "fast";
    /** Phase distributions replacing the path's. */
    phases?: Partial<Record<PhaseName, PhaseDistribution>>;
    prefillTokensPerSecond?: number;
    decodeTokensPerSecond?: number;
    slots?: number;
    exponentialServiceMean?: number;
    seed?: number;
    /** Seconds simulated after the last request (scale-down tail); default: longest cooldown + polling + unneeded time + 900. */
    tailSeconds?: number;
}

export interface Scenario {
    input: SimInput;
    region: string;
    pools: { name: string; instanceType: string; usdPerHour: number; gpusPerNode: number }[];
    modelNames: string[];
    /** Fixed platform cost per hour (EKS, system nodes at minSize, NAT gateways, the activator's NLB). */
    platformUsdPerHour: number;
    traceSeconds: number;
}

/** Parses a phase override `name=seconds` or `name=min:typical:max`. */
export function parsePhase(text: string): [PhaseName, PhaseDistribution] {
    const eq = text.indexOf("=");
    const name = text.slice(0, eq) as PhaseName;
    if (eq <= 0 || !phaseNames.includes(name)) throw new InputError(`--phase ${JSON.stringify(text)}: expected <phase>=<s> or <phase>=<min>:<typical>:<max>, phase one of ${phaseNames.join(", ")}`);
    const v = text.slice(eq + 1).split(":").map(Number);
    if (!(v.length === 1 || v.length === 3) || v.some((x) => !Number.isFinite(x) || x < 0) || (v.length === 3 && !(v[0] <= v[1] && v[1] <= v[2]))) {
        throw new InputError(`--phase ${JSON.stringify(text)}: seconds must be one number or min:typical:max with min ≤ typical ≤ max, all ≥ 0`);
    }
    const [min, typical, max] = v.length === 1 ? [v[0], v[0], v[0]] : v;
    return [name, { min, typical, max, source: "user override (--phase)" }];
}

/** Builds the engine input for `stack`, `trace` and the `knobs` of one run. */
export function buildScenario(stack: StackConfig, trace: Trace, options: ScenarioOptions, knobs: Knobs = {}): Scenario {
    const seed = options.seed ?? 1;
    const groups = stack.gpuNodeGroups;
    const region = stack.region;
    if (!prices[region]) throw new InputError(`no prices for region ${region} in components/domain/prices.ts (it has ${Object.keys(prices).join(", ")})`);
    const wanted = options.models ?? stack.models.filter((m) => m.gpus > 0).map((m) => m.name);
    const known = new Set(stack.models.map((m) => m.name));
    for (const name of [...wanted, ...Object.keys(options.thin ?? {}).filter((k) => k !== "*")]) {
        if (!known.has(name)) throw new InputError(`model ${name} is not in the stack (models: ${[...known].join(", ") || "none"})`);
    }
    const chosen = stack.models.filter((m) => wanted.includes(m.name));
    if (chosen.length === 0) throw new InputError("no model to simulate: the stack has no GPU model; name one with --model");
    const unneeded = knobs.scaleDownUnneededSeconds ?? goDurationSeconds(stack.clusterAutoscaler.scaleDownUnneededTime);
    const pools: SimPool[] = groups.map((g) => {
        const minSize = knobs.warmNodes ?? g.minSize;
        return { name: g.name, gpusPerNode: a100InstanceTypes[g.instanceType].gpus, minSize, maxSize: Math.max(g.maxSize, minSize), scaleDownUnneededSeconds: unneeded };
    });
    // A CPU model runs on the system nodes: model it as a pool with room for everything, always up.
    const cpuPool = pools.length;
    pools.push({ name: "system", gpusPerNode: 1_000_000, minSize: 1, maxSize: 1, scaleDownUnneededSeconds: unneeded });
    const models: SimModel[] = chosen.map((m) => {
        const maxReplicas = knobs.maxReplicas ?? m.maxReplicas;
        const minReplicas = Math.min(knobs.minReplicas ?? m.minReplicas, maxReplicas);
        const group = m.gpuNodeGroup ?? groups[0]?.name;
        return {
            name: m.name,
            gpus: m.gpus,
            pool: m.gpus > 0 ? groups.findIndex((g) => g.name === group) : cpuPool,
            minReplicas,
            maxReplicas,
            cooldownSeconds: knobs.cooldownSeconds ?? m.cooldownSeconds,
            pollingSeconds: knobs.pollingSeconds ?? m.pollingSeconds,
            targetConcurrency: knobs.targetConcurrency ?? m.targetConcurrency,
            slots: options.slots ?? m.maxConcurrencyPerReplica ?? 256,
            holdSeconds: m.coldStartTimeoutSeconds,
        };
    });

    // Each model gets its own 1-in-N share of the trace (its own draw), merged in time order.
    const prefill = options.prefillTokensPerSecond ?? 5000;
    const decode = options.decodeTokensPerSecond ?? 40;
    const r = rng(seed ^ 0x5eed);
    const parts = models.map((m, idx) => {
        const t = thin(trace, options.thin?.[m.name] ?? options.thin?.["*"] ?? 1, r);
        return { t, idx };
    });
    const total = parts.reduce((k, p) => k + p.t.arrivals.length, 0);
    const order: { a: number; m: number; j: number }[] = [];
    for (const p of parts) for (let j = 0; j < p.t.arrivals.length; j++) order.push({ a: p.t.arrivals[j], m: p.idx, j });
    order.sort((x, y) => x.a - y.a || x.m - y.m);
    const arrivals = new Float64Array(total);
    const model = new Int32Array(total);
    const service = new Float64Array(total);
    order.forEach((o, k) => {
        const t = parts[o.m].t;
        arrivals[k] = o.a;
        model[k] = o.m;
        service[k] = options.exponentialServiceMean !== undefined ? exponential(r, options.exponentialServiceMean) : t.contextTokens[o.j] / prefill + t.generatedTokens[o.j] / decode;
    });

    const base = coldStartBudget[options.path ?? "today"];
    const phases: ColdStartPath = { ...base, ...options.phases };
    const cachedPhases = options.path === "fast" ? { ...coldStartBudget.warmNode, ...options.phases } : undefined;
    const traceSeconds = trace.arrivals.length ? trace.arrivals[trace.arrivals.length - 1] : 0;
    const tail = options.tailSeconds ?? Math.max(...models.map((m) => m.cooldownSeconds + m.pollingSeconds)) + unneeded + 900;

    const p = prices[region];
    const sys = instancePrice(region, stack.systemNodeGroup.instanceType).usd * stack.systemNodeGroup.minSize;
    const nat = stack.vpc.natGateways === "single" ? 1 : (stack.vpc.availabilityZoneCount ?? 3);
    const platformUsdPerHour = p.eksCluster.usd + sys + ("id" in stack.vpc ? 0 : nat * p.natGatewayHour.usd) + p.nlbHour.usd;

    return {
        input: { models, pools, arrivals, model, service, phases, cachedPhases, seed, horizon: traceSeconds + tail },
        region,
        pools: groups.map((g) => ({ name: g.name, instanceType: g.instanceType, usdPerHour: instancePrice(region, g.instanceType).usd, gpusPerNode: a100InstanceTypes[g.instanceType].gpus })),
        modelNames: models.map((m) => m.name),
        platformUsdPerHour,
        traceSeconds,
    };
}
