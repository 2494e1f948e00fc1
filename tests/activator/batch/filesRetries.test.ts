/**
 * The Batch API when a caller or a runner goes round again, with real parts: the built activator, a local S3+SQS
 * server (moto; skipped, saying so, when moto_server is not installed), batch runners in this process and the
 * official openai-node SDK:
 * - the SDKs' "list, delete each" loop over more than one page (each next page's `after` is a file just deleted);
 * - a finalisation retried after its runner failed half-way writes the same output file (one index entry, dated
 *   by the batch's `finalizing_at`);
 * - a cancel landing while create queues the chunks, then the queue refusing: the batch ends `failed`, not
 *   `cancelling` forever;
 * - a chunk message queued before messages carried `lines`, whose input file is gone: its lines fail and the batch ends.
 */
import { strict as assert } from "node:assert";
import OpenAI, { toFile } from "openai";
import pino from "pino";
import { apiKeyDigest, apiKeyDigestsFile } from "../../../activator/src/config/apiKeys";
import { batchConfigSchema, type BatchConfig } from "../../../activator/src/config/batch";
import { newBatchId, type BatchRecord, type FileRecord } from "../../../activator/src/batch/objects";
import { requestCancel, settleCreated } from "../../../activator/src/batch/progress";
import { BatchRunner } from "../../../activator/src/batch/runner";
import { BatchStore } from "../../../activator/src/batch/store";
import { FINAL_STATUSES, runUntilFinal as runBatchUntilFinal } from "../../../testing/batch/runUntilFinal";
import { ActivatorProcess } from "../../../testing/activator/activatorProcess";
import { TestBackend } from "../../../testing/activator/backend";
import { config, model } from "../../../testing/activator/config";
import { type BatchMoto, type MotoServer, startBatchMoto } from "../../../testing/batch/moto";

const KEY_LIST = "sk-retries-list";
const KEY_RUN = "sk-retries-run";
const KEY_RUNNER = "sk-retries-runner";

const lines = (tag: string, n: number): string =>
  Array.from({ length: n }, (_, i) => `${JSON.stringify({ custom_id: `${tag}-${i}`, method: "POST", url: "/v1/chat/completions", body: { model: "echo", messages: [{ role: "user", content: "hi" }] } })}\n`).join("");
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("activator: Batch API retries (list-and-delete paging, retried finalisation, cancel during queueing; moto, openai-node)", function () {
  this.timeout(90_000);
  let moto: MotoServer;
  let aws: BatchMoto;
  let act: ActivatorProcess;
  let echo: TestBackend;
  let batchConfig: BatchConfig;
  let store: BatchStore;
  const logger = pino({ level: "silent" });
  const client = (key: string) => new OpenAI({ baseURL: `${act.proxyUrl}/v1`, apiKey: key, maxRetries: 0 });
  const upload = async (c: OpenAI, text: string) => c.files.create({ file: await toFile(Buffer.from(text), "input.jsonl"), purpose: "batch" });

  before(async function () {
    aws = await startBatchMoto(this, "retries-test");
    const { moto: server, bucket, queueUrl } = aws;
    moto = server;
    echo = await TestBackend.create();
    await echo.start();
    const batch = { bucket, queueUrl, endpointUrl: moto.url, linesPerChunk: 2, runner: { waitSeconds: 1, concurrency: 4 } };
    act = await ActivatorProcess.start(config([model("echo", echo.url, { openaiModels: ["echo"] })], { auth: { apiKeysFile: "keys/digests" }, batch }), {
      files: { "keys/digests": apiKeyDigestsFile([KEY_LIST, KEY_RUN, KEY_RUNNER]) },
      env: moto.env,
    });
    batchConfig = batchConfigSchema.parse({ ...batch, runner: { ...batch.runner, activatorUrl: act.proxyUrl } });
    store = new BatchStore(batchConfig);
  });
  after(async () => {
    await act?.stop();
    await echo?.stop();
    store?.close();
    await aws?.stop();
  });

  const runUntilFinal = (id: string, runnerStore: BatchStore = store) =>
    runBatchUntilFinal(store, id, [new BatchRunner({ store: runnerStore, config: batchConfig, logger, apiKey: KEY_RUNNER })], 60_000);

  it("the SDK's list-and-delete-each loop over 101 files (two pages of 100: the second's `after` was just deleted) deletes them all", async () => {
    const c = client(KEY_LIST);
    const uploaded: string[] = [];
    for (let i = 0; i < 101; i += 10) uploaded.push(...(await Promise.all(Array.from({ length: Math.min(10, 101 - i) }, (_, j) => upload(c, lines(`p${i + j}`, 1))))).map((f) => f.id));
    const deleted: string[] = [];
    for await (const file of c.files.list()) {
      await c.files.delete(file.id);
      deleted.push(file.id);
    }
    assert.deepEqual([...deleted].sort(), [...uploaded].sort(), "every file was listed once and deleted");
    assert.deepEqual((await c.files.list()).data, []);
  });

  it("a finalisation retried after its runner failed half-way writes the same output file: one index entry, created_at = finalizing_at", async () => {
    const c = client(KEY_RUN);
    const created = await c.batches.create({ input_file_id: (await upload(c, lines("r", 2))).id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    let failed = false;
    class FailFirstCompletion extends BatchStore {
      override async putJsonIf(key: string, value: unknown, etag: string | null) {
        if (!failed && (value as BatchRecord).status === "completed") {
          failed = true;
          throw new Error("injected: the runner died before writing the final status");
        }
        return super.putJsonIf(key, value, etag);
      }
    }
    const hooked = new FailFirstCompletion(batchConfig);
    try {
      const batch = await runUntilFinal(created.id, hooked); // the message reappears after 5 s; the join runs again
      assert.ok(failed, "the first finalisation failed");
      assert.equal(batch.status, "completed");
      const output = (await store.getJson<FileRecord>(store.fileRecordKey(batch.output_file_id!)))!;
      assert.equal(output.created_at, batch.finalizing_at);
      const prefix = store.ownerFilesPrefix(apiKeyDigest(KEY_RUN), "asc");
      const entries = (await store.keys(prefix)).keys.filter((k) => k.includes(created.id.slice("batch_".length)));
      assert.deepEqual(entries, [store.fileIndexKey(apiKeyDigest(KEY_RUN), "asc", output)], "no second (stale) index entry");
      assert.deepEqual((await c.files.list({ purpose: "batch_output" })).data.map((f) => f.id), [batch.output_file_id]);
    } finally {
      hooked.close();
    }
  });

  it("a cancel landing while create queues the chunks, then the queue refusing: the batch ends failed (queue_unavailable), not cancelling", async () => {
    const id = newBatchId(Date.now());
    const record = {
      id, object: "batch", endpoint: "/v1/chat/completions", errors: null, input_file_id: "file-x", completion_window: "24h", status: "validating",
      output_file_id: null, error_file_id: null, created_at: 1, in_progress_at: null, expires_at: 86_401, finalizing_at: null, completed_at: null,
      failed_at: null, expired_at: null, cancelling_at: null, cancelled_at: null, request_counts: { total: 2, completed: 0, failed: 0 }, metadata: null,
      owner: "o", chunkCount: 1,
    } satisfies BatchRecord;
    await store.putJsonIf(store.batchRecordKey(id), record, null);
    assert.equal((await requestCancel(store, id, 5))?.status, "cancelling");
    const error = { object: "list" as const, data: [{ code: "queue_unavailable", message: "the chunks could not be queued", param: null, line: null }] };
    const settled = await settleCreated(store, id, { status: "failed", failed_at: 6, errors: error });
    assert.equal(settled?.status, "failed");
    assert.equal(settled?.cancelling_at, 5, "the cancel is kept on record");
    assert.deepEqual((await store.getJson<BatchRecord>(store.batchRecordKey(id)))?.errors, error);
    assert.equal((await settleCreated(store, id, { status: "in_progress", in_progress_at: 7 }))?.status, "failed", "a final batch is left as it is");
  });

  it("a chunk message without `lines` (queued by an older activator) whose input file is gone: its lines fail and the batch ends", async () => {
    const c = client(KEY_RUN);
    const input = await upload(c, lines("o", 3)); // chunks of 2 and 1 lines
    const created = await c.batches.create({ input_file_id: input.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    await c.files.delete(input.id);
    class OldMessages extends BatchRunner {
      override async runChunk(m: Parameters<BatchRunner["runChunk"]>[0]) {
        const { lines: _lines, ...old } = m;
        return super.runChunk(old);
      }
    }
    const runner = new OldMessages({ store, config: batchConfig, logger, apiKey: KEY_RUNNER });
    const running = runner.run();
    let batch: BatchRecord | null = null;
    try {
      const deadline = Date.now() + 30_000;
      while (!(batch && FINAL_STATUSES.includes(batch.status)) && Date.now() < deadline) {
        await sleep(100);
        batch = await store.getJson<BatchRecord>(store.batchRecordKey(created.id));
      }
    } finally {
      runner.stop();
      await running;
      await runner.close();
    }
    assert.equal(batch?.status, "completed");
    assert.deepEqual(batch?.request_counts, { total: 3, completed: 0, failed: 3 });
    const errors = (await (await c.files.content(batch!.error_file_id!)).text()).trim().split("\n").map((l) => JSON.parse(l) as { error: { code: string; message: string } });
    assert.deepEqual(errors.map((e) => e.error.message.split(":")[0]), ["line 1", "line 2", "line 3"]);
  });
});
