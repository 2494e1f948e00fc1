/**
 * Replica choice over real sockets: the activator process in readiness mode `kubernetes` reads a model's ready
 * endpoints from the fake API server's EndpointSlices and sends each request straight to one of them (model servers
 * on 127.0.0.11..13, one port, as pods behind one Service port), the Service address (127.0.0.1) only with policy
 * `service`. Prefix-affine keeps a conversation on one replica and walks away from a replica at its bound;
 * least-loaded spreads concurrent requests and avoids a replica whose vLLM queue is long; a listed endpoint that
 * refuses connections is passed over.
 */
import { strict as assert } from "node:assert";
import http from "node:http";
import type net from "node:net";
import type { V1EndpointSlice } from "@kubernetes/client-node";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { freePort } from "../../testing/activator/backend";
import { FakeKubeApi } from "../../testing/activator/fakeKubeApi";
import { eventually, send, sleep } from "../../testing/activator/http";

const PODS = ["127.0.0.11", "127.0.0.12", "127.0.0.13"];
const DEAD = "127.0.0.14";
const SERVICE = "127.0.0.1";

/** A model server on one address: answers `{served: <address>}` after `x-delay-ms`, and vLLM gauges on /metrics. */
class Pod {
  served = 0;
  waiting = 0;
  private readonly sockets = new Set<net.Socket>();
  constructor(
    readonly address: string,
    private readonly server: http.Server,
  ) {}

  static async start(address: string, port: number): Promise<Pod> {
    const server = http.createServer();
    const pod = new Pod(address, server);
    server.on("connection", (s: net.Socket) => {
      pod.sockets.add(s);
      s.once("close", () => pod.sockets.delete(s));
    });
    server.on("request", (req, res) => {
      if (req.url === "/metrics") {
        res.end(`vllm:num_requests_waiting{engine="0"} ${pod.waiting}\nvllm:num_requests_running{engine="0"} 0\nvllm:kv_cache_usage_perc{engine="0"} 0.1\n`);
        return;
      }
      req.resume();
      req.on("end", () => {
        pod.served++;
        setTimeout(() => res.end(JSON.stringify({ served: address })), Number(req.headers["x-delay-ms"] ?? 0));
      });
    });
    await new Promise<void>((resolve) => server.listen(port, address, resolve));
    return pod;
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

function slice(service: string, port: number, addresses: string[]): V1EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    addressType: "IPv4",
    metadata: { name: `${service}-abcde`, namespace: "models", labels: { "kubernetes.io/service-name": service } },
    endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true, serving: true, terminating: false } })),
    ports: [{ name: "http", port, protocol: "TCP" }],
  };
}

describe("activator: replica choice (readiness mode kubernetes, real sockets)", function () {
  this.timeout(60_000);
  let api: FakeKubeApi;
  let act: ActivatorProcess;
  let kubeConfigFile: string;
  let port: number;
  const pods: Pod[] = [];

  const chat = (model: string, system: string, turns: string[], delayMs = 0) =>
    send(`${act.proxyUrl}/v1/chat/completions`, {
      headers: { "content-type": "application/json", "x-delay-ms": String(delayMs) },
      body: JSON.stringify({
        model,
        messages: [{ role: "system", content: system }, ...turns.map((content, i) => ({ role: i % 2 === 0 ? "user" : "assistant", content }))],
      }),
    }).then((res) => {
      assert.equal(res.status, 200, res.body);
      return (JSON.parse(res.body) as { served: string }).served;
    });

  before(async () => {
    port = await freePort();
    for (const address of [...PODS, SERVICE]) pods.push(await Pod.start(address, port));
    api = await FakeKubeApi.start();
    kubeConfigFile = api.kubeConfigFile();
    const model = (name: string, extra: Record<string, unknown> = {}) => ({
      name,
      namespace: "models",
      backend: `http://${SERVICE}:${port}`,
      serviceName: `${name}-predictor`,
      readinessPath: "/health",
      openaiModels: [name],
      ...extra,
    });
    for (const name of ["affine", "least", "service", "gauges"]) api.apply(slice(`${name}-predictor`, port, PODS));
    api.apply(slice("dead-predictor", port, [DEAD, PODS[0]!]));
    api.apply(slice("capped-predictor", port, [PODS[0]!]));
    act = await ActivatorProcess.start(
      {
        readiness: { mode: "kubernetes" },
        engineMetrics: { intervalSeconds: 0.1, timeoutSeconds: 0.5 },
        models: [
          model("affine"),
          model("least", { replicaChoice: { policy: "least-loaded" } }),
          model("service", { replicaChoice: { policy: "service" } }),
          model("gauges", { replicaChoice: { policy: "least-loaded" }, vllm: {} }),
          model("dead", { replicaChoice: { policy: "least-loaded" } }),
          model("capped", { replicaChoice: { policy: "least-loaded" }, maxConcurrencyPerReplica: 1 }),
        ],
      },
      { env: { KUBECONFIG: kubeConfigFile } },
    );
    await sleep(500); // the watches open
  });
  after(async () => {
    await act?.stop();
    await api?.stop();
    await Promise.all(pods.map((p) => p.stop()));
  });

  it("prefix-affine: every turn of a conversation goes to one replica, conversations spread over the replicas, none to the Service", async () => {
    const used = new Set<string>();
    for (let c = 0; c < 12; c++) {
      const system = `You are assistant number ${c}.`;
      const first = await chat("affine", system, [`question ${c}`]);
      assert.ok(PODS.includes(first), `served by ${first}`);
      used.add(first);
      assert.equal(await chat("affine", system, [`question ${c}`, "answer", "follow-up"]), first, `conversation ${c} turn 2`);
      assert.equal(await chat("affine", system, [`question ${c}`, "answer", "follow-up", "answer", "more"]), first, `conversation ${c} turn 3`);
    }
    assert.ok(used.size >= 2, `12 conversations all on ${[...used].join(", ")}`);
    const metrics = (await send(`${act.adminUrl}/metrics`)).body;
    assert.match(metrics, /activator_replica_choices_total\{model="models\/affine",choice="preferred"\} 36/);
    assert.match(metrics, /activator_replica_choices_total\{model="models\/affine",choice="service"\} 0/);
  });

  it("prefix-affine: concurrent requests with one prefix walk the ring past a replica at its bound", async () => {
    const served = await Promise.all(Array.from({ length: 9 }, () => chat("affine", "One shared system prompt.", ["same question"], 500)));
    const perPod = new Map<string, number>();
    for (const s of served) perPod.set(s, (perPod.get(s) ?? 0) + 1);
    // c = 1.25, 3 replicas: after 9 placements the bound is ceil(1.25 × 9 / 3) = 4.
    for (const [pod, n] of perPod) assert.ok(n <= 4, `${pod} took ${n} of 9 (bound 4)`);
    assert.ok(perPod.size >= 3, `only ${perPod.size} replicas used`);
    const metrics = (await send(`${act.adminUrl}/metrics`)).body;
    const walked = Number(/activator_replica_choices_total\{model="models\/affine",choice="walked"\} (\d+)/.exec(metrics)?.[1]);
    assert.ok(walked >= 5, `walked ${walked}`);
  });

  it("least-loaded: three concurrent slow requests go to three replicas", async () => {
    const served = await Promise.all([0, 1, 2].map(() => chat("least", "s", ["q"], 400)));
    assert.deepEqual([...served].sort(), [...PODS].sort());
  });

  it("least-loaded with vLLM gauges: a replica with a long queue gets nothing while the others are free", async () => {
    pods[0]!.waiting = 50;
    await sleep(400); // a few scrapes
    const served = await Promise.all(Array.from({ length: 6 }, () => chat("gauges", "s", ["q"], 200)));
    assert.ok(!served.includes(PODS[0]!), `served by ${served.join(", ")}`);
    pods[0]!.waiting = 0;
  });

  it("scale-out: a request held at maxConcurrencyPerReplica goes to a new ready replica at once, not when a slot frees", async () => {
    const before = pods[0]!.served;
    const first = chat("capped", "s", ["q"], 3000);
    await eventually(() => pods[0]!.served > before, "the first request in flight", 2000);
    const sentAt = Date.now();
    const second = chat("capped", "s", ["q"], 0); // held: 1 replica × cap 1 is in use
    await sleep(200);
    api.apply(slice("capped-predictor", port, [PODS[0]!, PODS[1]!]));
    assert.equal(await second, PODS[1], "the held request went to the new replica");
    assert.ok(Date.now() - sentAt < 2000, `answered ${Date.now() - sentAt} ms after it was sent; the first replica frees at 3000 ms`);
    assert.equal(await first, PODS[0]);
  });

  it("policy service: the Service address, never an endpoint", async () => {
    for (let i = 0; i < 4; i++) assert.equal(await chat("service", "s", [`q${i}`]), SERVICE);
  });

  it("an endpoint that refuses connections is passed over: the request is served by another", async () => {
    for (let i = 0; i < 4; i++) assert.equal(await chat("dead", "s", [`q${i}`]), PODS[0]);
  });

  it("an endpoint that leaves the EndpointSlice gets no more requests", async () => {
    api.apply(slice("least-predictor", port, PODS.slice(1)));
    await eventually(async () => (await Promise.all([0, 1, 2, 3].map(() => chat("least", "s", ["q"], 50)))).every((s) => s !== PODS[0]), "pod 0 to be dropped", 3000, 50);
    const served = await Promise.all(Array.from({ length: 6 }, () => chat("least", "s", ["q"], 50)));
    assert.ok(!served.includes(PODS[0]!), `served by ${served.join(", ")}`);
  });
});
