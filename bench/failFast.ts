/**
 * Fail fast: a model's pod turns to CrashLoopBackOff in the API server → the held client has its 503
 * `model_cannot_start`, next to the floor: the same Pod event reaching a bare @kubernetes/client-node watch in the
 * bench process, in the same run.
 *
 * Readiness mode `kubernetes` against the fake API server (testing/activator/fakeKubeApi.ts), no ready endpoint.
 * Each sample: one request for a model is written on a pre-connected socket and held (checked on /queue), the Pod is
 * applied (t0), the first response bytes arrive (t1); the Pod is then deleted and the failure seen cleared before the
 * model is used again.
 */
import net from "node:net";
import { Watch } from "@kubernetes/client-node";
import { FakeKubeApi } from "../testing/activator/fakeKubeApi";
import { containers, predictorPod } from "../testing/activator/kubeObjects";
import { startActivator, type BenchActivator } from "./lib/activator";
import { deadline, fixed, summarize, type Bench, type BenchContext, type BenchResult } from "./lib/report";

type Queue = { models: Record<string, { held: number; failure?: { cause: string } }> };

function heldRequest(port: number, host: string): Promise<{ socket: net.Socket; firstByte: Promise<{ at: number; text: string }> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.setNoDelay(true);
    socket.once("error", reject);
    socket.once("connect", () => {
      const firstByte = new Promise<{ at: number; text: string }>((done) => socket.once("data", (d: Buffer) => done({ at: performance.now(), text: d.toString("latin1") })));
      socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: ${host}\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}`);
      resolve({ socket, firstByte });
    });
  });
}

export const failFast: Bench = {
  name: "fail-fast",
  repeatWhenDisturbed: true,
  description: "pod in CrashLoopBackOff → held client's 503 model_cannot_start",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const samples = ctx.smoke ? 10 : 300;
    const modelCount = ctx.smoke ? 2 : 10;
    let api: FakeKubeApi | undefined;
    let act: BenchActivator | undefined;
    let watchAbort: AbortController | undefined;
    const sockets = new Set<net.Socket>();
    try {
      api = await FakeKubeApi.start();
      const names = Array.from({ length: modelCount }, (_, i) => `m${i}`);
      act = await startActivator(
        {
          readiness: { mode: "kubernetes" },
          models: names.map((name) => ({ name, namespace: "models", backend: `http://${name}-predictor.models.svc.cluster.local`, readinessPath: "/health", hosts: [`${name}.fail.bench`] })),
        },
        ctx.cores.proxy,
        { kubeApi: api },
      );
      const queue = async () => (await act!.queue()) as unknown as Queue;
      // The floor: the same Pod events delivered to a bare watch in this process.
      let watchedAt: number | undefined;
      watchAbort = await new Watch(api.kubeConfig()).watch(
        "/api/v1/namespaces/models/pods",
        {},
        (type: string) => {
          if (type !== "DELETED") watchedAt ??= performance.now();
        },
        () => undefined,
      );
      const toClient: number[] = [];
      const toWatch: number[] = [];
      const overdue = deadline(60_000 + samples * 200, "fail-fast");
      for (let i = 0; i < samples; i++) {
        overdue();
        const name = names[i % modelCount]!;
        const { socket, firstByte } = await heldRequest(act.process.proxyPort, `${name}.fail.bench`);
        sockets.add(socket);
        await act.waitQueue((q) => (q as unknown as Queue).models[`models/${name}`]!.held === 1, `request held for ${name}`);
        const pod = predictorPod({ model: name, phase: "Running", containerStatuses: [containers.crashLoop("Error", 1)] });
        watchedAt = undefined;
        const appliedAt = performance.now();
        api.apply(pod);
        const answer = await firstByte;
        if (!answer.text.startsWith("HTTP/1.1 503") || !answer.text.includes("model_cannot_start")) throw new Error(`expected 503 model_cannot_start, got ${answer.text.slice(0, 200)}`);
        toClient.push(answer.at - appliedAt);
        if (watchedAt !== undefined) toWatch.push(watchedAt - appliedAt);
        socket.destroy();
        sockets.delete(socket);
        api.remove("models", pod.metadata!.name!, "Pod");
        const cleared = deadline(5000, `failure of ${name} to clear`);
        while ((await queue()).models[`models/${name}`]!.failure) cleared();
      }
      const client = summarize(toClient);
      const floor = summarize(toWatch);
      return {
        name: "fail-fast",
        method: {
          readiness: "kubernetes (fake API server: EndpointSlices, Pods, Events, InferenceServices)",
          samples,
          models: modelCount,
          cause: "CrashLoopBackOff (kserve-container, last termination Error exit 1)",
          measured: "bench: Pod applied in the fake API → first response byte on the held client's socket; floor: → the Pod event at a bare client-node Watch",
        },
        figures: { toClientMs: client, watchFloorMs: floor },
        tables: [
          {
            title: `Pod in CrashLoopBackOff → response (${samples} samples; ms)`,
            columns: ["measure", "count", "p50", "p99", "p99.9", "max", "mean"],
            rows: [
              ["bare watch gets the Pod event (floor)", floor.count, fixed(floor.p50, 3), fixed(floor.p99, 3), fixed(floor.p999, 3), fixed(floor.max, 3), fixed(floor.mean, 3)],
              ["held client gets 503 model_cannot_start", client.count, fixed(client.p50, 3), fixed(client.p99, 3), fixed(client.p999, 3), fixed(client.max, 3), fixed(client.mean, 3)],
            ],
          },
        ],
        targets: [{ what: "state change → client's 503 p99", target: "≤ 1000 ms", value: client.p99, unit: "ms", met: client.p99 <= 1000 }],
      };
    } finally {
      watchAbort?.abort();
      for (const socket of sockets) socket.destroy();
      await act?.stop();
      await api?.stop();
    }
  },
};
