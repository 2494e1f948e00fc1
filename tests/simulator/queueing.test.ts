/**
 * The engine's queueing against a closed form: with a fixed number of always-up replicas, Poisson arrivals and
 * exponential service times it is an M/M/c queue (c = replicas × slots, FIFO), whose mean wait and probability of
 * waiting are Erlang C. Tolerance: mean wait within 5 % and P(wait > 0) within 0.02 over 300 000 requests.
 */
import * as assert from "node:assert/strict";
import { simulate } from "../../simulator/engine";
import { exponential, rng } from "../../simulator/rng";
import { oneModel } from "./support";

/** Erlang C: probability an arrival waits in M/M/c with offered load a = λ/μ (a < c). */
function erlangC(c: number, a: number): number {
    let term = 1;
    let sum = 1;
    for (let k = 1; k < c; k++) {
        term *= a / k;
        sum += term;
    }
    const last = (term * a) / c;
    const top = last * (c / (c - a));
    return top / (sum + top);
}

describe("simulator queueing (M/M/c)", () => {
    for (const [lambda, replicas, slots] of [
        [8, 2, 5],
        [3.5, 1, 4],
    ] as const) {
        it(`λ=${lambda}/s, μ=1/s, ${replicas} replicas × ${slots} slots: mean wait and P(wait) match Erlang C`, () => {
            const r = rng(42);
            const n = 300_000;
            const arrivals: number[] = [];
            const service: number[] = [];
            let t = 0;
            for (let i = 0; i < n; i++) {
                t += exponential(r, 1 / lambda);
                arrivals.push(t);
                service.push(exponential(r, 1));
            }
            const input = oneModel(arrivals, service, { minReplicas: replicas, maxReplicas: replicas, slots }, { minSize: 1 });
            const waits = simulate(input).models[0].waits;
            const c = replicas * slots;
            const pWait = erlangC(c, lambda);
            const meanWait = pWait / (c - lambda);
            let sum = 0;
            let waited = 0;
            for (const w of waits) {
                sum += w;
                if (w > 0) waited++;
            }
            const mean = sum / n;
            assert.ok(Math.abs(mean / meanWait - 1) < 0.05, `mean wait ${mean.toFixed(4)} s vs Erlang C ${meanWait.toFixed(4)} s`);
            assert.ok(Math.abs(waited / n - pWait) < 0.02, `P(wait) ${(waited / n).toFixed(4)} vs Erlang C ${pWait.toFixed(4)}`);
        });
    }
});
