/**
 * Cross-replica activation: a cold request at replica A → `true` on the StreamIsActive KEDA holds on replica C, next
 * to the single-replica push (request and stream both on C) as the reference, alternating, in the same run.
 *
 * Three activator processes on loopback share demand (static `peers`, the same push between peers as in a cluster),
 * all pinned to the core of the proxy under test (the driver, KEDA's stand-in, keeps the other).
 * Readiness mode `kubernetes` against the fake API server with no EndpointSlice keeps every model at zero without
 * probing (a probe loop per woken model would load the core the replicas share). The bench plays KEDA with one
 * StreamIsActive per model on C. Each sample: a pre-connected socket writes one request for a model to A (or C)
 * (t0), the `true` arrives on C's stream (t1), the socket closes (demand back to 0, told to peers within 50 ms).
 * Models cycle and are reused only ≥ 250 ms after their last push, so neither the scaler's 20 ms coalescing nor a
 * peer update still under way hides a push; the activation heartbeat is 60 s.
 * The first 2 × models samples (each model once on each path) warm the replicas up (JIT, first connections between
 * peers): they are reported on their own, not in the figures.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { FakeKubeApi } from "../testing/activator/fakeKubeApi";
import { ActivatorCluster } from "../testing/activator/cluster";
import { KedaClient, type IsActiveStream } from "../testing/activator/kedaClient";
import { pin, removeOnExit, track } from "./lib/processes";
import { deadline, fixed, sleep, summarize, type Bench, type BenchContext, type BenchResult } from "./lib/report";

const REUSE_GAP_MS = 250;

function connected(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.setNoDelay(true);
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

export const peerPush: Bench = {
  name: "peer-push",
  repeatWhenDisturbed: true,
  description: "cold request at replica A → true on the KEDA stream held by replica C",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const samples = ctx.smoke ? 20 : 600;
    const modelCount = ctx.smoke ? 4 : 24;
    const warmup = 2 * modelCount;
    let cluster: ActivatorCluster | undefined;
    let keda: KedaClient | undefined;
    let api: FakeKubeApi | undefined;
    const sockets = new Set<net.Socket>();
    try {
      api = await FakeKubeApi.start();
      const kubeconfig = path.join(removeOnExit(mkdtempSync(path.join(tmpdir(), "bench-kubeconfig-"))), "config");
      writeFileSync(kubeconfig, api.kubeConfig().exportConfig());
      const names = Array.from({ length: modelCount }, (_, i) => `m${i}`);
      cluster = await ActivatorCluster.start(
        3,
        {
          readiness: { mode: "kubernetes" },
          activation: { heartbeatSeconds: 60 },
          models: names.map((name) => ({ name, namespace: "bench", backend: `http://${name}.bench.svc.cluster.local`, readinessPath: "/health", hosts: [`${name}.peer.bench`] })),
        },
        { heartbeatSeconds: 1, ttlSeconds: 3 },
        { KUBECONFIG: kubeconfig },
      );
      // Spawned by the driver, the replicas inherit its core: move them to the core of the proxy under test.
      for (const r of cluster.replicas) {
        track(r.child);
        pin(r.child.pid!, ctx.cores.proxy);
      }
      const [a, , c] = cluster.replicas as [NonNullable<typeof cluster.replicas[0]>, unknown, NonNullable<typeof cluster.replicas[0]>];
      keda = new KedaClient(c.scalerAddress);
      const streams: IsActiveStream[] = [];
      for (const name of names) {
        const stream = keda.streamIsActive(`bench/${name}`);
        if ((await stream.next(5000)).result) throw new Error(`StreamIsActive bench/${name} opened with true`);
        streams.push(stream);
      }
      const lastPushAt = names.map(() => -Infinity);
      const cross: number[] = [];
      const local: number[] = [];
      const warm: number[] = [];
      const overdue = deadline(60_000 + (warmup + samples) * 60, "peer-push");
      for (let i = 0; i < warmup + samples; i++) {
        overdue();
        const m = i % modelCount;
        const viaPeer = i % 2 === 0;
        const socket = await connected((viaPeer ? a : c).proxyPort);
        sockets.add(socket);
        const wait = lastPushAt[m]! + REUSE_GAP_MS - performance.now();
        if (wait > 0) await sleep(wait);
        const stream = streams[m]!;
        stream.skipReceived();
        const sentAt = performance.now();
        socket.write(`GET /p/${i} HTTP/1.1\r\nHost: ${names[m]}.peer.bench\r\n\r\n`);
        const push = await stream.nextTrue(3000);
        (i < warmup ? warm : viaPeer ? cross : local).push(push.at - sentAt);
        lastPushAt[m] = push.at;
        socket.destroy();
        sockets.delete(socket);
      }
      const crossStats = summarize(cross);
      const localStats = summarize(local);
      const warmStats = summarize(warm);
      return {
        name: "peer-push",
        method: {
          replicas: "3, pinned to the proxy core",
          peers: "static list of the three admin ports; one kept WebSocket per peer (GET /peers/demand upgraded); a model's first cold request pushed at once, first to the peer holding KEDA's streams",
          readiness: "kubernetes (fake API server, no EndpointSlice: models stay at zero, nothing probes)",
          samples,
          warmup: `${warmup} samples first (each model once per path), reported apart`,
          models: modelCount,
          spacing: `each model reused only ≥ ${REUSE_GAP_MS} ms after its last push`,
          measured: "bench: socket write of the request → StreamIsActive message received on C (both in the bench process)",
        },
        figures: { crossReplicaMs: crossStats, sameReplicaMs: localStats, warmupMs: warmStats },
        tables: [
          {
            title: `Cold request → true on C's StreamIsActive (${samples} samples alternating over ${modelCount} models; ms)`,
            columns: ["request sent to", "count", "p50", "p99", "p99.9", "max", "mean"],
            rows: [
              ["C itself (single-replica push, reference)", localStats.count, fixed(localStats.p50, 3), fixed(localStats.p99, 3), fixed(localStats.p999, 3), fixed(localStats.max, 3), fixed(localStats.mean, 3)],
              ["A (pushed A → C between peers)", crossStats.count, fixed(crossStats.p50, 3), fixed(crossStats.p99, 3), fixed(crossStats.p999, 3), fixed(crossStats.max, 3), fixed(crossStats.mean, 3)],
              ["warm-up before these: both, first use of each model", warmStats.count, fixed(warmStats.p50, 3), fixed(warmStats.p99, 3), fixed(warmStats.p999, 3), fixed(warmStats.max, 3), fixed(warmStats.mean, 3)],
            ],
          },
        ],
        targets: [{ what: "cross-replica activation p99", target: "≤ 10 ms", value: crossStats.p99, unit: "ms", met: crossStats.p99 <= 10 }],
      };
    } finally {
      for (const socket of sockets) socket.destroy();
      keda?.close();
      await cluster?.stop();
      await api?.stop();
    }
  },
};
