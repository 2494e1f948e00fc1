/**
 * Properties of the engine, checked with fast-check over random traces (one model on one GPU pool of at most one
 * p4d; every cold-start phase fixed at today's typical figure, so runs differ only in the knob under test; a replica
 * has more slots than there are requests, so nothing queues for a slot; held requests count as demand, so holding
 * during a cold start extends activity):
 * - always-on (one replica from the start on a warm node) never makes a request wait;
 * - a warm node never raises the longest or the mean wait;
 * - a longer cooldown never raises the number of cold starts.
 */
import * as assert from "node:assert/strict";
import fc from "fast-check";
import { simulate } from "../../simulator/engine";
import { oneModel } from "./support";

/** Sorted arrival times within [0, span] and a service time per request. */
const traceArb = (span: number, max: number) =>
    fc
        .array(fc.tuple(fc.double({ min: 0, max: span, noNaN: true }), fc.double({ min: 0.05, max: 60, noNaN: true })), { minLength: 1, maxLength: max })
        .map((rows) => {
            rows.sort((a, b) => a[0] - b[0]);
            return { arrivals: rows.map((r) => r[0]), service: rows.map((r) => r[1]) };
        });

const stats = (w: Float64Array) => ({ max: Math.max(...w), mean: w.reduce((s, x) => s + x, 0) / w.length });

describe("simulator properties", () => {
    it("always-on never waits", () => {
        fc.assert(
            fc.property(traceArb(7200, 200), fc.integer({ min: 1, max: 900 }), ({ arrivals, service }, cooldown) => {
                const r = simulate(oneModel(arrivals, service, { minReplicas: 1, cooldownSeconds: cooldown }, { minSize: 1 }));
                assert.equal(Math.max(...r.models[0].waits), 0);
                assert.equal(r.models[0].coldStarts, 0);
            }),
            { numRuns: 100 },
        );
    });

    it("a warm node never raises the longest or the mean wait", () => {
        fc.assert(
            fc.property(traceArb(4 * 3600, 60), fc.constantFrom(60, 300, 900), fc.constantFrom(60, 300, 600), ({ arrivals, service }, cooldown, unneeded) => {
                const run = (warm: number) => stats(simulate(oneModel(arrivals, service, { cooldownSeconds: cooldown }, { minSize: warm, scaleDownUnneededSeconds: unneeded })).models[0].waits);
                const cold = run(0);
                const warm = run(1);
                assert.ok(warm.max <= cold.max + 1e-9, `max wait ${warm.max} with a warm node > ${cold.max} without`);
                assert.ok(warm.mean <= cold.mean + 1e-9, `mean wait ${warm.mean} with a warm node > ${cold.mean} without`);
            }),
            { numRuns: 150 },
        );
    });

    it("a longer cooldown never raises the number of cold starts", () => {
        fc.assert(
            fc.property(traceArb(4 * 3600, 60), fc.integer({ min: 0, max: 1800 }), fc.integer({ min: 0, max: 1800 }), fc.constantFrom(0, 1), ({ arrivals, service }, a, b, warm) => {
                const [short, long] = a <= b ? [a, b] : [b, a];
                const run = (cooldown: number) => simulate(oneModel(arrivals, service, { cooldownSeconds: cooldown }, { minSize: warm })).models[0].coldStarts;
                const s = run(short);
                const l = run(long);
                assert.ok(l <= s, `cooldown ${long} s: ${l} cold starts > ${s} with ${short} s`);
            }),
            { numRuns: 150 },
        );
    });
});
