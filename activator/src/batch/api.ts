/**
 * The OpenAI Batch API endpoints, served by the activator after authentication (../proxy/chain.ts):
 *
 *   POST /v1/files                    multipart `file` (JSONL) + `purpose=batch` → FileObject     (streamed to S3)
 *   GET  /v1/files                    ?purpose=&order=&after=&limit= → list of the key's files (./files.ts)
 *   GET  /v1/files/{id}               FileObject
 *   GET  /v1/files/{id}/content       the file's bytes (inputs, and a batch's output and error files)
 *   DELETE /v1/files/{id}             {id, object: "file", deleted: true} (record, bytes and index entries removed)
 *   POST /v1/batches                  {input_file_id, endpoint, completion_window: "24h", metadata?} → Batch
 *   GET  /v1/batches                  ?after=&limit= (1..100, default 20), newest first → list
 *   GET  /v1/batches/{id}             Batch (running request_counts read from the chunks done so far)
 *   POST /v1/batches/{id}/cancel      Batch, now `cancelling` (the runner drains what is left); 400 once finalizing
 *
 * Every file and batch belongs to the API key that created it (its SHA-256 digest; "anonymous" without `auth`):
 * another key gets the same 404 as for an id that does not exist. The upload is never buffered whole: it is
 * validated line by line (./lines.ts) as it streams to S3 in 5 MiB parts; its first bad line, or the byte past
 * `maxFileBytes`, answers 400 `invalid_batch_file` naming it, and the partial upload is aborted. Errors are the
 * activator's (../base/errors.ts); an S3/SQS failure is 503 `batch_storage_unavailable`.
 */
import busboy from "busboy";
import type { Logger } from "pino";
import { pipeline } from "node:stream/promises";
import type { BatchConfig } from "../config/batch";
import { apiKeyDigest } from "../config/apiKeys";
import { grantContinue, type Exchange, type RequestContext } from "../request/exchange";
import { reject } from "../request/respond";
import { FILES_LIMIT_MAX, deleteFile, listFiles } from "./files";
import { BatchInputError, LineValidator } from "./lines";
import {
  BATCH_ENDPOINTS, COMPLETION_WINDOW, COMPLETION_WINDOW_SECONDS, ID, TERMINAL, fileIdPosition, listOf, newBatchId, newFileId, publicBatch, publicFile, unixSeconds,
  type BatchRecord, type ChunkMessage, type FileRecord,
} from "./objects";
import { requestCancel, runningCounts, settleCreated } from "./progress";
import { WriteConflict, type BatchStore } from "./store";

const FILES = /^\/v1\/files(?:\/([^/]+)(\/content)?)?$/;
const BATCHES = /^\/v1\/batches(?:\/([^/]+)(\/cancel)?)?$/;
const BEARER = /^bearer +/i;

export interface BatchApiDeps {
  store: BatchStore;
  config: BatchConfig;
  logger: Logger;
  /** Whether the chain authenticates (then the owner is the key's digest; else "anonymous"). */
  authenticated(): boolean;
  /** Longest line accepted (the activator's `limits.maxBodyBytes`: what one request may carry). */
  maxLineBytes(): number;
  knownModel(model: string): boolean;
  knownModels(): readonly string[];
  now?: () => number;
}

export class BatchApi {
  private readonly now: () => number;

  constructor(private readonly deps: BatchApiDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Serves `x` when its path is a Batch API path (true); false leaves it to the rest of the chain. */
  serve(ctx: RequestContext, x: Exchange): boolean {
    const url = x.req.url ?? "/";
    const path = url.split("?")[0]!;
    const files = FILES.exec(path);
    const batches = files ? null : BATCHES.exec(path);
    if (!files && !batches) return false;
    const method = x.req.method ?? "GET";
    const owner = this.owner(x);
    const fail = (err: unknown): void => this.failed(ctx, x, err);
    if (files) {
      const [, id, content] = files;
      if (id === undefined && method === "POST") this.upload(ctx, x, owner).catch(fail);
      else if (id === undefined && method === "GET") this.listFiles(ctx, x, owner, new URLSearchParams(url.slice(path.length + 1))).catch(fail);
      else if (id !== undefined && method === "GET") this.getFile(ctx, x, owner, id, content !== undefined).catch(fail);
      else if (id !== undefined && content === undefined && method === "DELETE") this.deleteFile(ctx, x, owner, id).catch(fail);
      else notAllowed(ctx, x, method, path);
      return true;
    }
    const [, id, cancel] = batches!;
    if (id === undefined && method === "POST") this.create(ctx, x, owner).catch(fail);
    else if (id === undefined && method === "GET") this.list(ctx, x, owner, new URLSearchParams(url.slice(path.length + 1))).catch(fail);
    else if (id !== undefined && cancel === undefined && method === "GET") this.retrieve(ctx, x, owner, id).catch(fail);
    else if (id !== undefined && cancel !== undefined && method === "POST") this.cancel(ctx, x, owner, id).catch(fail);
    else notAllowed(ctx, x, method, path);
    return true;
  }

  private owner(x: Exchange): string {
    if (!this.deps.authenticated()) return "anonymous";
    const credentials = x.req.headers.authorization ?? "";
    const scheme = BEARER.exec(credentials);
    return apiKeyDigest(scheme === null ? "" : credentials.slice(scheme[0].length).trim());
  }

  private async upload(ctx: RequestContext, x: Exchange, owner: string): Promise<void> {
    const { store, config } = this.deps;
    if (!(x.req.headers["content-type"] ?? "").toLowerCase().startsWith("multipart/form-data")) {
      reject(ctx, x, "invalid_request", "POST /v1/files takes multipart/form-data with a `file` (JSONL) and `purpose=batch`");
      return;
    }
    const createdAt = unixSeconds(this.now());
    const id = newFileId(createdAt);
    const parser = busboy({ headers: x.req.headers, limits: { files: 1, fields: 8, fieldSize: 4096 } });
    let purpose: string | undefined;
    let filename = "input.jsonl";
    let stored: Promise<LineValidator> | undefined;
    let refused = false;
    const refuse = (err: unknown): void => {
      if (refused) return;
      refused = true;
      x.req.unpipe(parser);
      if (err instanceof BatchInputError) reject(ctx, x, "invalid_batch_file", err.message, err.line === null ? {} : { line: err.line });
      else if (isStorage(err)) this.failed(ctx, x, err);
      else reject(ctx, x, "invalid_request", `the multipart body could not be read: ${(err as Error).message}`);
    };
    parser.on("field", (name, value) => {
      if (name === "purpose") purpose = value;
    });
    parser.on("file", (name, stream, info) => {
      if (name !== "file" || stored !== undefined) {
        stream.resume();
        return;
      }
      filename = info.filename || filename;
      const validator = new LineValidator({
        maxBytes: config.maxFileBytes,
        maxLines: config.maxLines,
        maxLineBytes: this.deps.maxLineBytes(),
        linesPerChunk: config.linesPerChunk,
        knownModel: this.deps.knownModel,
        known: this.deps.knownModels,
      });
      const upload = store.upload(store.fileContentKey(id), validator);
      stored = Promise.all([pipeline(stream, validator), upload.done()]).then(
        () => validator,
        async (err: unknown) => {
          await upload.abort().catch(() => undefined);
          throw err instanceof BatchInputError ? err : ((validator.errored as Error | null) ?? err);
        },
      );
      stored.catch(refuse);
    });
    parser.on("error", refuse);
    parser.on("close", () => {
      if (refused) return;
      if (stored === undefined) return refuse(new BatchInputError("no `file` part in the multipart body", null));
      stored.then(async (validator) => {
        if (refused) return;
        if (purpose !== "batch") {
          await store.delete(store.fileContentKey(id));
          reject(ctx, x, "invalid_request", `purpose must be "batch" (the only purpose this gateway stores), got ${JSON.stringify(purpose ?? null)}`, { param: "purpose" });
          return;
        }
        const record: FileRecord = {
          id, object: "file", bytes: validator.bytes, created_at: createdAt, filename, purpose: "batch", status: "processed",
          owner, lines: validator.lines, urls: [...validator.urls], chunks: validator.chunks,
        };
        await store.putJsonIf(store.fileRecordKey(id), record, null);
        await store.indexFile(owner, record);
        this.deps.logger.info({ file: id, bytes: record.bytes, lines: record.lines }, "batch input file stored");
        sendJson(x, 200, publicFile(record));
      }, () => undefined).catch(refuse);
    });
    grantContinue(x);
    x.req.pipe(parser);
  }

  private async ownFile(ctx: RequestContext, x: Exchange, owner: string, id: string): Promise<FileRecord | null> {
    const record = ID.test(id) ? await this.deps.store.getJson<FileRecord>(this.deps.store.fileRecordKey(id)) : null;
    if (record === null || record.owner !== owner) {
      reject(ctx, x, "file_not_found", `No such File object: ${id}`, { param: "file_id" });
      return null;
    }
    return record;
  }

  private async getFile(ctx: RequestContext, x: Exchange, owner: string, id: string, content: boolean): Promise<void> {
    const record = await this.ownFile(ctx, x, owner, id);
    if (record === null) return;
    if (!content) return sendJson(x, 200, publicFile(record));
    const object = await this.deps.store.read(this.deps.store.fileContentKey(id));
    if (object === null) return reject(ctx, x, "file_not_found", `No content for File object: ${id}`, { param: "file_id" });
    x.res.writeHead(200, { "content-type": "application/jsonl", "content-length": object.length });
    await pipeline(object.body, x.res);
  }

  private async listFiles(ctx: RequestContext, x: Exchange, owner: string, query: URLSearchParams): Promise<void> {
    const limit = query.has("limit") ? Number(query.get("limit")) : FILES_LIMIT_MAX;
    if (!Number.isInteger(limit) || limit < 1 || limit > FILES_LIMIT_MAX) return reject(ctx, x, "invalid_request", `limit must be an integer from 1 to ${FILES_LIMIT_MAX}`, { param: "limit" });
    const order = query.get("order") ?? "desc";
    if (order !== "asc" && order !== "desc") return reject(ctx, x, "invalid_request", `order must be "asc" or "desc", got "${order}"`, { param: "order" });
    const afterId = query.get("after") ?? undefined;
    // The position of `after` comes from the id itself (no read; a file deleted since is fine, as the SDKs' "list
    // and delete each" loop needs); only ids issued before ids carried their time are looked up.
    let after = afterId === undefined ? undefined : fileIdPosition(afterId) ?? undefined;
    if (afterId !== undefined && after === undefined) {
      const record = ID.test(afterId) ? await this.deps.store.getJson<FileRecord>(this.deps.store.fileRecordKey(afterId)) : null;
      if (record === null || record.owner !== owner) return reject(ctx, x, "invalid_request", `after must be the id of one of your files, got "${afterId}"`, { param: "after" });
      after = record;
    }
    const { files, more } = await listFiles(this.deps.store, owner, { order, after, limit, purpose: query.get("purpose") ?? undefined });
    sendJson(x, 200, listOf(files.map(publicFile), more));
  }

  private async deleteFile(ctx: RequestContext, x: Exchange, owner: string, id: string): Promise<void> {
    const record = await this.ownFile(ctx, x, owner, id);
    if (record === null) return;
    await deleteFile(this.deps.store, record);
    this.deps.logger.info({ file: id }, "file deleted");
    sendJson(x, 200, { id, object: "file", deleted: true });
  }

  private async create(ctx: RequestContext, x: Exchange, owner: string): Promise<void> {
    const body = await readSmallJson(x, 64 * 1024);
    if (typeof body === "string") return reject(ctx, x, "invalid_request", body);
    const { input_file_id, endpoint, completion_window, metadata } = body;
    const invalid = (param: string, message: string): void => reject(ctx, x, "invalid_request", message, { param });
    if (typeof endpoint !== "string" || !BATCH_ENDPOINTS.has(endpoint)) return invalid("endpoint", `endpoint must be one of ${[...BATCH_ENDPOINTS].join(", ")}`);
    if (completion_window !== COMPLETION_WINDOW) return invalid("completion_window", `completion_window must be "${COMPLETION_WINDOW}"`);
    if (metadata !== undefined && metadata !== null && !isMetadata(metadata)) return invalid("metadata", "metadata must be an object of at most 16 string values (keys ≤ 64, values ≤ 512 characters)");
    if (typeof input_file_id !== "string") return invalid("input_file_id", "input_file_id must be a string");
    const file = await this.ownFile(ctx, x, owner, input_file_id);
    if (file === null) return;
    if (file.purpose !== "batch" || !file.chunks) return invalid("input_file_id", `file ${input_file_id} is not a batch input file`);
    const others = (file.urls ?? []).filter((u) => u !== endpoint);
    if (others.length > 0) return invalid("endpoint", `the input file's lines call ${others.join(", ")}, not the batch's endpoint ${endpoint}`);
    const { store } = this.deps;
    const created = unixSeconds(this.now());
    const record: BatchRecord = {
      id: newBatchId(this.now()), object: "batch", endpoint, errors: null, input_file_id, completion_window, status: "validating",
      output_file_id: null, error_file_id: null, created_at: created, in_progress_at: null, expires_at: created + COMPLETION_WINDOW_SECONDS,
      finalizing_at: null, completed_at: null, failed_at: null, expired_at: null, cancelling_at: null, cancelled_at: null,
      request_counts: { total: file.lines ?? 0, completed: 0, failed: 0 }, metadata: (metadata as Record<string, string> | undefined) ?? null,
      owner, chunkCount: file.chunks.length,
    };
    const key = store.batchRecordKey(record.id);
    await store.putJsonIf(key, record, null);
    await store.indexBatch(owner, record.id);
    const messages: ChunkMessage[] = file.chunks.map(([start, end, first], chunk, all) => {
      const lines = (all[chunk + 1]?.[2] ?? (file.lines ?? 0) + 1) - first;
      return { batch_id: record.id, chunk, start, end, first_line: first, lines };
    });
    let next: Partial<BatchRecord>;
    try {
      await store.enqueue(messages);
      next = { status: "in_progress", in_progress_at: unixSeconds(this.now()) };
    } catch (err) {
      const message = `the chunks could not be queued: ${(err as Error).message}`;
      next = { status: "failed", failed_at: unixSeconds(this.now()), errors: { object: "list", data: [{ code: "queue_unavailable", message, param: null, line: null }] } };
    }
    // A cancel, or a runner already finalising the chunks, may have moved it on meanwhile (./progress.ts).
    const latest = (await settleCreated(store, record.id, next)) ?? record;
    this.deps.logger.info({ batch: record.id, file: input_file_id, chunks: record.chunkCount, status: latest.status }, "batch created");
    sendJson(x, 200, publicBatch(latest));
  }

  private async ownBatch(ctx: RequestContext, x: Exchange, owner: string, id: string): Promise<BatchRecord | null> {
    const record = ID.test(id) ? await this.deps.store.getJson<BatchRecord>(this.deps.store.batchRecordKey(id)) : null;
    if (record === null || record.owner !== owner) {
      reject(ctx, x, "batch_not_found", `No such Batch object: ${id}`, { param: "batch_id" });
      return null;
    }
    return record;
  }

  /** The record with running request_counts while it is not final. */
  private async current(record: BatchRecord): Promise<BatchRecord> {
    if (TERMINAL.has(record.status)) return record;
    return { ...record, request_counts: runningCounts(record, await this.deps.store.doneChunks(record.id)) };
  }

  private async retrieve(ctx: RequestContext, x: Exchange, owner: string, id: string): Promise<void> {
    const record = await this.ownBatch(ctx, x, owner, id);
    if (record !== null) sendJson(x, 200, publicBatch(await this.current(record)));
  }

  private async list(ctx: RequestContext, x: Exchange, owner: string, query: URLSearchParams): Promise<void> {
    const limit = query.has("limit") ? Number(query.get("limit")) : 20;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return reject(ctx, x, "invalid_request", "limit must be an integer from 1 to 100", { param: "limit" });
    const after = query.get("after") ?? undefined;
    if (after !== undefined && !ID.test(after)) return reject(ctx, x, "invalid_request", `after must be a batch id, got "${after}"`, { param: "after" });
    const { store } = this.deps;
    const { ids, more } = await store.ownerBatches(owner, after, limit);
    const records = await Promise.all(ids.map((id) => store.getJson<BatchRecord>(store.batchRecordKey(id))));
    const data = await Promise.all(records.filter((r): r is BatchRecord => r !== null).map(async (r) => publicBatch(await this.current(r))));
    sendJson(x, 200, listOf(data, more));
  }

  private async cancel(ctx: RequestContext, x: Exchange, owner: string, id: string): Promise<void> {
    if ((await this.ownBatch(ctx, x, owner, id)) === null) return;
    const at = unixSeconds(this.now());
    // Compare-and-set (./progress.ts): a runner that began finalising after this read wins; the cancel is refused below.
    const record = await requestCancel(this.deps.store, id, at);
    if (record === null) return reject(ctx, x, "batch_not_found", `No such Batch object: ${id}`, { param: "batch_id" });
    if (record.status !== "cancelling" && record.status !== "cancelled") {
      return reject(ctx, x, "invalid_request", `batch ${id} is ${record.status}; only a validating or in_progress batch can be cancelled`, { param: "batch_id" });
    }
    if (record.cancelling_at === at) this.deps.logger.info({ batch: id }, "batch cancelling");
    sendJson(x, 200, publicBatch(await this.current(record)));
  }

  private failed(ctx: RequestContext, x: Exchange, err: unknown): void {
    this.deps.logger.warn({ err: (err as Error).message, url: x.req.url }, "batch storage call failed");
    if (x.res.headersSent) x.res.destroy();
    else reject(ctx, x, "batch_storage_unavailable", `the batch store (S3/SQS) failed: ${(err as Error).message}`);
  }
}

function notAllowed(ctx: RequestContext, x: Exchange, method: string, path: string): void {
  reject(ctx, x, "invalid_request", `${method} ${path} is not a Batch API call; see docs/batch-api.md`);
}

/** An S3/SQS failure (the SDK's errors carry `$metadata`), or a conditional write refused (./store.ts `WriteConflict`). */
export function isStorage(err: unknown): boolean {
  return err instanceof WriteConflict || typeof (err as { $metadata?: unknown }).$metadata === "object";
}

function isMetadata(m: unknown): boolean {
  if (typeof m !== "object" || m === null || Array.isArray(m)) return false;
  const entries = Object.entries(m);
  return entries.length <= 16 && entries.every(([k, v]) => k.length <= 64 && typeof v === "string" && v.length <= 512);
}

function sendJson(x: Exchange, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  x.res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  x.res.end(body);
}

/** The request's JSON object body (at most `max` bytes), or a message saying why not. */
async function readSmallJson(x: Exchange, max: number): Promise<Record<string, unknown> | string> {
  grantContinue(x);
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of x.req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > max) return `the request body exceeds ${max} bytes`;
    chunks.push(chunk);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  return "the request body must be a JSON object";
}
