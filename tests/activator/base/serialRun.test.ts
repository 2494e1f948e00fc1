import * as assert from "node:assert/strict";
import { serialRun } from "../../../activator/src/base/serialRun";

/** A task whose runs are released by hand, recording how many are running at once. */
function gatedTask() {
    const gates: (() => void)[] = [];
    const state = { runs: 0, concurrent: 0, maxConcurrent: 0 };
    const task = async () => {
        state.runs++;
        state.concurrent++;
        state.maxConcurrent = Math.max(state.maxConcurrent, state.concurrent);
        await new Promise<void>((resolve) => gates.push(resolve));
        state.concurrent--;
    };
    const releaseNext = async () => {
        while (gates.length === 0) await new Promise((r) => setImmediate(r));
        gates.shift()!();
        await new Promise((r) => setImmediate(r));
    };
    return { task, state, releaseNext };
}

describe("activator base: serialRun", () => {
    it("runs once more after a run in progress, however many calls came meanwhile, never two at once", async () => {
        const { task, state, releaseNext } = gatedTask();
        const run = serialRun(task);
        const first = run();
        void run();
        void run();
        void run();
        await releaseNext();
        await releaseNext();
        await first;
        assert.deepEqual({ runs: state.runs, maxConcurrent: state.maxConcurrent }, { runs: 2, maxConcurrent: 1 });
    });

    it("does not run again once stopped", async () => {
        const { task, state, releaseNext } = gatedTask();
        let stopped = false;
        const run = serialRun(task, () => stopped);
        const first = run();
        void run();
        stopped = true;
        await releaseNext();
        await first;
        assert.equal(state.runs, 1);
    });

    it("lets the next call run after a failed run", async () => {
        let calls = 0;
        const run = serialRun(async () => {
            calls++;
            if (calls === 1) throw new Error("first fails");
        });
        await assert.rejects(run(), /first fails/);
        await run();
        assert.equal(calls, 2);
    });
});
