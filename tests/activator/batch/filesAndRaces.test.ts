/**
 * The Batch API's Files calls and its consistency when calls race, with real parts: the built activator, a local
 * S3+SQS server (moto; skipped, saying so, when moto_server is not installed), batch runners in this process, the
 * official openai-node SDK (and openai-python, skipped without it):
 * - GET /v1/files lists the key's own files, newest first (`order=asc`: oldest first), by `purpose`, in pages
 *   through `after`; DELETE /v1/files/{id} removes the file (its S3 objects too) and answers OpenAI's FileDeleted;
 * - moto honours S3 conditional writes (If-Match, If-None-Match), which the batch record's changes rely on;
 * - cancel against finalisation: a cancel arriving while the runner finalises is refused and the batch completes; a
 *   cancel whose write comes after a completion cannot overwrite it; a cancel that lands before the runner claims
 *   the batch wins, and the batch ends cancelled;
 * - a chunk held longer than the queue's visibility timeout is not handed to a second runner.
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
import type { BatchRecord } from "../../../activator/src/batch/objects";
import { requestCancel } from "../../../activator/src/batch/progress";
import { BatchRunner } from "../../../activator/src/batch/runner";
import { BatchStore, WriteConflict } from "../../../activator/src/batch/store";
import { runUntilFinal as runBatchUntilFinal } from "../../../testing/batch/runUntilFinal";
import { ActivatorProcess } from "../../../testing/activator/activatorProcess";
import { TestBackend } from "../../../testing/activator/backend";
import { config, model } from "../../../testing/activator/config";
import { type BatchMoto, type MotoServer, startBatchMoto } from "../../../testing/batch/moto";

const PYTHON_FILES = path.resolve(__dirname, "../../../testing/sdk/openai_files.py");
const PYTHON = ((venv) => (existsSync(venv) ? venv : "python3"))(path.join(homedir(), ".cache/gpu-serverless/python/bin/python3"));
const KEY_A = "sk-files-owner-a";
const KEY_B = "sk-files-other-b";
const KEY_PY = "sk-files-python";
const KEY_R = "sk-files-races";
const KEY_RUNNER = "sk-files-runner";

const line = (customId: string, modelName = "echo"): string =>
  JSON.stringify({ custom_id: customId, method: "POST", url: "/v1/chat/completions", body: { model: modelName, messages: [{ role: "user", content: `hello ${customId}` }] } });
const lines = (tag: string, n: number, modelName = "echo"): string => `${Array.from({ length: n }, (_, i) => line(`${tag}-${i}`, modelName)).join("\n")}\n`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("activator: Batch API files list/delete and races (S3 + SQS via moto, openai-node)", function () {
  this.timeout(60_000);
  let moto: MotoServer;
  let aws: BatchMoto;
  let act: ActivatorProcess;
  let echo: TestBackend;
  let late: TestBackend; // not ready until a test says so: its lines are held
  let batchConfig: BatchConfig;
  let store: BatchStore;
  const logger = pino({ level: "silent" });
  const client = (key: string) => new OpenAI({ baseURL: `${act.proxyUrl}/v1`, apiKey: key, maxRetries: 0 });

  before(async function () {
    aws = await startBatchMoto(this, "files-test");
    const { moto: server, bucket, queueUrl } = aws;
    moto = server;
    echo = await TestBackend.create();
    await echo.start();
    late = await TestBackend.create();
    const batch = { bucket, queueUrl, endpointUrl: moto.url, linesPerChunk: 2, runner: { waitSeconds: 1, concurrency: 4 } };
    act = await ActivatorProcess.start(
      config([model("echo", echo.url, { openaiModels: ["echo"] }), model("late", late.url, { openaiModels: ["late"], coldStartTimeoutSeconds: 30 })], {
        auth: { apiKeysFile: "keys/digests" },
        batch,
      }),
      { files: { "keys/digests": apiKeyDigestsFile([KEY_A, KEY_B, KEY_PY, KEY_R, KEY_RUNNER]) }, env: moto.env },
    );
    batchConfig = batchConfigSchema.parse({ ...batch, runner: { ...batch.runner, activatorUrl: act.proxyUrl } });
    store = new BatchStore(batchConfig);
  });
  after(async () => {
    await act?.stop();
    await echo?.stop();
    await late?.stop();
    store?.close();
    await aws?.stop();
  });

  const upload = async (c: OpenAI, text: string) => c.files.create({ file: await toFile(Buffer.from(text), "input.jsonl"), purpose: "batch" });
  const ids = async <T extends { id: string }>(pages: AsyncIterable<T>): Promise<string[]> => {
    const out: string[] = [];
    for await (const item of pages) out.push(item.id);
    return out;
  };

  /** Runs `runners` (default one plain runner) until batch `id` is final, then stops them. */
  const runUntilFinal = (id: string, runners: BatchRunner[] = [new BatchRunner({ store, config: batchConfig, logger, apiKey: KEY_RUNNER })]) =>
    runBatchUntilFinal(store, id, runners, 40_000);

  const uploaded: string[] = [];

  it("GET /v1/files: the key's own files, newest first or oldest first, by purpose, in pages through `after`", async () => {
    const a = client(KEY_A);
    for (let i = 0; i < 3; i++) {
      if (i > 0) await sleep(1100); // created_at counts seconds: a second apart, the order is defined
      uploaded.push((await upload(a, lines(`l${i}`, 1))).id);
    }
    const newestFirst = [...uploaded].reverse();
    assert.deepEqual(await ids(a.files.list({ limit: 1 })), newestFirst, "pages of one, each after the last one's id");
    assert.deepEqual(await ids(a.files.list({ order: "asc", limit: 2 })), uploaded);
    const first = await a.files.list({ limit: 2 });
    assert.deepEqual(first.data.map((f) => f.id), newestFirst.slice(0, 2));
    assert.equal(first.hasNextPage(), true);
    assert.deepEqual(await ids(a.files.list({ purpose: "batch" })), newestFirst);
    assert.deepEqual(await ids(a.files.list({ purpose: "batch_output" })), []);
    const b = client(KEY_B);
    await sleep(1100); // a second after A's newest: B's file is newer than all of A's
    const theirs = (await upload(b, lines("b", 1))).id;
    assert.deepEqual(await ids(b.files.list()), [theirs], "another key sees only its own");
    assert.deepEqual(await ids(a.files.list()), newestFirst);
    await assert.rejects(a.files.list({ limit: 0 }), (err: unknown) => err instanceof OpenAI.BadRequestError && err.param === "limit");
    assert.deepEqual(await ids(a.files.list({ after: theirs })), newestFirst, "another key's id only places the page: A's own files older than it, none of B's");
    await assert.rejects(a.files.list({ after: "file-not-ours" }), (err: unknown) => err instanceof OpenAI.BadRequestError && err.param === "after");
  });

  it("DELETE /v1/files/{id}: answers {id, object: file, deleted: true}; record, bytes and list entry are gone; another key gets 404", async () => {
    const [oldest, middle, newest] = uploaded as [string, string, string];
    const a = client(KEY_A);
    await assert.rejects(client(KEY_B).files.delete(middle), (err: unknown) => err instanceof OpenAI.NotFoundError);
    assert.equal((await a.files.retrieve(middle)).id, middle, "another key's delete left it");
    assert.deepEqual(await a.files.delete(middle), { id: middle, object: "file", deleted: true });
    await assert.rejects(a.files.retrieve(middle), (err: unknown) => err instanceof OpenAI.NotFoundError);
    await assert.rejects(a.files.content(middle), (err: unknown) => err instanceof OpenAI.NotFoundError);
    await assert.rejects(a.files.delete(middle), (err: unknown) => err instanceof OpenAI.NotFoundError);
    assert.deepEqual(await ids(a.files.list()), [newest, oldest]);
    assert.equal(await store.read(store.fileContentKey(middle)), null, "the S3 object is removed");
    assert.equal(await store.getJson(store.fileRecordKey(middle)), null);
  });

  it("deleting the input file of a batch not yet run: the batch still ends, every line in the error file (input_file_deleted)", async () => {
    const a = client(KEY_A);
    const input = await upload(a, lines("d", 3)); // two chunks: 2 lines and 1
    const created = await a.batches.create({ input_file_id: input.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    await a.files.delete(input.id);
    const batch = await runUntilFinal(created.id);
    assert.equal(batch.status, "completed");
    assert.deepEqual(batch.request_counts, { total: 3, completed: 0, failed: 3 });
    const errors = (await (await a.files.content(batch.error_file_id!)).text()).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(errors.map((e) => [e.error.code, e.error.message.split(":")[0]]), [["input_file_deleted", "line 1"], ["input_file_deleted", "line 2"], ["input_file_deleted", "line 3"]]);
    assert.deepEqual(await ids(a.files.list({ purpose: "batch_output" })), [batch.error_file_id], "the error file is listed as the key's batch_output");
  });

  it("lists and deletes through the official openai-python SDK", async function () {
    const dir = mkdtempSync(path.join(tmpdir(), "files-py-"));
    const input = path.join(dir, "in.jsonl");
    writeFileSync(input, lines("py", 2));
    try {
      const out = await execPython([PYTHON_FILES, `${act.proxyUrl}/v1`, KEY_PY, input]);
      if (out === null) {
        console.log("      skipped: openai-python is not installed (pip install -r testing/sdk/requirements.txt, as .ci/run does)");
        this.skip();
      }
      const { created, desc, asc, batch_output, deleted, after_delete, retrieve_deleted } = out as Record<string, unknown> & { created: string[] };
      assert.deepEqual(desc, [...created].reverse());
      assert.deepEqual(asc, created);
      assert.deepEqual(batch_output, []);
      assert.deepEqual(deleted, { id: created[0], object: "file", deleted: true });
      assert.deepEqual(after_delete, [created[1]]);
      assert.equal(retrieve_deleted, 404);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("moto honours S3 conditional writes: If-None-Match: * and If-Match on the ETag read", async () => {
    const key = `${batchConfig.prefix}cas-check.json`;
    await store.putJsonIf(key, { v: 1 }, null);
    await assert.rejects(store.putJsonIf(key, { v: 2 }, null), WriteConflict, "If-None-Match: * on an existing object");
    const read = (await store.getVersioned<{ v: number }>(key))!;
    await store.putJsonIf(key, { v: 2 }, read.etag);
    await assert.rejects(store.putJsonIf(key, { v: 3 }, read.etag), WriteConflict, "If-Match on a stale ETag");
    assert.deepEqual(await store.getJson(key), { v: 2 });
  });

  it("a cancel arriving while the runner finalises is refused (400, finalizing); the batch completes with every result", async () => {
    const r = client(KEY_R);
    const created = await r.batches.create({ input_file_id: (await upload(r, lines("f", 4))).id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    let cancel: Promise<unknown> | undefined;
    class CancelWhileJoining extends BatchStore {
      override async read(key: string, range?: [number, number]) {
        if (cancel === undefined && key.includes(`${created.id}/parts/`)) cancel = r.batches.cancel(created.id).then((b) => b, (err: unknown) => err);
        if (cancel !== undefined) await cancel;
        return super.read(key, range);
      }
    }
    const hooked = new CancelWhileJoining(batchConfig);
    try {
      const batch = await runUntilFinal(created.id, [new BatchRunner({ store: hooked, config: batchConfig, logger, apiKey: KEY_RUNNER })]);
      const refused = await cancel;
      assert.ok(refused instanceof OpenAI.BadRequestError && /is finalizing/.test(refused.message), `cancel answered: ${String(refused)}`);
      assert.equal(batch.status, "completed");
      assert.equal(batch.cancelling_at, null);
      assert.deepEqual(batch.request_counts, { total: 4, completed: 4, failed: 0 });
      const out = (await (await r.files.content(batch.output_file_id!)).text()).trim().split("\n");
      assert.equal(out.length, 4);
    } finally {
      hooked.close();
    }
  });

  it("a cancel whose write comes after the batch completed cannot overwrite it (its compare-and-set fails, it reads completed)", async () => {
    const r = client(KEY_R);
    const created = await r.batches.create({ input_file_id: (await upload(r, lines("w", 4))).id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    // The cancel reads the record (in_progress); before it writes, a runner runs and finalises the whole batch.
    let between: (() => Promise<unknown>) | undefined = () => runUntilFinal(created.id);
    class SlowCancel extends BatchStore {
      override async getVersioned<T>(key: string) {
        const read = await super.getVersioned<T>(key);
        const hook = between;
        between = undefined;
        if (hook) await hook();
        return read;
      }
    }
    const cancelSide = new SlowCancel(batchConfig);
    try {
      const answer = await requestCancel(cancelSide, created.id, Math.floor(Date.now() / 1000));
      assert.equal(answer?.status, "completed", "the cancel sees the completion and changes nothing (the API answers 400)");
      const stored = await r.batches.retrieve(created.id);
      assert.equal(stored.status, "completed");
      assert.equal(stored.cancelling_at, null);
      assert.ok(stored.output_file_id);
      assert.deepEqual(stored.request_counts, { total: 4, completed: 4, failed: 0 });
    } finally {
      cancelSide.close();
    }
  });

  it("a cancel landing between the finalizer's read and its claim wins: the batch ends cancelled (never completed over it), with the results of chunks that ran", async () => {
    const r = client(KEY_R);
    const created = await r.batches.create({ input_file_id: (await upload(r, lines("c", 4))).id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    let cancel: Promise<OpenAI.Batches.Batch> | undefined;
    class CancelBeforeClaim extends BatchStore {
      override async putJsonIf(key: string, value: unknown, etag: string | null) {
        if ((value as BatchRecord).status === "finalizing") await (cancel ??= r.batches.cancel(created.id)); // both receive loops may claim
        return super.putJsonIf(key, value, etag);
      }
    }
    const hooked = new CancelBeforeClaim(batchConfig);
    try {
      const batch = await runUntilFinal(created.id, [new BatchRunner({ store: hooked, config: batchConfig, logger, apiKey: KEY_RUNNER })]);
      assert.equal((await cancel!).status, "cancelling", "the cancel was accepted");
      assert.equal(batch.status, "cancelled");
      assert.ok(batch.cancelled_at && batch.cancelling_at);
      assert.equal(batch.finalizing_at, null, "the finalizer's claim did not overwrite the cancel");
      assert.equal(batch.completed_at, null);
      assert.deepEqual(batch.request_counts, { total: 4, completed: 4, failed: 0 }, "every chunk had run before the cancel");
    } finally {
      hooked.close();
    }
  });

  it("a chunk held longer than the visibility timeout stays with its runner (ChangeMessageVisibility): a second runner never runs it", async () => {
    late.ready = false; // held by the activator until ready
    await late.start();
    const r = client(KEY_R);
    const created = await r.batches.create({ input_file_id: (await upload(r, lines("v", 2, "late"))).id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    const short = batchConfigSchema.parse({ ...batchConfig, runner: { ...batchConfig.runner, visibilitySeconds: 2 } });
    const runners = [0, 1].map(() => new BatchRunner({ store, config: short, logger, apiKey: KEY_RUNNER }));
    setTimeout(() => (late.ready = true), 5000); // 2.5 visibility timeouts
    const batch = await runUntilFinal(created.id, runners);
    assert.equal(batch.status, "completed");
    assert.deepEqual(batch.request_counts, { total: 2, completed: 2, failed: 0 });
    assert.equal(late.requests, 2, "each line reached the model once");
    assert.ok(runners[0]!.visibilityExtensions + runners[1]!.visibilityExtensions >= 3, "extended about every 0.67 s while held for 5 s");
  });
});

/** The script's JSON line; null when python or its openai package is missing (exit 3 / ENOENT). */
function execPython(args: string[]): Promise<Record<string, unknown> | null> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = (err as { code?: unknown } | null)?.code;
      if (code === 3 || code === "ENOENT") return resolve(null);
      if (err) return reject(new Error(`${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.trim()) as Record<string, unknown>);
    });
  });
}
