/**
 * Where the Batch API keeps everything: one S3 bucket (files, results, batch records) and one SQS queue (chunks).
 * Keys under the configured prefix P:
 *
 *   P files/<id>/record.json             FileRecord (the OpenAI file object, its owner, an input's chunk index)
 *   P files/<id>/content                 the file's bytes (JSONL)
 *   P batches/<id>/record.json           BatchRecord (status, request_counts once final, owner)
 *   P batches/<id>/parts/<chunk>.out     output lines of one chunk   (written by the runner)
 *   P batches/<id>/parts/<chunk>.err     error lines of one chunk    (written by the runner)
 *   P batches/<id>/done/<chunk>.<completed>.<failed>[.x]   a chunk is done (empty; `.x`: it expired)
 *   P owners/<digest>/batches/<id>       index for listing one key's batches (empty; ids sort newest first)
 *   P owners/<digest>/files/{asc,desc}/<created_at>.<id>.<purpose>   index for listing one key's files (empty;
 *                                        created_at as 9 hex digits, counted down from 2^36 under desc/)
 *
 * A chunk's results are its own objects (written again, unchanged, if its message is delivered twice), so runners
 * never contend on one record: running counts are read from the `done/` key names. Only the activator (create,
 * cancel) and the runner that finalises write a batch record, and every change to one after its creation is a
 * compare-and-set (`update`: S3 conditional writes, `If-Match` on the ETag read; creation `If-None-Match: *`), so a
 * cancel and a finalisation that race cannot overwrite each other (./progress.ts). Endpoints follow `batch.endpointUrl` (tests: a local
 * S3/SQS server, path-style addressing); credentials and region are the SDK's defaults (IRSA in the cluster).
 */
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { BatchConfig } from "../config/batch";
import { MultipartWriter } from "./multipart";
import type { ChunkMessage } from "./objects";


/** An object being written from a stream (`BatchStore.upload`). */
export interface ObjectUpload {
  done(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * A conditional write refused because the object changed since it was read: S3's 412 `PreconditionFailed`, or 409
 * `ConditionalRequestConflict` while another conditional write to the same key is under way (AWS S3 user guide,
 * "Add preconditions to S3 operations with conditional requests").
 */
export class WriteConflict extends Error {}


export class BatchStore {
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly bucket: string;
  readonly queueUrl: string;
  private readonly prefix: string;

  constructor(config: BatchConfig) {
    const common = { ...(config.region ? { region: config.region } : { region: process.env["AWS_REGION"] ?? process.env["AWS_DEFAULT_REGION"] ?? "us-east-1" }), ...(config.endpointUrl ? { endpoint: config.endpointUrl } : {}) };
    this.s3 = new S3Client({ ...common, forcePathStyle: config.endpointUrl !== undefined });
    this.sqs = new SQSClient(common);
    this.bucket = config.bucket;
    this.queueUrl = config.queueUrl;
    this.prefix = config.prefix;
  }

  fileRecordKey = (id: string): string => `${this.prefix}files/${id}/record.json`;
  fileContentKey = (id: string): string => `${this.prefix}files/${id}/content`;
  batchRecordKey = (id: string): string => `${this.prefix}batches/${id}/record.json`;
  partKey = (id: string, chunk: number, kind: "out" | "err"): string => `${this.prefix}batches/${id}/parts/${pad(chunk)}.${kind}`;
  doneKey = (id: string, chunk: number, completed: number, failed: number, expired: boolean): string =>
    `${this.prefix}batches/${id}/done/${pad(chunk)}.${completed}.${failed}${expired ? ".x" : ""}`;
  private ownerBatchesPrefix = (owner: string): string => `${this.prefix}owners/${owner}/batches/`;

  /** The JSON at `key`, or null when there is none. */
  async getJson<T>(key: string): Promise<T | null> {
    return (await this.getVersioned<T>(key))?.value ?? null;
  }

  /** The JSON at `key` and its ETag (what a conditional write names), or null when there is none. */
  async getVersioned<T>(key: string): Promise<{ value: T; etag: string } | null> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return { value: JSON.parse(await out.Body!.transformToString()) as T, etag: out.ETag ?? "" };
    } catch (err) {
      if (isNoSuchKey(err)) return null;
      throw err;
    }
  }

  async putJson(key: string, value: unknown): Promise<void> {
    await this.put(key, JSON.stringify(value), "application/json");
  }

  /**
   * Writes `value` only while the object is still the version `etag` names (`If-Match`), or only when there is none
   * yet (`etag` null: `If-None-Match: *`). Throws `WriteConflict` when it changed (or appeared) meanwhile.
   */
  async putJsonIf(key: string, value: unknown, etag: string | null): Promise<void> {
    const body = JSON.stringify(value);
    try {
      await this.s3.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: "application/json", ContentLength: Buffer.byteLength(body), ...(etag === null ? { IfNoneMatch: "*" } : { IfMatch: etag }) }),
      );
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412 || status === 409 || (etag !== null && isNoSuchKey(err))) throw new WriteConflict(`${key} changed while it was being updated (${(err as Error).name})`);
      throw err;
    }
  }

  /**
   * Compare-and-set on the JSON at `key`: reads it, asks `change` for the next value (null: leave it as it is) and
   * writes that only if nobody wrote in between (`putJsonIf` on the ETag read); on a conflict it reads again and asks
   * again, at most `attempts` times (then the last `WriteConflict` is thrown). Returns the value as it now is
   * (written or left), null when there is none.
   */
  async update<T>(key: string, change: (current: T) => T | null, attempts = 8): Promise<T | null> {
    for (let attempt = 1; ; attempt++) {
      const read = await this.getVersioned<T>(key);
      if (read === null) return null;
      const next = change(read.value);
      if (next === null) return read.value;
      try {
        await this.putJsonIf(key, next, read.etag);
        return next;
      } catch (err) {
        if (!(err instanceof WriteConflict) || attempt >= attempts) throw err;
      }
    }
  }

  async put(key: string, body: string | Buffer, contentType = "application/octet-stream"): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType, ContentLength: Buffer.byteLength(body) }));
  }

  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  /**
   * Streams `body` to `key` (./multipart.ts): one PART_BYTES buffer, allocated once, whatever the size. `done()` (call it once) resolves when the object is written; after a failure,
   * `abort()` removes the parts sent.
   */
  upload(key: string, body: Readable, contentType = "application/jsonl"): ObjectUpload {
    const writer = new MultipartWriter({ client: this.s3, bucket: this.bucket, key, contentType });
    return { done: () => pipeline(body, writer), abort: () => writer.abort() };
  }

  /** The object's bytes as a stream (a byte range `[start, end)` when given), or null when there is none. */
  async read(key: string, range?: [number, number]): Promise<{ body: Readable; length: number } | null> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(range ? { Range: `bytes=${range[0]}-${range[1] - 1}` } : {}) }));
      return { body: out.Body as Readable, length: out.ContentLength ?? 0 };
    } catch (err) {
      if (isNoSuchKey(err)) return null;
      throw err;
    }
  }

  /** Every key under `prefix` (all pages), in S3 order (UTF-8 binary order). */
  async keys(prefix: string, startAfter?: string, max = Infinity): Promise<{ keys: string[]; more: boolean }> {
    const keys: string[] = [];
    let token: string | undefined;
    for (;;) {
      const out = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token, ...(token ? {} : startAfter ? { StartAfter: startAfter } : {}), MaxKeys: Math.min(1000, max - keys.length + 1) }));
      for (const o of out.Contents ?? []) keys.push(o.Key!);
      if (keys.length > max) return { keys: keys.slice(0, max), more: true };
      if (!out.IsTruncated) return { keys, more: false };
      token = out.NextContinuationToken;
    }
  }

  /** One ListObjectsV2 call: up to 1000 keys (S3's most) under `prefix` after `startAfter`; `more` when it was truncated. */
  async keysPage(prefix: string, startAfter?: string): Promise<{ keys: string[]; more: boolean }> {
    const out = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, MaxKeys: 1000, ...(startAfter ? { StartAfter: startAfter } : {}) }));
    return { keys: (out.Contents ?? []).map((o) => o.Key!), more: out.IsTruncated === true };
  }

  /** Whether `chunk` of batch `id` has its `done/` marker (its results are written). */
  async chunkDone(id: string, chunk: number): Promise<boolean> {
    return (await this.keys(`${this.prefix}batches/${id}/done/${pad(chunk)}.`, undefined, 1)).keys.length > 0;
  }

  /** The `done/` markers of a batch: per chunk, its counts. */
  async doneChunks(id: string): Promise<Map<number, { completed: number; failed: number; expired: boolean }>> {
    const prefix = `${this.prefix}batches/${id}/done/`;
    const done = new Map<number, { completed: number; failed: number; expired: boolean }>();
    for (const key of (await this.keys(prefix)).keys) {
      const [chunk, completed, failed, x] = key.slice(prefix.length).split(".");
      done.set(Number(chunk), { completed: Number(completed), failed: Number(failed), expired: x === "x" });
    }
    return done;
  }

  /**
   * A file's two entries in its owner's file index: under `asc/` its `created_at` (seconds, 9 hex digits), under
   * `desc/` 2^36 minus it, then its id and purpose, so one S3 listing (UTF-8 binary order) is either order of
   * OpenAI's `GET /v1/files` (ties by id) and `purpose` can be filtered on the key names alone.
   */
  fileIndexKey(owner: string, order: "asc" | "desc", f: { id: string; created_at: number; purpose: string }): string {
    const seconds = order === "asc" ? f.created_at : 2 ** 36 - f.created_at;
    return `${this.ownerFilesPrefix(owner, order)}${seconds.toString(16).padStart(9, "0")}.${f.id}.${f.purpose}`;
  }

  ownerFilesPrefix = (owner: string, order: "asc" | "desc"): string => `${this.prefix}owners/${owner}/files/${order}/`;

  async indexFile(owner: string, f: { id: string; created_at: number; purpose: string }): Promise<void> {
    await Promise.all((["asc", "desc"] as const).map((order) => this.put(this.fileIndexKey(owner, order, f), "")));
  }

  async unindexFile(owner: string, f: { id: string; created_at: number; purpose: string }): Promise<void> {
    await Promise.all((["asc", "desc"] as const).map((order) => this.delete(this.fileIndexKey(owner, order, f))));
  }

  async indexBatch(owner: string, id: string): Promise<void> {
    await this.put(`${this.ownerBatchesPrefix(owner)}${id}`, "");
  }

  /** Batch ids of `owner`, newest first, after `after`; at most `limit`. */
  async ownerBatches(owner: string, after: string | undefined, limit: number): Promise<{ ids: string[]; more: boolean }> {
    const prefix = this.ownerBatchesPrefix(owner);
    const { keys, more } = await this.keys(prefix, after ? `${prefix}${after}` : undefined, limit);
    return { ids: keys.map((k) => k.slice(prefix.length)), more };
  }

  /** Sends the chunk messages, ten per SendMessageBatch call (SQS's most), eight calls at once; throws if any entry failed. */
  async enqueue(messages: ChunkMessage[]): Promise<void> {
    const calls: ChunkMessage[][] = [];
    for (let i = 0; i < messages.length; i += 10) calls.push(messages.slice(i, i + 10));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < calls.length) {
        const entries = calls[next++]!.map((m) => ({ Id: String(m.chunk), MessageBody: JSON.stringify(m) }));
        const out = await this.sqs.send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }));
        if (out.Failed && out.Failed.length > 0) throw new Error(`SQS refused ${out.Failed.length} chunk message(s): ${out.Failed[0]!.Message ?? out.Failed[0]!.Code}`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, calls.length) }, worker));
  }

  close(): void {
    this.s3.destroy();
    this.sqs.destroy();
  }
}

const pad = (chunk: number): string => String(chunk).padStart(6, "0");

function isNoSuchKey(err: unknown): boolean {
  return err instanceof NoSuchKey || (err as { name?: string }).name === "NoSuchKey";
}
