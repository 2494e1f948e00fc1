/**
 * Activation push: time from a request's arrival at a cold model to `true` on KEDA's StreamIsActive.
 *
 * Readiness mode `kubernetes` against the fake EndpointSlice API with no slices, so every model stays at zero and
 * nothing probes. The bench plays KEDA (tests' KedaClient) with one StreamIsActive per model. Each cold start:
 * a pre-connected socket writes one request for a model (t0), the matching `true` arrives (t1), the socket is
 * closed (the held request is dropped, demand returns to 0). Cold starts cycle over many models and each model
 * is used again only ≥ 25 ms after its last `true`, so the scaler's 20 ms per-stream coalescing never swallows a
 * push; the heartbeat is set to 60 s so no periodic `true` lands in a measurement.
 *
 * t1 − t0 includes the client's write, the activator's HTTP parse, routing and holding, the gRPC write and the
 * client's gRPC decode: an upper bound of what the activator adds. Its own histogram (arrival → write) is
 * reported next to it.
 */
import net from "node:net";
import { FakeKubeApi } from "../testing/activator/fakeKubeApi";
import { KedaClient, type IsActiveStream } from "../testing/activator/kedaClient";
import { startActivator, type BenchActivator } from "./lib/activator";
import { deadline, fixed, sleep, summarize, type Bench, type BenchContext, type BenchResult } from "./lib/report";

const COALESCE_GAP_MS = 25;

function connected(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.setNoDelay(true);
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Mean of an activator histogram from its Prometheus text (all label sets), in ms. */
export function histogramMeanMs(metrics: string, name: string): { count: number; meanMs: number } {
  let sum = 0;
  let count = 0;
  for (const m of metrics.matchAll(new RegExp(`^${name}_(sum|count)(?:\\{[^}]*\\})? (\\S+)$`, "gm"))) {
    if (m[1] === "sum") sum += Number(m[2]);
    else count += Number(m[2]);
  }
  return { count, meanMs: count > 0 ? (sum / count) * 1000 : NaN };
}

export const activationPush: Bench = {
  name: "activation-push",
  repeatWhenDisturbed: true,
  description: "request arrival at a cold model → true on StreamIsActive",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const coldStarts = ctx.smoke ? 30 : 1000;
    const modelCount = ctx.smoke ? 4 : 20;
    let api: FakeKubeApi | undefined;
    let act: BenchActivator | undefined;
    let keda: KedaClient | undefined;
    const sockets = new Set<net.Socket>();
    try {
      api = await FakeKubeApi.start();
      const names = Array.from({ length: modelCount }, (_, i) => `m${i}`);
      act = await startActivator(
        {
          readiness: { mode: "kubernetes" },
          activation: { heartbeatSeconds: 60 },
          models: names.map((name) => ({
            name,
            namespace: "bench",
            backend: `http://${name}.bench.svc.cluster.local`,
            readinessPath: "/health",
            hosts: [`${name}.push.bench`],
          })),
        },
        ctx.cores.proxy,
        { kubeApi: api },
      );
      await act.waitQueue((q) => Object.keys(q.models).length === modelCount, "models configured");
      keda = new KedaClient(act.process.scalerAddress);
      const streams: IsActiveStream[] = [];
      for (const name of names) {
        const stream = keda.streamIsActive(`bench/${name}`);
        const first = await stream.next(5000);
        if (first.result) throw new Error(`StreamIsActive bench/${name} opened with true: the model has demand already`);
        streams.push(stream);
      }
      const lastTrueAt = names.map(() => -Infinity);
      const latencies: number[] = [];
      const overdue = deadline(60_000 + coldStarts * 50, "activation-push");
      for (let i = 0; i < coldStarts; i++) {
        overdue();
        const m = i % modelCount;
        const socket = await connected(act.process.proxyPort);
        sockets.add(socket);
        const wait = lastTrueAt[m]! + COALESCE_GAP_MS - performance.now();
        if (wait > 0) await sleep(wait);
        const stream = streams[m]!;
        stream.skipReceived();
        const sentAt = performance.now();
        socket.write(`GET /push/${i} HTTP/1.1\r\nHost: ${names[m]}.push.bench\r\n\r\n`);
        const push = await stream.nextTrue(2000);
        latencies.push(push.at - sentAt);
        lastTrueAt[m] = push.at;
        socket.destroy();
        sockets.delete(socket);
      }
      await act.waitQueue((q) => q.held === 0, "dropped requests no longer held");
      const own = histogramMeanMs(await act.metrics(), "activator_activation_push_seconds");
      const stats = summarize(latencies);
      return {
        name: "activation-push",
        method: {
          readiness: "kubernetes (fake EndpointSlice API, no ready endpoint: models stay at zero)",
          coldStarts,
          models: modelCount,
          spacing: `each model reused only ≥ ${COALESCE_GAP_MS} ms after its last true (scaler coalesces within 20 ms per stream)`,
          heartbeatSeconds: 60,
          measured: "bench: socket write of the request → StreamIsActive message received (both in the bench process)",
        },
        figures: { pushMs: stats, activatorOwnHistogram: own },
        tables: [
          {
            title: `Activation push: request written → true received on StreamIsActive (${coldStarts} cold starts over ${modelCount} models; ms)`,
            columns: ["measure", "count", "p50", "p99", "p99.9", "max", "mean"],
            rows: [
              ["client-observed", stats.count, fixed(stats.p50, 3), fixed(stats.p99, 3), fixed(stats.p999, 3), fixed(stats.max, 3), fixed(stats.mean, 3)],
              ["activator histogram (arrival → write)", own.count, "-", "-", "-", "-", fixed(own.meanMs, 3)],
            ],
          },
        ],
        targets: [{ what: "activation push p99", target: "≤ 5 ms", value: stats.p99, unit: "ms", met: stats.p99 <= 5 }],
      };
    } finally {
      for (const socket of sockets) socket.destroy();
      keda?.close();
      await act?.stop();
      await api?.stop();
    }
  },
};
