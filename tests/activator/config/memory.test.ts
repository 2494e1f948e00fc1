/**
 * The activator's memory rule (activator/src/config/memory.ts): what the stack sizes the pod's memory limit by. Its
 * shape, term by term, and what a stack with a large catalog is told (the figures come from the benches:
 * catalog-scale for the per-model term, held-capacity and held-bodies for the rest).
 */
import { strict as assert } from "node:assert";
import { estimatedPeakMemoryBytes, MEMORY_MODEL, requiredMemoryBytes } from "../../../activator/src/config/memory";
import { parseStackConfig } from "../../../components/config/stack";
import { asConfigString, problemsOf, reachableApiEndpoint } from "../../components/config/stackFiles";

const MiB = 1024 * 1024;
const defaults = { maxPendingTotal: 10_000, maxBufferedBodyBytes: 128 * MiB };

describe("activator memory rule", () => {
  it("adds one term per model, per held request and per buffered byte to the idle base, each linear", () => {
    const rows: Array<[string, { maxPendingTotal: number; maxBufferedBodyBytes: number }, number, number]> = [
      ["nothing but the base", { maxPendingTotal: 0, maxBufferedBodyBytes: 0 }, 0, MEMORY_MODEL.baseBytes],
      ["one model", { maxPendingTotal: 0, maxBufferedBodyBytes: 0 }, 1, MEMORY_MODEL.baseBytes + MEMORY_MODEL.perModelBytes],
      ["1000 models", { maxPendingTotal: 0, maxBufferedBodyBytes: 0 }, 1000, MEMORY_MODEL.baseBytes + 1000 * MEMORY_MODEL.perModelBytes],
      ["one held request", { maxPendingTotal: 1, maxBufferedBodyBytes: 0 }, 0, MEMORY_MODEL.baseBytes + MEMORY_MODEL.perHeldRequestBytes],
      ["one buffered MiB", { maxPendingTotal: 0, maxBufferedBodyBytes: MiB }, 0, MEMORY_MODEL.baseBytes + MiB * MEMORY_MODEL.bufferedBodyOverhead],
    ];
    for (const [what, limits, models, bytes] of rows) assert.equal(estimatedPeakMemoryBytes(limits, models), Math.ceil(bytes), what);
    const sum = estimatedPeakMemoryBytes(defaults, 1000);
    const parts = estimatedPeakMemoryBytes(defaults, 0) + estimatedPeakMemoryBytes({ maxPendingTotal: 0, maxBufferedBodyBytes: 0 }, 1000) - MEMORY_MODEL.baseBytes;
    assert.ok(Math.abs(sum - parts) <= 1, "terms add up");
  });

  it("costs a model more than a held request (its series, state and routes), and far less than a MiB", () => {
    assert.ok(MEMORY_MODEL.perModelBytes > MEMORY_MODEL.perHeldRequestBytes && MEMORY_MODEL.perModelBytes < MiB, `${MEMORY_MODEL.perModelBytes} B per model`);
  });

  it("requires a limit the estimated peak fills to 80 %", () => {
    for (const models of [0, 10, 1000]) {
      const required = requiredMemoryBytes(defaults, models);
      assert.ok(Math.abs(estimatedPeakMemoryBytes(defaults, models) / required - 0.8) < 1e-6, `${models} models`);
    }
    assert.ok(requiredMemoryBytes(defaults, 1000) > requiredMemoryBytes(defaults, 0));
  });
});

describe("stack config: the activator's memory covers the catalog", () => {
  const models = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `m${i}`, format: "sklearn", storageUri: "gs://kfserving-examples/models/sklearn/1.0/model" }));
  const raw = (n: number, memory?: string) =>
    Object.fromEntries(
      Object.entries({
        gpuNodeGroups: [{ name: "a100", instanceType: "p4d.24xlarge" }],
        apiEndpoint: reachableApiEndpoint,
        models: models(n),
        ...(memory ? { activator: { memory } } : {}),
      }).map(([k, v]) => [`gpu-serverless:${k}`, asConfigString(v)]),
    );

  it("accepts a few models in the default 768Mi", () => {
    assert.equal(parseStackConfig(raw(3)).activator.memory, "768Mi");
  });

  it("refuses 1000 models in the default 768Mi, naming the memory they need, and accepts them with it", () => {
    const needMi = Math.ceil(requiredMemoryBytes(defaults, 1000) / MiB);
    assert.ok(needMi > 768, `${needMi}Mi`);
    const problems = problemsOf(raw(1000));
    const expected = new RegExp(`^gpu-serverless:activator\\.memory: 768Mi is less than the ${needMi}Mi the limits and 1000 model\\(s\\) need .*raise memory to at least ${needMi}Mi or lower the limits$`);
    assert.ok(problems.some((p) => expected.test(p)), problems.join("\n"));
    assert.equal(parseStackConfig(raw(1000, `${needMi}Mi`)).models.length, 1000);
  });
});
