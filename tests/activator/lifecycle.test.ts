/**
 * The activator process's life: config refused at start naming the key, reloads applied or refused while the
 * old config keeps serving, admin endpoints, and the staged SIGTERM shutdown.
 */
import { strict as assert } from "node:assert";
import * as grpc from "@grpc/grpc-js";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { TestBackend } from "../../testing/activator/backend";
import { config, model } from "../../testing/activator/config";
import { eventually, keepAliveAgent, send, sendJson } from "../../testing/activator/http";
import { KedaClient } from "../../testing/activator/kedaClient";

type ErrorBody = { error: { code: string; message: string } };

describe("activator: lifecycle", function () {
  this.timeout(30_000);
  const agent = keepAliveAgent();
  const backends: TestBackend[] = [];
  let act: ActivatorProcess | undefined;

  const backend = async (start = true) => {
    const created = await TestBackend.create();
    backends.push(created);
    if (start) await created.start();
    return created;
  };
  afterEach(async () => {
    await act?.stop();
    act = undefined;
    await Promise.all(backends.splice(0).map((b) => b.stop()));
  });
  after(() => agent.destroy());

  describe("config refused at start", () => {
    const refused = async (text: string, ext: string, expected: RegExp[]) => {
      act = await ActivatorProcess.start(text, { ext, waitListening: false });
      assert.equal(await act.exited, 1, "exit code 1");
      const output = act.output();
      for (const pattern of expected) assert.match(output, pattern);
      assert.ok(!act.logs.some((l) => l.msg === "activator listening"), "nothing was served");
    };

    it("names each bad key of a YAML file", () =>
      refused(
        [
          "readiness: { mode: probe }",
          "models:",
          "  - { name: a, namespace: ns, backend: 'http://a.ns', readinessPath: /h, hosts: [a.test] }",
          "  - { name: b, namespace: ns, backend: 'ftp://b.ns', readinessPath: /h, hosts: [b.test], maxPendng: 3 }",
        ].join("\n"),
        "yaml",
        [/models\[1\]\.backend: must be http:\/\/ or https:\/\//, /models\[1\]\.maxPendng: unknown key/],
      ));

    it("names the key in a JSON file, and reports a syntax error with its position", async () => {
      await refused(JSON.stringify({ models: [], limits: { maxBodyBytes: -1 } }), "json", [/limits\.maxBodyBytes: /]);
      await act!.stop();
      await refused("models:\n  - name: [unclosed", "yaml", [/not valid YAML/, /line 2/]);
    });
  });

  it("applies a valid reloaded config without restart and refuses a bad one, the old one serving on", async () => {
    const a = await backend();
    const b = await backend();
    const cold = await backend(false);
    const first = config([model("a", a.url), model("cold", cold.url), model("moved", cold.url)]);
    act = await ActivatorProcess.start(first);
    const keda = new KedaClient(act.scalerAddress);
    try {
      const get = (host: string) => send(`${act!.proxyUrl}/x`, { headers: { host }, agent });
      assert.equal((await get("a.test")).status, 200);
      const heldForRemoved = get("cold.test");
      const heldForMoved = get("moved.test");
      await eventually(async () => (await sendJson<{ held: number }>(`${act!.adminUrl}/queue`)).json.held === 2, "2 held requests");

      act.writeConfig({ ...first, models: [{ ...model("a", a.url), backend: "not a url" }] });
      const refusedLine = await act.waitForLog((l) => l.msg.startsWith("config change refused"));
      assert.match(refusedLine.msg, /models\[0\]\.backend: not a URL/);
      assert.equal((await get("a.test")).status, 200, "the old config still routes");
      assert.equal((await sendJson<{ held: number }>(`${act.adminUrl}/queue`)).json.held, 2, "held requests kept");

      act.writeConfig(config([model("a", a.url, { targetConcurrency: 7 }), model("b", b.url), model("moved", b.url)]));
      await act.waitForLog((l) => l.msg === "config reloaded");
      const toB = await sendJson<{ port: number }>(`${act.proxyUrl}/x`, { headers: { host: "b.test" }, agent });
      assert.equal(toB.json.port, b.port, "the added model is routed");
      assert.equal((await keda.getMetricSpec("test/a"))[0]!.targetSize, 7, "changed settings applied");
      assert.equal((await keda.getMetricSpec("test/b"))[0]!.targetSize, 10, "KEDA sees the added model");

      const moved = await heldForMoved;
      assert.equal(moved.status, 200, "a request held for a model whose backend changed goes to the new backend");
      assert.equal((JSON.parse(moved.body) as { port: number }).port, b.port);
      const removed = await heldForRemoved;
      assert.equal(removed.status, 503, "a request held for a removed model is answered");
      assert.equal((JSON.parse(removed.body) as ErrorBody).error.code, "model_removed");
      assert.equal((await get("cold.test")).status, 404, "the removed model is no longer routed");
      await assert.rejects(keda.getMetrics("test/cold"), (err: grpc.ServiceError) => err.code === grpc.status.NOT_FOUND);
      const metrics = (await send(`${act.adminUrl}/metrics`)).body;
      assert.match(metrics, /activator_config_reloads_total\{result="applied"\} 1/);
      assert.match(metrics, /activator_config_reloads_total\{result="rejected"\} 1/);
    } finally {
      keda.close();
    }
  });

  it("serves /healthz, /readyz, /metrics and /queue on the admin port", async () => {
    const a = await backend();
    act = await ActivatorProcess.start(config([model("a", a.url)]));
    assert.equal((await send(`${act.adminUrl}/healthz`)).status, 200);
    assert.equal((await send(`${act.adminUrl}/readyz`)).status, 200);
    await send(`${act.proxyUrl}/x`, { headers: { host: "a.test" }, agent });
    const metrics = await send(`${act.adminUrl}/metrics`);
    assert.match(String(metrics.headers["content-type"]), /text\/plain/);
    for (const name of [
      "activator_requests_total",
      "activator_held_requests",
      "activator_in_flight_requests",
      "activator_cold_start_duration_seconds",
      "activator_cold_starts_total",
      "activator_requests_held_total",
      "activator_requests_served_warm_total",
      "activator_cold_start_wait_seconds",
      "activator_activation_push_seconds",
      "activator_proxy_latency_seconds",
      "activator_rejections_total",
    ]) {
      assert.match(metrics.body, new RegExp(`# TYPE ${name} `), name);
    }
    assert.match(metrics.body, /activator_requests_total\{model="test\/a",status="200"\} 1/);
    const queue = await sendJson(`${act.adminUrl}/queue`);
    const { cluster, ...counts } = queue.json as { cluster: { name: string; peers: unknown[]; targets: unknown[] } };
    assert.deepEqual(counts, { held: 0, inFlight: 0, models: { "test/a": { held: 0, inFlight: 0, ready: true, clusterDemand: 0 } } });
    assert.deepEqual([cluster.peers, cluster.targets], [[], []], "alone: no peers configured");
    assert.match(cluster.name, /^.+:\d+$/, "named <host>:<pid> outside Kubernetes");
    assert.equal((await send(`${act.adminUrl}/nope`)).status, 404);
  });

  it("on SIGTERM fails /readyz at once, stops accepting, lets held and in-flight requests finish, exits 0", async () => {
    const warm = await backend();
    const cold = await backend(false);
    act = await ActivatorProcess.start(config([model("warm", warm.url), model("cold", cold.url)], { shutdownGraceSeconds: 10 }));
    const held = [1, 2, 3].map(() => send(`${act!.proxyUrl}/held`, { headers: { host: "cold.test" } }));
    const inFlight = [1, 2].map(() => send(`${act!.proxyUrl}/slow`, { headers: { host: "warm.test", "x-backend-delay": "500" } }));
    await eventually(async () => {
      const q = (await sendJson<{ held: number; inFlight: number }>(`${act!.adminUrl}/queue`)).json;
      return q.held === 3 && q.inFlight === 2;
    }, "3 held and 2 in flight");

    const signalledAt = performance.now();
    act.kill("SIGTERM");
    await eventually(async () => (await send(`${act!.adminUrl}/readyz`)).status === 503, "/readyz to fail", 500);
    const readyzFailedMs = performance.now() - signalledAt;
    await eventually(
      () => send(`${act!.proxyUrl}/new`, { headers: { host: "warm.test" } }).then(() => false, (err: NodeJS.ErrnoException) => err.code === "ECONNREFUSED"),
      "new connections to be refused",
      1000,
    );

    void cold.startAfter(300); // the model comes up during the grace period
    for (const res of await Promise.all([...held, ...inFlight])) assert.equal(res.status, 200, res.body);
    assert.equal(await act.exited, 0);
    const stoppedMs = performance.now() - signalledAt;
    console.log(`      SIGTERM: /readyz failed after ${readyzFailedMs.toFixed(0)} ms; 5 requests drained, exit 0 after ${stoppedMs.toFixed(0)} ms`);
    assert.ok(readyzFailedMs < 200);
  });

  it("after the grace period answers requests still held with 503 and exits 0", async () => {
    const cold = await backend(false);
    act = await ActivatorProcess.start(config([model("cold", cold.url)], { shutdownGraceSeconds: 0.5 }));
    const held = send(`${act.proxyUrl}/held`, { headers: { host: "cold.test" } });
    await eventually(async () => (await sendJson<{ held: number }>(`${act!.adminUrl}/queue`)).json.held === 1, "a held request");
    act.kill("SIGTERM");
    const res = await held;
    assert.equal(res.status, 503);
    assert.equal((JSON.parse(res.body) as ErrorBody).error.code, "shutting_down");
    assert.equal(await act.exited, 0);
  });
});
