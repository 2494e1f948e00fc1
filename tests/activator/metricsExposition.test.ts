/**
 * The sliced /metrics renderer (activator/src/base/exposition.ts): the same text as prom-client's own
 * `registry.metrics()`, byte for byte, however it is sliced; and the event loop runs between slices, so requests
 * are served while a large catalog is scraped.
 */
import { strict as assert } from "node:assert";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { renderExposition } from "../../activator/src/base/exposition";
import { COLD_START_PHASE_BUCKETS, createMetrics } from "../../activator/src/base/metrics";
import { activatorFamilies } from "../../testing/activator/metricsText";

/** A registry with every kind of series the activator has: labelled and not, collected at scrape time, escaped. */
function registryWith(models: number): Registry {
  const registry = new Registry();
  const registers = [registry];
  const requests = new Counter({ name: "t_requests_total", help: "requests\nby model \\ status", labelNames: ["model", "status"] as const, registers });
  new Counter({ name: "t_unlabelled_total", help: "no labels", registers }).inc(3);
  new Histogram({ name: "t_empty_seconds", help: "never observed", labelNames: ["model"] as const, registers });
  const phase = new Histogram({ name: "t_phase_seconds", help: "phases", labelNames: ["model", "phase"] as const, buckets: COLD_START_PHASE_BUCKETS, registers });
  new Gauge({
    name: "t_held",
    help: "read at scrape time",
    labelNames: ["model"] as const,
    registers,
    collect() {
      this.reset();
      for (let i = 0; i < models; i++) this.set({ model: `ns/m${i}` }, i % 3);
    },
  });
  for (let i = 0; i < models; i++) {
    requests.inc({ model: `ns/m${i}`, status: "200" }, i);
    requests.inc({ model: `ns/m${i}`, status: 'we"ird\\' }, 0.5);
    for (const p of ["scheduled", "ready"]) phase.observe({ model: `ns/m${i}`, phase: p }, i * 0.7);
  }
  return registry;
}

const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString("utf8");

describe("activator: /metrics rendered in slices", () => {
  for (const [batchLines, sliceMs] of [
    [1, 0],
    [7, 0],
    [512, 1],
    [1_000_000, 1000],
  ] as const) {
    it(`is prom-client's registry.metrics() text, byte for byte (batches of ${batchLines} lines, slices of ${sliceMs} ms)`, async () => {
      const registry = registryWith(40);
      const chunks = await renderExposition(registry, { batchLines, sliceMs });
      assert.equal(text(chunks), await registry.metrics());
    });
  }

  it("renders the activator's own registry as prom-client does, with models initialised and a cold start recorded", async () => {
    const metrics = createMetrics({ forEachModel: (visit) => ["ns/a", "ns/b"].forEach((m, i) => visit(m, i, 1)) });
    for (const m of ["ns/a", "ns/b"]) metrics.initModel(m);
    metrics.coldStartPhase.observe({ model: "ns/a", phase: "ready" }, 42);
    const ours = text(await metrics.exposition());
    // Default process metrics differ between two reads (CPU seconds, heap): compare the activator's own families.
    assert.deepEqual(activatorFamilies(ours), activatorFamilies(await metrics.registry.metrics()));
    assert.match(ours, /^activator_cold_start_phase_seconds_bucket\{le="120",model="ns\/a",phase="ready"\} 1$/m);
  });

  it("yields to the event loop every slice: one yield per batch when each batch takes longer than a slice", async () => {
    const registry = registryWith(30);
    let clock = 0;
    let yields = 0;
    const chunks = await renderExposition(registry, {
      batchLines: 8, // a phase histogram series is 5 buckets + 3 lines: one series per batch
      sliceMs: 1,
      now: () => (clock += 1),
      yieldToLoop: async () => void yields++,
    });
    // requests: 60 series in batches of 8; the unlabelled counter and the empty histogram: one batch each; phases: 60
    // series, one per batch; held: 30 series in batches of 8.
    const batches = Math.ceil(60 / 8) + 1 + 1 + 60 + Math.ceil(30 / 8);
    assert.equal(yields, batches);
    assert.equal(chunks.length, batches + 1, "one chunk per slice, and the last");
  });

  it("lets a timer that falls due during a large render fire before the render ends (prom-client's own does not)", async () => {
    const registry = registryWith(2000);
    const firedBefore = async (render: () => Promise<unknown>) => {
      let fired = false;
      const timer = setTimeout(() => (fired = true), 0);
      await render();
      clearTimeout(timer);
      return fired;
    };
    assert.equal(await firedBefore(() => registry.metrics()), false, "prom-client renders in one block of microtasks");
    assert.equal(await firedBefore(() => renderExposition(registry)), true);
  });
});
