/** Per-replica vLLM readings for replica choice (fresh only) and the prefix-cache hit ratio, against fake replicas. */
import { strict as assert } from "node:assert";
import http from "node:http";
import type net from "node:net";
import pino from "pino";
import { EngineGauges, readReplicaText } from "../../../activator/src/engine/vllmGauges";

const text = (running: number, waiting: number, hits: number, queries: number) =>
  [
    `vllm:num_requests_running{engine="0"} ${running}`,
    `vllm:num_requests_waiting{engine="0"} ${waiting}`,
    `vllm:kv_cache_usage_perc{engine="0"} 0.25`,
    `vllm:prefix_cache_queries_total{engine="0"} ${queries}`,
    `vllm:prefix_cache_hits_total{engine="0"} ${hits}`,
    "",
  ].join("\n");

describe("activator engine metrics: per-replica readings and prefix-cache hit ratio", () => {
  const bodies = new Map<string, string>();
  let server: http.Server;
  let base: string;
  before(async () => {
    server = http.createServer((req, res) => res.end(bodies.get(req.url!) ?? ""));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("reads running, waiting, KV cache and the prefix-cache counters of one replica", () => {
    assert.deepEqual(readReplicaText(text(3, 2, 10, 40)), { running: 3, waiting: 2, kvCache: 0.25, prefixQueries: 40, prefixHits: 10 });
    assert.equal(readReplicaText("other_metric 1\n"), undefined);
  });

  it("gives a replica's reading while fresh, none once older than 3 intervals; the hit ratio from counter increases", async () => {
    let now = 0;
    const ratios: Array<number | undefined> = [];
    const a = `${base}/a`;
    const b = `${base}/b`;
    const endpoints = [a, b];
    const gauges = new EngineGauges({
      models: () => [["models/llm", { vllm: { waitingRequestsPerReplica: 5, kvCacheUsage: 0.8, metricsPath: "/metrics" }, ready: true, endpoints }]],
      logger: pino({ level: "silent" }),
      intervalMs: 1000,
      timeoutMs: 500,
      now: () => now,
      onPrefixCacheHitRatio: (_model, ratio) => ratios.push(ratio),
    });
    try {
      bodies.set("/a/metrics", text(4, 1, 100, 1000));
      bodies.set("/b/metrics", text(0, 0, 0, 0));
      await gauges.scrapeAll();
      assert.deepEqual(gauges.replicaReading("models/llm", a), { running: 4, waiting: 1, kvCache: 0.25, prefixQueries: 1000, prefixHits: 100 });
      assert.equal(ratios.at(-1), undefined, "one reading: no increase yet");
      // a: +300 of +400 looked-up tokens hit; b: +100 of +100
      bodies.set("/a/metrics", text(4, 1, 400, 1400));
      bodies.set("/b/metrics", text(0, 0, 100, 100));
      now = 1000;
      await gauges.scrapeAll();
      assert.equal(ratios.at(-1), 400 / 500);
      now = 1000 + 3000;
      assert.ok(gauges.replicaReading("models/llm", a), "3 intervals old: still fresh");
      now = 1000 + 3001;
      assert.equal(gauges.replicaReading("models/llm", a), undefined, "stale");
      endpoints.length = 0;
    } finally {
      gauges.close();
    }
  });
});
