/**
 * The engine's control-plane part against the e2e suite's measured 0 → 1 timeline (tests/e2e/README.md "Figures":
 * real kube-apiserver, kube-controller-manager and KEDA v2.20.2, a simulated ~300 ms pod start, cooldown 5 s, polling
 * 1 s). Run with those settings (a node up with the image; the pod start fixed at 0.3 s; ready → first byte
 * 100-150 ms as measured there; activation from the cold-start budget, itself from the same suite), the simulator's
 * arrival → first byte minus the pod start must fall in the measured overhead (p50 143-230 ms, p99 238-371 ms)
 * widened by 50 ms, and idle → 0 replicas in the measured 5.0-5.5 s widened by one polling interval (1 s).
 * It checks that the phases compose (the request is released at pod ready) and KEDA's cooldown-on-polling timing;
 * the phase figures themselves are inputs, not outputs.
 */
import * as assert from "node:assert/strict";
import { coldStartBudget } from "../../components/domain/coldStartBudget";
import { simulate } from "../../simulator/engine";
import { quantile } from "../../simulator/report";
import { fixed, fixedToday, oneModel } from "./support";

describe("simulator control plane vs the e2e suite's 0 → 1 timeline", () => {
    const podStart = 0.3;
    const phases = {
        ...coldStartBudget.today,
        provisioning: fixed(0),
        nodeReady: fixed(0),
        imagePull: fixed(0),
        weights: fixed(0),
        engineStart: fixed(podStart),
        firstByte: { min: 0.1, typical: 0.125, max: 0.15, source: "tests/e2e/README.md: pod Ready → EndpointSlice ready → first byte ~100-150 ms" },
    };
    // Ten cold starts, one request each, 60 s apart (idle long past the 5 s cooldown in between), as the suite does.
    const arrivals = Array.from({ length: 10 }, (_, i) => 10 + 60 * i);
    const service = arrivals.map(() => 0.01);
    const run = simulate(oneModel(arrivals, service, { cooldownSeconds: 5, pollingSeconds: 1 }, { minSize: 1 }, { phases, seed: 3 }));

    it("cold-start overhead (arrival → first byte − pod start) p50 and p99 within the measured range ± 50 ms", () => {
        const m = run.models[0];
        assert.equal(m.coldStarts, 10);
        const overhead = Float64Array.from(m.waits, (w) => w - podStart).sort();
        const p50 = quantile(overhead, 0.5);
        const p99 = quantile(overhead, 0.99);
        assert.ok(p50 >= 0.143 - 0.05 && p50 <= 0.23 + 0.05, `p50 ${p50.toFixed(3)} s`);
        assert.ok(p99 <= 0.371 + 0.05, `p99 ${p99.toFixed(3)} s`);
    });

    it("idle → 0 replicas 5.0-6.5 s after the last answer (cooldown 5 s, polling 1 s)", () => {
        const zeroAt = run.models[0].zeroAt;
        assert.equal(zeroAt.length, 10);
        zeroAt.forEach((z, i) => {
            const answered = arrivals[i] + run.models[0].waits[i] + service[i];
            const idle = z - answered;
            assert.ok(idle >= 5.0 && idle <= 5.5 + 1, `cold start ${i}: idle → 0 after ${idle.toFixed(2)} s`);
        });
    });
});

describe("simulator cold-start paths", () => {
    it("the first request waits the whole path from zero nodes, only the pod's phases on a warm node", () => {
        const total = (names: (keyof typeof fixedToday)[]) => names.reduce((s, p) => s + fixedToday[p].typical, 0);
        const cold = simulate(oneModel([0], [1])).models[0].waits[0];
        const warm = simulate(oneModel([0], [1], {}, { minSize: 1 })).models[0].waits[0];
        assert.ok(Math.abs(cold - total(["provisioning", "nodeReady", "imagePull", "weights", "engineStart", "firstByte"]) - fixedToday.activation.typical) < 1e-6, `cold ${cold}`);
        assert.ok(Math.abs(warm - total(["activation", "weights", "engineStart", "firstByte"])) < 1e-6, `warm ${warm}`);
    });

    it("a request held past the hold budget is answered 504 and counted beyond the SDKs' 600 s", () => {
        const m = simulate(oneModel([0], [1], { holdSeconds: 700 })).models[0];
        assert.equal(m.timeouts, 1);
        assert.equal(m.overSdkTimeout, 1);
        assert.equal(m.waits[0], 700);
    });
});
