/**
 * The OpenAI Batch API end to end, with real parts: the built activator, a local S3+SQS server (moto; skipped,
 * saying so, when moto_server is not installed), the batch runner (../../../activator/src/batch/runner.ts, in this
 * process) and the official openai-node SDK (devDependency 7.60.0): files.create → batches.create →
 * batches.retrieve until final → files.content. Only authentication differs from AWS (static test credentials).
 * - a model at zero wakes for the batch (its lines are held through the cold start) and results match custom_ids;
 * - lines for a model that cannot start become error-file entries while the rest completes;
 * - bad input is refused at upload naming its line (malformed JSON, unknown model, wrong url), or the size limit;
 * - another API key gets 404 for the files and batches, and does not see them listed;
 * - cancel drains what is left (status cancelled, nothing run); a chunk run past the completion window expires.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import * as path from "node:path";
import OpenAI, { toFile } from "openai";
import pino from "pino";
import { apiKeyDigestsFile } from "../../../activator/src/config/apiKeys";
import { batchConfigSchema, type BatchConfig } from "../../../activator/src/config/batch";
import { BatchRunner } from "../../../activator/src/batch/runner";
import { BatchStore } from "../../../activator/src/batch/store";
import { ActivatorProcess } from "../../../testing/activator/activatorProcess";
import { TestBackend } from "../../../testing/activator/backend";
import { config, model } from "../../../testing/activator/config";
import { send } from "../../../testing/activator/http";
import { FakeVllm } from "../../../testing/activator/fakeVllm";
import { type BatchMoto, type MotoServer, startBatchMoto } from "../../../testing/batch/moto";

const PYTHON_BATCH = path.resolve(__dirname, "../../../testing/sdk/openai_batch.py");
/** .ci/run's venv python (openai-python pinned there) when present, else python3 on PATH. */
const PYTHON = ((venv) => (existsSync(venv) ? venv : "python3"))(path.join(homedir(), ".cache/gpu-serverless/python/bin/python3"));
const KEY_A = "sk-batch-owner-a";
const KEY_B = "sk-batch-other-b";
const KEY_RUNNER = "sk-batch-runner";
const MAX_FILE_BYTES = 64 * 1024;

const line = (customId: string, modelName: string, content = `hello ${customId}`): string =>
  JSON.stringify({ custom_id: customId, method: "POST", url: "/v1/chat/completions", body: { model: modelName, messages: [{ role: "user", content }] } });

describe("activator: the OpenAI Batch API (S3 + SQS via moto, openai-node)", function () {
  this.timeout(60_000);
  let moto: MotoServer;
  let aws: BatchMoto;
  let act: ActivatorProcess;
  let sleepy: TestBackend; // at zero until the batch arrives
  let dead: TestBackend; // never starts
  let busy: FakeVllm; // a vLLM engine whose waiting-requests gauge the test sets
  let batchConfig: BatchConfig;
  let store: BatchStore;
  const logger = pino({ level: "silent" });
  let a: OpenAI;
  let b: OpenAI;

  before(async function () {
    aws = await startBatchMoto(this, "batch-test");
    const { moto: server, bucket, queueUrl } = aws;
    moto = server;
    sleepy = await TestBackend.create();
    dead = await TestBackend.create();
    busy = await FakeVllm.start();
    const batch = { bucket, queueUrl, endpointUrl: moto.url, maxFileBytes: MAX_FILE_BYTES, linesPerChunk: 3, runner: { waitSeconds: 1, concurrency: 4 } };
    act = await ActivatorProcess.start(
      config(
        [
          model("sleepy", sleepy.url, { openaiModels: ["sleepy"], coldStartTimeoutSeconds: 20 }),
          model("dead", dead.url, { openaiModels: ["dead"], coldStartTimeoutSeconds: 1 }),
          model("busy", busy.url, { openaiModels: ["busy"], vllm: {} }),
        ],
        { auth: { apiKeysFile: "keys/digests" }, batch, engineMetrics: { intervalSeconds: 0.1 } },
      ),
      { files: { "keys/digests": apiKeyDigestsFile([KEY_A, KEY_B, KEY_RUNNER]) }, env: moto.env },
    );
    batchConfig = batchConfigSchema.parse({ ...batch, runner: { ...batch.runner, activatorUrl: act.proxyUrl, adminUrl: act.adminUrl } });
    store = new BatchStore(batchConfig);
    a = new OpenAI({ baseURL: `${act.proxyUrl}/v1`, apiKey: KEY_A, maxRetries: 0 });
    b = new OpenAI({ baseURL: `${act.proxyUrl}/v1`, apiKey: KEY_B, maxRetries: 0 });
  });
  after(async () => {
    await act?.stop();
    await sleepy?.stop();
    await dead?.stop();
    await busy?.stop();
    store?.close();
    await aws?.stop();
  });

  /** Runs a runner until `done` holds, then stops it. */
  async function runUntil<T>(done: () => Promise<T | undefined>, opts: { now?: () => number } = {}, timeoutMs = 30_000): Promise<{ value: T; runner: BatchRunner }> {
    const runner = new BatchRunner({ store, config: batchConfig, logger, apiKey: KEY_RUNNER, ...opts });
    const running = runner.run();
    try {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await done();
        if (value !== undefined) return { value, runner };
        if (Date.now() > deadline) throw new Error("timed out waiting for the batch");
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      runner.stop();
      await running;
      await runner.close();
    }
  }

  const final = (id: string) => async () => {
    const batch = await a.batches.retrieve(id);
    return ["completed", "failed", "expired", "cancelled"].includes(batch.status) ? batch : undefined;
  };

  const upload = async (client: OpenAI, text: string) => client.files.create({ file: await toFile(Buffer.from(text), "input.jsonl"), purpose: "batch" });

  let batchId = "";
  let inputId = "";
  let outputId = "";

  it("wakes a model at zero for a batch; every custom_id gets its answer, a model that cannot start gets error entries", async () => {
    sleepy.ready = false; // at zero: readiness fails until it "starts"
    await sleepy.start();
    const lines = [...Array.from({ length: 7 }, (_, i) => line(`ok-${i}`, "sleepy")), line("down-0", "dead"), line("down-1", "dead")];
    const file = await upload(a, `${lines.join("\n")}\n`);
    assert.equal(file.object, "file");
    assert.equal(file.purpose, "batch");
    assert.equal(file.bytes, Buffer.byteLength(`${lines.join("\n")}\n`));
    inputId = file.id;
    const created = await a.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h", metadata: { job: "nightly" } });
    batchId = created.id;
    assert.equal(created.status, "in_progress");
    assert.deepEqual(created.request_counts, { total: 9, completed: 0, failed: 0 });
    assert.deepEqual(created.metadata, { job: "nightly" });
    assert.equal(created.expires_at, created.created_at + 24 * 3600);
    setTimeout(() => (sleepy.ready = true), 1500); // the model becomes ready while its lines are held
    const { value: batch } = await runUntil(final(batchId));
    assert.equal(batch.status, "completed");
    assert.deepEqual(batch.request_counts, { total: 9, completed: 7, failed: 2 });
    assert.ok(batch.output_file_id && batch.error_file_id);
    outputId = batch.output_file_id;

    const out = (await (await a.files.content(batch.output_file_id)).text()).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(out.map((o) => o.custom_id).sort(), Array.from({ length: 7 }, (_, i) => `ok-${i}`));
    for (const o of out) {
      assert.equal(o.response.status_code, 200);
      assert.equal(o.error, null);
      const echoed = JSON.parse(o.response.body.body); // the test backend echoes the request it received
      assert.equal(echoed.messages[0].content, `hello ${o.custom_id}`, "each answer belongs to its custom_id");
    }
    const errors = (await (await a.files.content(batch.error_file_id)).text()).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(errors.map((e) => e.custom_id).sort(), ["down-0", "down-1"]);
    for (const e of errors) {
      assert.equal(e.response.status_code, 504);
      assert.equal(e.response.body.error.code, "cold_start_timeout");
    }
    const held = (await send(`${act.adminUrl}/metrics`)).body.split("\n").find((l) => l.startsWith('activator_requests_held_total{model="test/sleepy"'));
    assert.ok(held && Number(held.split(" ").at(-1)) >= 1, `the sleepy model's lines were held through its start: ${held}`);
    const output = await a.files.retrieve(batch.output_file_id);
    assert.equal(output.purpose, "batch_output");
  });

  it("runs the same flow through the official openai-python SDK (files.create, batches.create, retrieve, files.content)", async function () {
    const dir = mkdtempSync(path.join(tmpdir(), "batch-py-"));
    const input = path.join(dir, "in.jsonl");
    writeFileSync(input, `${Array.from({ length: 5 }, (_, i) => line(`py-${i}`, "sleepy")).join("\n")}\n`);
    try {
      const python = execPython(PYTHON, [PYTHON_BATCH, `${act.proxyUrl}/v1`, KEY_A, input, "30"]);
      const { value: out } = await runUntil(async () => (await Promise.race([python, new Promise((r) => setTimeout(() => r(undefined), 100))])) as PythonBatch | null | undefined);
      if (out === null) {
        console.log("      skipped: openai-python is not installed (pip install -r testing/sdk/requirements.txt, as .ci/run does)");
        this.skip();
      }
      assert.equal(out!.status, "completed");
      assert.deepEqual(out!.request_counts, { total: 5, completed: 5, failed: 0 });
      assert.deepEqual(out!.output.map((o) => o.custom_id).sort(), ["py-0", "py-1", "py-2", "py-3", "py-4"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses bad input at upload, naming the line: malformed JSON, an unknown model, a url that is no batch endpoint, an oversized file", async () => {
    const cases: [string, RegExp][] = [
      [`${line("a", "sleepy")}\n{"custom_id": "b",\n`, /line 2: not JSON/],
      [`${line("a", "sleepy")}\n${line("b", "sleepy")}\n${line("c", "gpt-nonesuch")}\n`, /line 3: unknown model "gpt-nonesuch"; models: sleepy, dead, busy/],
      [`${JSON.stringify({ custom_id: "a", method: "POST", url: "/v1/other", body: { model: "sleepy" } })}\n`, /line 1: url "\/v1\/other" is not a batch endpoint/],
      [`${line("a", "sleepy", "x".repeat(MAX_FILE_BYTES))}\n`, /exceeds/],
      [`${line("a", "sleepy")}\n${line("a", "sleepy")}\n`, /line 2: custom_id "a" is used by an earlier line/],
    ];
    for (const [text, message] of cases) {
      await assert.rejects(upload(a, text), (err: unknown) => {
        assert.ok(err instanceof OpenAI.BadRequestError, String(err));
        assert.match(err.message, message);
        assert.equal(err.code, "invalid_batch_file");
        return true;
      });
    }
  });

  it("answers 404 to another API key for the files and batches, and lists only the key's own", async () => {
    for (const call of [() => b.batches.retrieve(batchId), () => b.batches.cancel(batchId), () => b.files.retrieve(inputId), () => b.files.content(outputId)]) {
      await assert.rejects(call(), (err: unknown) => err instanceof OpenAI.NotFoundError);
    }
    await assert.rejects(b.batches.create({ input_file_id: inputId, endpoint: "/v1/chat/completions", completion_window: "24h" }), (err: unknown) => err instanceof OpenAI.NotFoundError);
    const others = [];
    for await (const batch of b.batches.list()) others.push(batch.id);
    assert.deepEqual(others, []);
    const own = [];
    for await (const batch of a.batches.list({ limit: 1 })) own.push(batch.id); // pages of one, through `after`
    assert.ok(own.includes(batchId));
  });

  it("cancel: a cancelling batch is drained by the runner and ends cancelled with nothing run", async () => {
    const file = await upload(a, `${Array.from({ length: 6 }, (_, i) => line(`c-${i}`, "sleepy")).join("\n")}\n`);
    const created = await a.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    const before = sleepy.requests;
    const cancelling = await a.batches.cancel(created.id);
    assert.equal(cancelling.status, "cancelling");
    assert.ok(cancelling.cancelling_at);
    const { value: batch } = await runUntil(final(created.id));
    assert.equal(batch.status, "cancelled");
    assert.deepEqual(batch.request_counts, { total: 6, completed: 0, failed: 0 });
    assert.equal(sleepy.requests, before, "no line of a cancelled batch reached the model");
    await assert.rejects(a.batches.cancel(batchId), (err: unknown) => err instanceof OpenAI.BadRequestError && /completed/.test(err.message));
  });

  it("completion_window: chunks run after expires_at expire their lines (batch_expired) and the batch ends expired", async () => {
    const file = await upload(a, `${Array.from({ length: 4 }, (_, i) => line(`e-${i}`, "sleepy")).join("\n")}\n`);
    const created = await a.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    const later = () => Date.now() + 25 * 3600 * 1000;
    const { value: batch } = await runUntil(final(created.id), { now: later });
    assert.equal(batch.status, "expired");
    assert.deepEqual(batch.request_counts, { total: 4, completed: 0, failed: 4 });
    const errors = (await (await a.files.content(batch.error_file_id!)).text()).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(errors.map((e) => e.error.code), ["batch_expired", "batch_expired", "batch_expired", "batch_expired"]);
  });

  it("yields to interactive traffic: one line at a time while an engine reports waiting requests above the threshold", async () => {
    const engineWaiting = async () => JSON.parse((await send(`${act.adminUrl}/queue`)).body).models["test/busy"].engineWaiting as number;
    const runBatch = async (tag: string) => {
      const file = await upload(a, `${Array.from({ length: 8 }, (_, i) => line(`${tag}-${i}`, "busy")).join("\n")}\n`);
      const created = await a.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
      const { value, runner } = await runUntil(final(created.id));
      assert.equal(value.status, "completed");
      return runner.maxActive;
    };
    busy.set({ waiting: [10], kvCache: [0.5] }); // above yieldWaitingAbove (default 4)
    await waitFor(async () => (await engineWaiting()) === 10);
    assert.equal(await runBatch("y"), 1, "one line at a time while the engine has 10 waiting");
    busy.set({ waiting: [0], kvCache: [0.1] });
    await waitFor(async () => (await engineWaiting()) === 0);
    const free = await runBatch("n");
    assert.ok(free > 1 && free <= batchConfig.runner.concurrency, `several lines at once (at most concurrency ${batchConfig.runner.concurrency}) once nothing waits: ${free}`);
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface PythonBatch {
  status: string;
  request_counts: { total: number; completed: number; failed: number };
  output: { custom_id: string }[];
}

/** The script's JSON line; null when python or its openai package is missing (exit 3 / ENOENT). */
function execPython(python: string, args: string[]): Promise<PythonBatch | null> {
  return new Promise((resolve, reject) => {
    execFile(python, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = (err as { code?: unknown } | null)?.code;
      if (code === 3 || code === "ENOENT") return resolve(null);
      if (err) return reject(new Error(`${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.trim()) as PythonBatch);
    });
  });
}
