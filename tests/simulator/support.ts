/** Helpers for the simulator tests: a one-model, one-pool engine input with fixed (or given) phases. */
import { coldStartBudget, phaseNames, type ColdStartPath, type PhaseDistribution } from "../../components/domain/coldStartBudget";
import type { SimInput, SimModel, SimPool } from "../../simulator/engine";

export const fixed = (s: number): PhaseDistribution => ({ min: s, typical: s, max: s, source: "test" });

/** Today's path with every phase fixed at its typical figure (no randomness in cold starts). */
export const fixedToday: ColdStartPath = Object.fromEntries(phaseNames.map((p) => [p, fixed(coldStartBudget.today[p].typical)])) as unknown as ColdStartPath;

export function oneModel(arrivals: number[], service: number[], model: Partial<SimModel> = {}, pool: Partial<SimPool> = {}, extra: Partial<SimInput> = {}): SimInput {
    const m: SimModel = { name: "m", gpus: 1, pool: 0, minReplicas: 0, maxReplicas: 1, cooldownSeconds: 300, pollingSeconds: 15, targetConcurrency: 10, slots: 1_000_000, holdSeconds: 1e9, ...model };
    const p: SimPool = { name: "a100", gpusPerNode: 8, minSize: 0, maxSize: 1, scaleDownUnneededSeconds: 300, ...pool };
    return {
        models: [m],
        pools: [p],
        arrivals: Float64Array.from(arrivals),
        model: new Int32Array(arrivals.length),
        service: Float64Array.from(service),
        phases: fixedToday,
        seed: 7,
        horizon: (arrivals.length ? arrivals[arrivals.length - 1] : 0) + 7200,
        ...extra,
    };
}
