/**
 * A stand-in for a vLLM replica's HTTP surface the activator reads: `GET /health` (200) and `GET /metrics`, the
 * Prometheus text vLLM's PrometheusStatLogger exports (vllm/v1/metrics/loggers.py), with gauges set by the test.
 *
 *   const vllm = await FakeVllm.start();  vllm.url
 *   vllm.set({ waiting: [3], kvCache: [0.5] })   // one value per engine (data-parallel engines: several)
 */
import http from "node:http";
import type net from "node:net";

export function vllmMetricsText(gauges: { waiting: number[]; kvCache: number[] }, model = "Qwen/Qwen2.5-0.5B-Instruct"): string {
  const lines = [
    "# HELP vllm:num_requests_running Number of requests in model execution batches.",
    "# TYPE vllm:num_requests_running gauge",
    ...gauges.waiting.map((_, i) => `vllm:num_requests_running{engine="${i}",model_name="${model}"} 2.0`),
    "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.",
    "# TYPE vllm:num_requests_waiting gauge",
    ...gauges.waiting.map((v, i) => `vllm:num_requests_waiting{engine="${i}",model_name="${model}"} ${v.toFixed(1)}`),
    "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.",
    "# TYPE vllm:kv_cache_usage_perc gauge",
    ...gauges.kvCache.map((v, i) => `vllm:kv_cache_usage_perc{engine="${i}",model_name="${model}"} ${v}`),
    "# HELP vllm:e2e_request_latency_seconds Histogram of e2e request latency in seconds.",
    "# TYPE vllm:e2e_request_latency_seconds histogram",
    `vllm:e2e_request_latency_seconds_bucket{engine="0",le="0.3",model_name="${model}"} 0.0`,
    `vllm:e2e_request_latency_seconds_bucket{engine="0",le="+Inf",model_name="${model}"} 4.0`,
    `vllm:e2e_request_latency_seconds_count{engine="0",model_name="${model}"} 4.0`,
    "",
  ];
  return lines.join("\n");
}

export class FakeVllm {
  metricsRequests = 0;
  private gauges = { waiting: [0], kvCache: [0] };
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeVllm> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    const fake = new FakeVllm(server, `http://127.0.0.1:${port}`);
    server.on("connection", (s: net.Socket) => {
      fake.sockets.add(s);
      s.once("close", () => fake.sockets.delete(s));
    });
    server.on("request", (req, res) => {
      if (req.url === "/metrics") {
        fake.metricsRequests++;
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
        res.end(vllmMetricsText(fake.gauges));
      } else {
        res.writeHead(200, { "content-type": "application/json" });
        res.end('{"status":"ok"}');
      }
    });
    return fake;
  }

  set(gauges: { waiting: number[]; kvCache: number[] }): void {
    this.gauges = gauges;
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}
