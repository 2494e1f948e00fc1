/**
 * vLLM's saturation gauges reported to KEDA by the activator itself: folded over engines and replicas (pure), then
 * through the real process: a vLLM stand-in's /metrics read while the model is up, served as two more metrics of the
 * one external-push trigger, with the model's own targets; never an error when the replica stops answering.
 */
import { strict as assert } from "node:assert";
import { foldReplicaTexts } from "../../../activator/src/engine/vllmGauges";
import { ActivatorProcess } from "../../../testing/activator/activatorProcess";
import { config, model } from "../../../testing/activator/config";
import { FakeVllm, vllmMetricsText } from "../../../testing/activator/fakeVllm";
import { eventually } from "../../../testing/activator/http";
import { KedaClient } from "../../../testing/activator/kedaClient";

describe("activator engine metrics: vLLM gauges", function () {
  this.timeout(30_000);

  describe("folding replicas' texts", () => {
    const text = (waiting: number[], kvCache: number[]) => vllmMetricsText({ waiting, kvCache });
    const table: Array<[what: string, texts: Array<string | undefined>, expected: { waiting: number; kvCache: number; replicas: number }]> = [
      ["no replica", [], { waiting: 0, kvCache: 0, replicas: 0 }],
      ["one replica", [text([3], [0.5])], { waiting: 3, kvCache: 0.5, replicas: 1 }],
      ["replicas: waiting summed, usage summed (the HPA averages it)", [text([3], [0.5]), text([4], [0.9])], { waiting: 7, kvCache: 1.4, replicas: 2 }],
      ["data-parallel engines: waiting summed, usage averaged within the replica", [text([2, 6], [0.2, 0.6])], { waiting: 8, kvCache: 0.4, replicas: 1 }],
      ["a replica that did not answer adds nothing", [text([3], [0.5]), undefined], { waiting: 3, kvCache: 0.5, replicas: 1 }],
      ["a text without the gauges adds nothing", ["process_cpu_seconds_total 3"], { waiting: 0, kvCache: 0, replicas: 0 }],
      ["out-of-range values are clamped, NaN skipped", ["vllm:num_requests_waiting -2\nvllm:kv_cache_usage_perc 1.7\nvllm:kv_cache_usage_perc NaN"], { waiting: 0, kvCache: 1, replicas: 1 }],
    ];
    for (const [what, texts, expected] of table) {
      it(what, () => {
        const folded = foldReplicaTexts(texts);
        assert.deepEqual({ ...folded, kvCache: Math.round(folded.kvCache * 1e9) / 1e9 }, expected);
      });
    }
  });

  describe("through the activator", () => {
    let act: ActivatorProcess | undefined;
    let keda: KedaClient | undefined;
    let vllm: FakeVllm | undefined;
    afterEach(async () => {
      keda?.close();
      await act?.stop();
      await vllm?.stop();
    });

    const value = async (name: string) => (await keda!.getMetrics("test/llm", name))[0]!.metricValueFloat;

    it("reports waiting requests and KV-cache usage next to demand, with the model's targets, from /metrics of the ready replica", async () => {
      vllm = await FakeVllm.start();
      vllm.set({ waiting: [7], kvCache: [0.9] });
      act = await ActivatorProcess.start(
        config([model("llm", vllm.url, { vllm: { waitingRequestsPerReplica: 2, kvCacheUsage: 0.6 }, targetConcurrency: 8 })], {
          engineMetrics: { intervalSeconds: 0.1 },
        }),
      );
      keda = new KedaClient(act.scalerAddress);
      const specs = await keda.getMetricSpec("test/llm");
      assert.deepEqual(
        specs.map((s) => [s.metricName, s.targetSizeFloat]),
        [
          ["activator-demand-test-llm", 8],
          ["activator-vllm-waiting-test-llm", 2],
          ["activator-vllm-kv-cache-test-llm", 0.6],
        ],
      );
      await eventually(async () => (await value("activator-vllm-waiting-test-llm")) === 7, "waiting requests read from vLLM", 5000, 20);
      assert.equal(await value("activator-vllm-kv-cache-test-llm"), 0.9);
      assert.equal(await value("activator-demand-test-llm"), 0, "demand is still the activator's own count");
      vllm.set({ waiting: [0], kvCache: [0.1] });
      await eventually(async () => (await value("activator-vllm-kv-cache-test-llm")) === 0.1, "the new usage", 5000, 20);
      assert.ok(vllm.metricsRequests >= 2);

      // The replica goes away: the values fall to 0, and KEDA never gets an error (which would block scale-to-zero).
      await vllm.stop();
      vllm = undefined;
      await eventually(async () => (await value("activator-vllm-kv-cache-test-llm")) === 0, "stale values to stop counting", 5000, 20);
      assert.equal(await keda.isActive("test/llm"), false);
    });

    it("reports demand alone for a model without vllm", async () => {
      vllm = await FakeVllm.start();
      act = await ActivatorProcess.start(config([model("iris", vllm.url)], { engineMetrics: { intervalSeconds: 0.1 } }));
      keda = new KedaClient(act.scalerAddress);
      assert.deepEqual((await keda.getMetricSpec("test/iris")).map((s) => s.metricName), ["activator-demand-test-iris"]);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(vllm.metricsRequests, 0, "no scrape for a model that is not vLLM");
    });
  });
});
