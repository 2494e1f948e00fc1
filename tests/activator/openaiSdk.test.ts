/**
 * Retry guidance as the official OpenAI SDKs read it (issue 21 §5), over real sockets: pinned `openai` for Node
 * (devDependency 7.60.0) and for Python (testing/sdk/requirements.txt, 3.63.0; skipped when not installed), each
 * with its defaults (2 retries, 600 s timeout). Both retry 408/409/429/5xx unless `x-should-retry` says otherwise, and
 * wait `Retry-After` up to a cap (Node `src/client.ts` `retryRequest`: 60 s; Python `_base_client.py`
 * `MAX_RETRY_AFTER_DELAY`: 120 s). Attempts are counted where the SDK sends them (its `fetch` / httpx hook).
 * - 503 `model_cannot_start` (x-should-retry: false): one attempt, the error at once;
 * - 504 `cold_start_timeout` (x-should-retry: false): one attempt, not the hold budget three times over;
 * - 503 `model_queue_full` (Retry-After: 1, x-should-retry: true): retried after 1 s, then served;
 * - a client timeout shorter than the cold start: the SDK gives up on its side and retries; the model keeps starting
 *   meanwhile, and the retry is held and served once it is ready.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import * as path from "node:path";
import OpenAI from "openai";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { TestBackend } from "../../testing/activator/backend";
import { config, model } from "../../testing/activator/config";
import { FakeKubeApi } from "../../testing/activator/fakeKubeApi";
import { eventually, send, sendJson, sleep } from "../../testing/activator/http";
import { containers, predictorPod } from "../../testing/activator/kubeObjects";

const PYTHON_CALL = path.resolve(__dirname, "../../testing/sdk/openai_call.py");

interface Outcome {
  /** Milliseconds (Node) or seconds (Python, converted to ms) from the call to each HTTP request the SDK sent. */
  attempts: number[];
  /** Milliseconds from the call to its outcome. */
  elapsedMs: number;
  status: number | null;
  code: string | null;
  outcome: "ok" | "api_error" | "timeout" | "connection_error";
}

/** One chat completion through openai-node with its default retries; attempts timed at its `fetch`. */
async function nodeCall(baseURL: string, modelName: string, timeoutMs = 600_000): Promise<Outcome> {
  const started = performance.now();
  const attempts: number[] = [];
  const client = new OpenAI({
    baseURL,
    apiKey: "unused",
    timeout: timeoutMs,
    maxRetries: 2, // the SDK default, stated
    fetch: (url, init) => {
      attempts.push(performance.now() - started);
      return fetch(url, init);
    },
  });
  try {
    await client.chat.completions.create({ model: modelName, messages: [{ role: "user", content: "hi" }] });
    return { attempts, elapsedMs: performance.now() - started, status: 200, code: null, outcome: "ok" };
  } catch (err) {
    const elapsedMs = performance.now() - started;
    if (err instanceof OpenAI.APIConnectionTimeoutError) return { attempts, elapsedMs, status: null, code: null, outcome: "timeout" };
    if (err instanceof OpenAI.APIError && err.status !== undefined) return { attempts, elapsedMs, status: err.status, code: String(err.code), outcome: "api_error" };
    return { attempts, elapsedMs, status: null, code: null, outcome: "connection_error" };
  }
}

/** The same through openai-python; null when python3 or its openai package is missing. */
function pythonCall(baseURL: string, modelName: string): Promise<Outcome | null> {
  return new Promise((resolve, reject) => {
    execFile("python3", [PYTHON_CALL, baseURL, modelName], { timeout: 60_000 }, (err, stdout) => {
      if (err && (err as { code?: unknown }).code === 3) return resolve(null);
      if (err && (err as { code?: unknown }).code === "ENOENT") return resolve(null);
      if (err) return reject(err);
      const out = JSON.parse(stdout.trim()) as Omit<Outcome, "elapsedMs"> & { elapsed: number };
      resolve({ ...out, elapsedMs: out.elapsed * 1000, attempts: out.attempts.map((s) => s * 1000) });
    });
  });
}

const pythonHasOpenai = (): Promise<boolean> =>
  new Promise((resolve) => execFile("python3", ["-c", "import openai"], (err) => resolve(err === null)));

describe("activator: retry guidance read by the official OpenAI SDKs", function () {
  this.timeout(60_000);
  let api: FakeKubeApi;
  let kubeConfigFile: string;
  let kubeAct: ActivatorProcess; // readiness mode kubernetes: a model that cannot start
  let act: ActivatorProcess; // readiness mode probe: queues and cold starts
  const backends: Record<string, TestBackend> = {};
  let python = false;

  before(async () => {
    python = await pythonHasOpenai();
    api = await FakeKubeApi.start();
    kubeConfigFile = api.kubeConfigFile();
    kubeAct = await ActivatorProcess.start(
      { readiness: { mode: "kubernetes" }, models: [{ name: "crash", namespace: "models", backend: "http://crash-predictor.models.svc.cluster.local", readinessPath: "/v2/health/ready", openaiModels: ["crash"] }] },
      { env: { KUBECONFIG: kubeConfigFile } },
    );
    api.apply(predictorPod({ model: "crash", phase: "Running", containerStatuses: [containers.crashLoop("Error", 1)] }));

    for (const name of ["full-node", "full-py", "down", "late"]) backends[name] = await TestBackend.create();
    act = await ActivatorProcess.start(
      config([
        model("full-node", backends["full-node"]!.url, { openaiModels: ["full-node"], maxPending: 1 }),
        model("full-py", backends["full-py"]!.url, { openaiModels: ["full-py"], maxPending: 1 }),
        model("down", backends["down"]!.url, { openaiModels: ["down"], coldStartTimeoutSeconds: 1 }),
        model("late", backends["late"]!.url, { openaiModels: ["late"] }),
      ]),
    );
    await eventually(async () => {
      const res = await send(`${kubeAct.proxyUrl}/v1/chat/completions`, { method: "POST", body: '{"model":"crash"}', headers: { "content-type": "application/json" } });
      return res.status === 503;
    }, "the crashing model answered 503", 5000, 50);
  });
  after(async () => {
    await act?.stop();
    await kubeAct?.stop();
    await api?.stop();
    for (const b of Object.values(backends)) await b.stop();
  });

  /** activator_rejections_total for `test/<name>`, all reasons. */
  const rejected = async (name: string): Promise<number> => {
    const text = (await send(`${act.adminUrl}/metrics`)).body;
    const lines = text.split("\n").filter((l) => l.startsWith("activator_rejections_total{") && l.includes(`model="test/${name}"`));
    return lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
  };

  const sdks = ["node", "python"] as const;
  const call = (sdk: (typeof sdks)[number], baseURL: string, name: string) => (sdk === "node" ? nodeCall(baseURL, name) : pythonCall(baseURL, name));

  for (const sdk of sdks) {
    describe(`openai-${sdk}`, function () {
      before(function () {
        if (sdk === "python" && !python) {
          console.log("      skipped: python3 -c 'import openai' fails; pip install -r testing/sdk/requirements.txt (as .ci/run does)");
          this.skip();
        }
      });

      it("does not retry 503 model_cannot_start (x-should-retry: false): one attempt, the cause at once", async () => {
        const out = (await call(sdk, `${kubeAct.proxyUrl}/v1`, "crash"))!;
        assert.equal(out.status, 503);
        assert.equal(out.code, "model_cannot_start");
        assert.equal(out.attempts.length, 1, `attempts at ${JSON.stringify(out.attempts)} ms`);
      });

      it("does not retry 504 cold_start_timeout: the hold budget is spent once, not three times", async () => {
        const out = (await call(sdk, `${act.proxyUrl}/v1`, "down"))!;
        assert.equal(out.status, 504);
        assert.equal(out.code, "cold_start_timeout");
        assert.equal(out.attempts.length, 1, `attempts at ${JSON.stringify(out.attempts)} ms`);
        // Retried, it would take three 1 s holds at least (plus the SDK's backoff): less than that from the first try.
        const held = out.elapsedMs - out.attempts[0]!;
        assert.ok(held < 3000, `answered after one 1 s hold: ${held.toFixed(0)} ms after the first try`);
      });

      it("retries 503 model_queue_full after its Retry-After (1 s) and is then served", async () => {
        const name = `full-${sdk === "node" ? "node" : "py"}`;
        const holder = sendJson(`${act.proxyUrl}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: name }), headers: { "content-type": "application/json" } });
        await eventually(async () => (await sendJson<{ models: Record<string, { held: number }> }>(`${act.adminUrl}/queue`)).json.models[`test/${name}`]!.held === 1, `the one slot of ${name} taken`);
        // The model becomes ready once the SDK's first try was refused, before its retry.
        const starting = eventually(async () => (await rejected(name)) > 0, `a ${name} request refused`, 20_000, 20).then(() => backends[name]!.start());
        const out = (await call(sdk, `${act.proxyUrl}/v1`, name))!;
        await starting;
        assert.equal((await holder).status, 200);
        assert.equal(out.outcome, "ok", JSON.stringify(out));
        assert.equal(out.attempts.length, 2, `attempts at ${JSON.stringify(out.attempts)} ms`);
        const gap = out.attempts[1]! - out.attempts[0]!;
        assert.ok(gap >= 950, `the retry waited Retry-After (1 s), not the SDK's 0.5 s backoff: ${gap.toFixed(0)} ms`);
      });
    });
  }

  it("a client whose timeout is shorter than the cold start times out on its side; its retry is held and served", async () => {
    const starting = sleep(1500).then(() => backends["late"]!.start());
    const out = await nodeCall(`${act.proxyUrl}/v1`, "late", 1000);
    await starting;
    assert.equal(out.outcome, "ok", JSON.stringify(out));
    assert.equal(out.attempts.length, 2, `the first try timed out at 1 s, the retry was served: ${JSON.stringify(out.attempts)}`);
    const queue = (await sendJson<{ models: Record<string, { held: number }> }>(`${act.adminUrl}/queue`)).json;
    assert.equal(queue.models["test/late"]!.held, 0, "the request whose client gave up is not held any more");
  });
});
