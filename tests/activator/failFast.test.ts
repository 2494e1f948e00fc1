/**
 * Fail fast with the cause, through the real activator process in readiness mode `kubernetes` against the fake API
 * server: each cause driven by the objects Kubernetes and KServe would serve (Pods, Events, InferenceService status).
 * A held request is answered 503 + Retry-After with an OpenAI-shaped JSON error naming the model, the cause and the
 * object's own message, at once (time from the state change printed); new requests get the same until the state
 * changes; a node being added fails nothing.
 */
import { strict as assert } from "node:assert";
import type http from "node:http";
import type { KubernetesObject } from "@kubernetes/client-node";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { FakeKubeApi } from "../../testing/activator/fakeKubeApi";
import { eventually, percentile, send, sendJson, sleep, type HttpResult } from "../../testing/activator/http";
import { FAILED_CREATE_GRACE_MS } from "../../activator/src/health/causes";
import { autoscalerEvent, containers, inferenceService, predictorPod, predictorReplicaSet } from "../../testing/activator/kubeObjects";

interface Case {
  model: string;
  /** The objects that make the model fail, applied in order. */
  fail: () => KubernetesObject[];
  cause: string;
  message: RegExp;
}

const NOW = () => Date.now();
const pending = (model: string) => predictorPod({ model, unschedulableSince: NOW() });
const CASES: Case[] = [
  { model: "crash", fail: () => [predictorPod({ model: "crash", phase: "Running", containerStatuses: [containers.crashLoop("Error", 1)] })], cause: "CrashLoopBackOff", message: /back-off 1m20s restarting failed container/ },
  { model: "oom", fail: () => [predictorPod({ model: "oom", phase: "Running", containerStatuses: [containers.crashLoop("OOMKilled", 137)] })], cause: "OOMKilled", message: /OOMKilled \(exit code 137\)/ },
  { model: "pull", fail: () => [predictorPod({ model: "pull", containerStatuses: [containers.imagePull("ImagePullBackOff")] })], cause: "ImagePullBackOff", message: /Back-off pulling image/ },
  { model: "errpull", fail: () => [predictorPod({ model: "errpull", containerStatuses: [containers.imagePull("ErrImagePull")] })], cause: "ErrImagePull", message: /failed to pull and unpack image/ },
  {
    model: "storage",
    fail: () => [predictorPod({ model: "storage", initContainerStatuses: [containers.storageInitializer("Error", 1, "RuntimeError: Failed to fetch model. No model found in hf://nope/nope")] })],
    cause: "StorageInitializerFailed",
    message: /No model found in hf:\/\/nope\/nope/,
  },
  {
    model: "full",
    fail: () => {
      const pod = pending("full");
      return [pod, autoscalerEvent(pod, "NotTriggerScaleUp", "pod didn't trigger scale-up: 1 max node group size reached")];
    },
    cause: "NotTriggerScaleUp",
    message: /^pod didn't trigger scale-up: 1 max node group size reached$/,
  },
  { model: "noruntime", fail: () => [inferenceService("noruntime", "noRuntime")], cause: "NoSupportingRuntime", message: /No runtime found/ },
  {
    model: "quota",
    fail: () => [predictorReplicaSet({ model: "quota", replicas: 1, failedCreateSince: NOW() - FAILED_CREATE_GRACE_MS - 1000 })],
    cause: "FailedCreate",
    message: /forbidden: exceeded quota: gpu-quota, requested: requests.nvidia.com\/gpu=1/,
  },
];

describe("activator: fail fast with the cause (readiness mode kubernetes)", function () {
  this.timeout(60_000);
  let api: FakeKubeApi;
  let act: ActivatorProcess;
  let kubeConfigFile: string;
  const open: http.ClientRequest[] = [];

  before(async () => {
    api = await FakeKubeApi.start();
    kubeConfigFile = api.kubeConfigFile();
    const models = [...CASES.map((c) => c.model), "booting", "slowboot", "refused"].map((name) => ({
      name,
      namespace: "models",
      backend: `http://${name}-predictor.models.svc.cluster.local`,
      readinessPath: "/v2/health/ready",
      hosts: [`${name}.test`],
      coldStartTimeoutSeconds: 30,
      ...(name === "slowboot" ? { failFast: { unschedulableGraceSeconds: 2 } } : {}),
    }));
    act = await ActivatorProcess.start({ readiness: { mode: "kubernetes" }, models }, { env: { KUBECONFIG: kubeConfigFile } });
    await sleep(500); // the watches open
  });
  after(async () => {
    for (const req of open.splice(0)) req.destroy();
    await act?.stop();
    await api?.stop();
  });

  const request = (model: string): Promise<HttpResult> =>
    send(`${act.proxyUrl}/v1/x`, { headers: { host: `${model}.test` }, onRequest: (req) => open.push(req) });
  const held = async (model: string) =>
    eventually(async () => (await sendJson<{ models: Record<string, { held: number }> }>(`${act.adminUrl}/queue`)).json.models[`models/${model}`]!.held > 0, `a request held for ${model}`, 3000, 5);

  it("answers held requests at once with 503, Retry-After and the cause, for every cause; new ones too", async () => {
    const delays: number[] = [];
    for (const c of CASES) {
      const pendingRequest = request(c.model);
      await held(c.model);
      const changedAt = performance.now();
      for (const obj of c.fail()) api.apply(obj);
      const res = await pendingRequest;
      delays.push(res.firstByteAt - changedAt);
      assert.equal(res.status, 503, `${c.model}: ${res.body}`);
      assert.equal(res.headers["retry-after"], "10");
      const { error } = JSON.parse(res.body) as { error: Record<string, string> };
      assert.equal(error["code"], "model_cannot_start");
      assert.equal(error["model"], `models/${c.model}`);
      assert.equal(error["cause"], c.cause);
      assert.match(error["objectMessage"]!, c.message);
      const kind = c.cause === "NoSupportingRuntime" ? "InferenceService" : c.cause === "FailedCreate" ? "ReplicaSet" : "Pod";
      assert.match(error["object"]!, kind === "InferenceService" ? /^InferenceService models\/noruntime$/ : new RegExp(`^${kind} models/${c.model}-predictor-`));
      assert.match(error["message"]!, new RegExp(`^model models/${c.model} cannot start: ${c.cause} \\(`));

      // A new request gets the same at once, without being held.
      const t0 = performance.now();
      const again = await request(c.model);
      assert.equal(again.status, 503);
      assert.equal(JSON.parse(again.body).error.cause, c.cause);
      assert.ok(performance.now() - t0 < 1000);
    }
    console.log(
      `      state change → held client's 503: p50 ${percentile(delays, 50).toFixed(1)} ms, max ${Math.max(...delays).toFixed(1)} ms over ${delays.length} causes`,
    );
    for (const d of delays) assert.ok(d < 1000, `${d.toFixed(0)} ms`);

    // The cause is on /queue and on /metrics.
    const queue = (await sendJson<{ models: Record<string, { failure?: { cause: string; object: string; message: string; since: string } }> }>(`${act.adminUrl}/queue`)).json;
    assert.equal(queue.models["models/crash"]!.failure!.cause, "CrashLoopBackOff");
    assert.ok(!Number.isNaN(Date.parse(queue.models["models/crash"]!.failure!.since)));
    const metrics = (await send(`${act.adminUrl}/metrics`)).body;
    for (const c of CASES) assert.match(metrics, new RegExp(`activator_model_start_failure\\{model="models/${c.model}",cause="${c.cause}"\\} 1`));
    assert.match(metrics, /activator_rejections_total\{model="models\/crash",reason="model_cannot_start"\} 2/);
  });

  it("holds requests again once the state changes (the pod runs again)", async () => {
    api.apply(predictorPod({ model: "crash", phase: "Running", containerStatuses: [containers.running()] }));
    await eventually(async () => !(await sendJson<{ models: Record<string, { failure?: unknown }> }>(`${act.adminUrl}/queue`)).json.models["models/crash"]!.failure, "the failure to clear", 3000, 5);
    void request("crash").catch(() => undefined);
    await held("crash");
    const metrics = (await send(`${act.adminUrl}/metrics`)).body;
    assert.doesNotMatch(metrics, /activator_model_start_failure\{model="models\/crash"/);
  });

  it("fails nothing while cluster-autoscaler adds a node (Unschedulable + TriggeredScaleUp)", async () => {
    const pod = pending("booting");
    const pendingRequest = request("booting");
    let answered = false;
    void pendingRequest.then(() => (answered = true), () => (answered = true));
    await held("booting");
    api.apply(pod);
    api.apply(autoscalerEvent(pod, "TriggeredScaleUp", "pod triggered scale-up: [{eks-a100-2024 0->1 (max: 1)}]"));
    await sleep(1500);
    assert.equal(answered, false, "still held: a GPU node takes minutes to boot");
    const queue = (await sendJson<{ models: Record<string, { held: number; failure?: unknown }> }>(`${act.adminUrl}/queue`)).json;
    assert.equal(queue.models["models/booting"]!.failure, undefined);
  });

  it("fails an unschedulable pod once the grace is over (a node that never comes)", async () => {
    const pendingRequest = request("slowboot");
    await held("slowboot");
    api.apply(pending("slowboot"));
    const started = performance.now();
    const res = await pendingRequest;
    const after = performance.now() - started;
    assert.equal(res.status, 503);
    assert.equal(JSON.parse(res.body).error.cause, "Unschedulable");
    assert.match(JSON.parse(res.body).error.objectMessage, /grace 2s\): 0\/3 nodes are available: 3 Insufficient nvidia.com\/gpu/);
    assert.ok(after >= 1500 && after < 4000, `${after.toFixed(0)} ms after the pod became unschedulable (grace 2 s)`);
  });

  it("fails a model whose pod cannot be created once the refusal has lasted its grace, not before", async () => {
    const pendingRequest = request("refused");
    await held("refused");
    const refusedFor = FAILED_CREATE_GRACE_MS - 2000; // 2 s of grace left
    api.apply(predictorReplicaSet({ model: "refused", replicas: 1, failedCreateSince: NOW() - refusedFor }));
    const started = performance.now();
    const res = await pendingRequest;
    const after = performance.now() - started;
    assert.equal(res.status, 503);
    assert.equal(JSON.parse(res.body).error.cause, "FailedCreate");
    assert.ok(after >= 1000 && after < 4000, `${after.toFixed(0)} ms after the refusal was seen (2 s of grace left)`);
  });
});
