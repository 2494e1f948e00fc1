/**
 * The OpenAI Batch API's objects, as the API reference and the pinned SDKs type them (openai-node 7.60.0
 * `resources/batches.d.ts` `Batch`, `resources/files.d.ts` `FileObject`; openai-python 3.63.0 `types/batch.py`),
 * plus what this activator keeps beside them (`owner`, chunk bookkeeping), never shown to clients (`publicBatch`,
 * `publicFile`). Pure: no I/O.
 */
import { randomBytes } from "node:crypto";

/** Endpoints a batch line may call (OpenAI's `endpoint` values this gateway can route by `model`). */
export const BATCH_ENDPOINTS: ReadonlySet<string> = new Set(["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses"]);

/** OpenAI's only completion window. */
export const COMPLETION_WINDOW = "24h";
export const COMPLETION_WINDOW_SECONDS = 24 * 3600;

export type BatchStatus = "validating" | "failed" | "in_progress" | "finalizing" | "completed" | "expired" | "cancelling" | "cancelled";

/** Statuses a batch never leaves. */
export const TERMINAL: ReadonlySet<BatchStatus> = new Set(["failed", "completed", "expired", "cancelled"]);

export interface FileObject {
  id: string;
  object: "file";
  bytes: number;
  created_at: number;
  filename: string;
  purpose: "batch" | "batch_output";
  status: "uploaded" | "processed" | "error";
  expires_at?: number | null;
  status_details?: string | null;
}

/** A stored file record: the OpenAI object plus its owner and, for inputs, what create-batch checks. */
export interface FileRecord extends FileObject {
  /** SHA-256 digest of the API key that uploaded it ("anonymous" without auth). */
  owner: string;
  /** Request lines (inputs). */
  lines?: number;
  /** Distinct `url`s of the lines (inputs): a batch's `endpoint` must be the only one. */
  urls?: string[];
  /** Chunks as `[startByte, endByte, firstLine]` (inputs): one SQS message each. */
  chunks?: [number, number, number][];
}

export interface RequestCounts {
  total: number;
  completed: number;
  failed: number;
}

export interface BatchObject {
  id: string;
  object: "batch";
  endpoint: string;
  errors: { object: "list"; data: { code: string; message: string; param: string | null; line: number | null }[] } | null;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: RequestCounts;
  metadata: Record<string, string> | null;
}

export interface BatchRecord extends BatchObject {
  owner: string;
  /** SQS messages (chunks) the input was split into. */
  chunkCount: number;
}

/** What goes on SQS for one chunk: a byte range of the input file (the lines themselves stay in S3). */
export interface ChunkMessage {
  batch_id: string;
  chunk: number;
  start: number;
  end: number;
  first_line: number;
  /** Request lines in the range (what fails when the input file was deleted before the chunk ran). */
  lines?: number;
}

/** Seconds since the epoch, as OpenAI's `*_at` fields. */
export const unixSeconds = (ms: number): number => Math.floor(ms / 1000);

/**
 * `batch_<11 hex: 2^44 - ms><16 hex random>`: ids sort newest first as strings, so listing a key prefix in S3 order
 * is OpenAI's list order (newest first) and `after` is a plain StartAfter.
 */
export function newBatchId(nowMs: number): string {
  const inverted = (2 ** 44 - Math.floor(nowMs)).toString(16).padStart(11, "0");
  return `batch_${inverted}${randomBytes(8).toString("hex")}`;
}

const hex9 = (seconds: number): string => Math.floor(seconds).toString(16).padStart(9, "0");

/**
 * An uploaded file's id: `file-<9 hex: created_at seconds>-<16 hex random>`. The id carries the file's position in
 * its owner's file index (`fileIdPosition`), so a list page's `after` needs no read, and names a deleted file as
 * well as a live one (the SDKs page with the last id of a page whose files the caller may just have deleted).
 */
export const newFileId = (createdAt: number): string => `file-${hex9(createdAt)}-${randomBytes(8).toString("hex")}`;

/**
 * A batch's output or error file: `file-<9 hex: created_at>-<batch id without "batch_">-output|errors`. Derived from
 * the batch id and `created_at` (the claimed record's `finalizing_at`, ./progress.ts), so a retried finalisation
 * writes the same id, record and index entries.
 */
export const outputFileId = (batchId: string, kind: "output" | "errors", createdAt: number): string =>
  `file-${hex9(createdAt)}-${batchId.slice("batch_".length)}-${kind}`;

const UPLOADED_ID = /^file-([0-9a-f]{9})-[0-9a-f]{16}$/;
const OUTPUT_ID = /^file-([0-9a-f]{9})-[0-9a-f]{27}-(?:output|errors)$/;

/**
 * Where a file id issued by `newFileId` or `outputFileId` sits in the file index: its `created_at` (seconds) and
 * `purpose`, read from the id alone. Null for any other id (files stored before ids carried their time: their
 * record gives it).
 */
export function fileIdPosition(id: string): { id: string; created_at: number; purpose: "batch" | "batch_output" } | null {
  const uploaded = UPLOADED_ID.exec(id);
  if (uploaded) return { id, created_at: parseInt(uploaded[1]!, 16), purpose: "batch" };
  const output = OUTPUT_ID.exec(id);
  if (output) return { id, created_at: parseInt(output[1]!, 16), purpose: "batch_output" };
  return null;
}

/** `batch_<hex>` or `file-<hex>` (what this gateway issues); anything else is never looked up in S3. */
export const ID = /^(batch_|file-)[0-9a-z_-]{8,64}$/;

export function publicFile(r: FileRecord): FileObject {
  const { id, object, bytes, created_at, filename, purpose, status, expires_at, status_details } = r;
  return { id, object, bytes, created_at, filename, purpose, status, expires_at: expires_at ?? null, status_details: status_details ?? null };
}

export function publicBatch(r: BatchRecord): BatchObject {
  const { owner: _owner, chunkCount: _chunks, ...rest } = r;
  return rest;
}

/** OpenAI's list shape: `{object: "list", data, first_id, last_id, has_more}` (what `CursorPage` pages on). */
export function listOf<T extends { id: string }>(data: T[], hasMore: boolean): Record<string, unknown> {
  return { object: "list", data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: hasMore };
}
