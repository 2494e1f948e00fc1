/**
 * A crash-looping canary falls back to the stable, visibly, through the real activator process in readiness mode
 * `kubernetes` against the fake API server: the stable is ready (its EndpointSlice points at a local backend), the
 * canary's pod is in CrashLoopBackOff. Requests held for the canary move to the stable when the cause is seen; new
 * requests drawn for it go to the stable; the fallback is counted (metric), logged and shown on /queue; once the
 * canary's pod runs again, draws hold for the canary again.
 */
import { strict as assert } from "node:assert";
import type http from "node:http";
import { ActivatorProcess } from "../../../testing/activator/activatorProcess";
import { TestBackend } from "../../../testing/activator/backend";
import { endpointSlice, FakeKubeApi } from "../../../testing/activator/fakeKubeApi";
import { eventually, send, sendJson, sleep, type HttpResult } from "../../../testing/activator/http";
import { containers, predictorPod } from "../../../testing/activator/kubeObjects";

type Queue = { models: Record<string, { held: number; failure?: { cause: string }; canary?: { fallbacks: Record<string, number>; bypassed?: { cause: string } } }> };

describe("activator: a canary that cannot start falls back to the stable (readiness mode kubernetes)", function () {
  this.timeout(60_000);
  let api: FakeKubeApi;
  let act: ActivatorProcess;
  let stable: TestBackend;
  let kubeConfigFile: string;
  const open: http.ClientRequest[] = [];

  before(async () => {
    api = await FakeKubeApi.start();
    stable = await TestBackend.create();
    await stable.start();
    api.apply(endpointSlice({ namespace: "models", service: "qwen-predictor", name: "qwen-predictor-abc", ready: [true], address: "127.0.0.1", port: stable.port }));
    kubeConfigFile = api.kubeConfigFile();
    const models = [
      {
        name: "qwen",
        namespace: "models",
        backend: "http://qwen-predictor.models.svc.cluster.local",
        readinessPath: "/v2/health/ready",
        hosts: ["qwen.test"],
        coldStartTimeoutSeconds: 30,
        canary: { backend: "http://qwen-canary-predictor.models.svc.cluster.local", trafficPercent: 100, stickiness: { by: "none" } },
      },
    ];
    act = await ActivatorProcess.start({ readiness: { mode: "kubernetes" }, models }, { env: { KUBECONFIG: kubeConfigFile } });
    await sleep(500); // the watches open
  });
  after(async () => {
    for (const req of open.splice(0)) req.destroy();
    await act?.stop();
    await api?.stop();
    await stable?.stop();
  });

  const request = (): Promise<HttpResult> => send(`${act.proxyUrl}/v1/x`, { headers: { host: "qwen.test" }, onRequest: (req) => open.push(req) });
  const queue = async () => (await sendJson<Queue>(`${act.adminUrl}/queue`)).json;
  const servedBy = (res: HttpResult) => (JSON.parse(res.body) as { port: number }).port;

  it("moves requests held for the crash-looping canary to the stable, then sends new draws there, counted, logged and on /queue", async () => {
    const held = [request(), request()];
    await eventually(async () => (await queue()).models["models/qwen-canary"]?.held === 2, "2 requests held for the cold canary", 3000, 5);
    api.apply(predictorPod({ model: "qwen-canary", phase: "Running", containerStatuses: [containers.crashLoop("Error", 1)] }));
    for (const res of await Promise.all(held)) {
      assert.equal(res.status, 200, res.body);
      assert.equal(servedBy(res), stable.port, "served by the stable");
    }
    assert.ok(act.logs.some((l) => l.msg === "held requests moved to the stable" && l["cause"] === "model_cannot_start"));

    for (let i = 0; i < 3; i++) {
      const res = await request();
      assert.equal(res.status, 200);
      assert.equal(servedBy(res), stable.port);
    }
    const q = await queue();
    assert.equal(q.models["models/qwen-canary"]!.failure!.cause, "CrashLoopBackOff");
    assert.equal(q.models["models/qwen"]!.canary!.fallbacks["cannot_start"], 3);
    assert.equal(q.models["models/qwen"]!.canary!.bypassed!.cause, "CrashLoopBackOff");
    const metrics = (await send(`${act.adminUrl}/metrics`)).body;
    assert.match(metrics, /^activator_canary_fallbacks_total\{model="models\/qwen",reason="cannot_start"\} 3$/m);
    assert.ok(act.logs.some((l) => l.msg === "canary cannot start: its requests go to the stable" && l["cause"] === "CrashLoopBackOff"));
  });

  it("holds for the canary again once its pod runs (the cause cleared)", async () => {
    api.apply(predictorPod({ model: "qwen-canary", phase: "Running", containerStatuses: [containers.running()] }));
    await eventually(async () => !(await queue()).models["models/qwen-canary"]!.failure, "the canary's failure to clear", 3000, 5);
    void request().catch(() => undefined);
    await eventually(async () => (await queue()).models["models/qwen-canary"]!.held === 1, "a request held for the canary again", 3000, 5);
  });
});
