/**
 * Validates a batch input file line by line as its bytes stream through (a Transform that passes every byte on
 * unchanged): each line is OpenAI's request line `{"custom_id": string, "method": "POST", "url": endpoint,
 * "body": {"model": string, ...}}`, the model one this gateway routes, the file within `maxBytes` and `maxLines`.
 * Only the current partial line is kept (at most `maxLineBytes`). The first bad line fails the stream with a
 * `BatchInputError` naming it (1-based); the chunk index (`[startByte, endByte, firstLine]` every `linesPerChunk`
 * lines) and the distinct urls are read when it ends. A trailing newline (or none) is fine; an empty line is not.
 */
import { createHash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { BATCH_ENDPOINTS } from "./objects";

export class BatchInputError extends Error {
  constructor(
    message: string,
    readonly line: number | null,
  ) {
    super(message);
  }
}

export interface LineLimits {
  maxBytes: number;
  maxLines: number;
  maxLineBytes: number;
  linesPerChunk: number;
  /** Whether an OpenAI `model` value is routed here; `known` lists them for the error. */
  knownModel(model: string): boolean;
  known(): readonly string[];
}

const NEWLINE = 0x0a;

/**
 * custom_ids kept to refuse a duplicate: OpenAI's most lines per batch (50 000). Bounded because the set is the one
 * part of the validator's memory that grows with the file; a duplicate past it is not caught. Each id is kept as the
 * first 16 bytes of its SHA-256 (a 16-character one-byte string, about 100 bytes with the set's entry): the same size
 * whatever the id's length (a 512-character id would otherwise hold 25 MiB at 50 000), and never a slice of its line's
 * string. Two distinct ids sharing 128 bits of SHA-256 is what would wrongly refuse a file.
 */
export const DUPLICATE_CHECKED_LINES = 50_000;

export class LineValidator extends Transform {
  bytes = 0;
  lines = 0;
  readonly urls = new Set<string>();
  readonly chunks: [number, number, number][] = [];
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private chunkStart = 0;
  private readonly customIds = new Set<string>();

  constructor(private readonly limits: LineLimits) {
    super();
  }

  override _transform(data: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      let from = 0;
      for (let nl = data.indexOf(NEWLINE); nl >= 0; nl = data.indexOf(NEWLINE, from)) {
        this.keep(data.subarray(from, nl));
        this.endLine(this.bytes + nl + 1);
        from = nl + 1;
      }
      this.keep(data.subarray(from));
      this.bytes += data.length;
      if (this.bytes > this.limits.maxBytes) throw new BatchInputError(`the file exceeds ${this.limits.maxBytes} bytes (batch.maxFileBytes)`, null);
      done(null, data);
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (this.partialBytes > 0) this.endLine(this.bytes);
      if (this.lines === 0) throw new BatchInputError("the file has no request lines", null);
      if (this.lines > this.chunkStartLine()) this.chunks.push([this.chunkStart, this.bytes, this.chunkStartLine() + 1]);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  private chunkStartLine(): number {
    return this.chunks.length * this.limits.linesPerChunk;
  }

  private keep(piece: Buffer): void {
    if (piece.length === 0) return;
    this.partialBytes += piece.length;
    if (this.partialBytes > this.limits.maxLineBytes) throw new BatchInputError(`line ${this.lines + 1} exceeds ${this.limits.maxLineBytes} bytes (limits.maxBodyBytes)`, this.lines + 1);
    this.partial.push(piece);
  }

  /** The line just completed; `end` is the byte offset after it (its newline included). */
  private endLine(end: number): void {
    const n = ++this.lines;
    const text = Buffer.concat(this.partial, this.partialBytes).toString("utf8");
    this.partial = [];
    this.partialBytes = 0;
    if (n > this.limits.maxLines) throw new BatchInputError(`the file has more than ${this.limits.maxLines} lines (batch.maxLines)`, n);
    this.check(text.trim(), n);
    if (n % this.limits.linesPerChunk === 0) {
      this.chunks.push([this.chunkStart, end, n - this.limits.linesPerChunk + 1]);
      this.chunkStart = end;
    }
  }

  private check(text: string, n: number): void {
    const bad = (why: string): never => {
      throw new BatchInputError(`line ${n}: ${why}`, n);
    };
    if (text === "") bad("empty line; every line is one request");
    let line: unknown;
    try {
      line = JSON.parse(text);
    } catch (err) {
      bad(`not JSON (${(err as Error).message})`);
    }
    if (typeof line !== "object" || line === null || Array.isArray(line)) return bad("not a JSON object");
    const { custom_id, method, url, body } = line as Record<string, unknown>;
    if (typeof custom_id !== "string" || custom_id === "") bad("custom_id must be a non-empty string");
    const digest = createHash("sha256").update(custom_id as string).digest().toString("latin1", 0, 16);
    if (this.customIds.has(digest)) bad(`custom_id "${String(custom_id)}" is used by an earlier line; custom_ids must be unique`);
    if (this.customIds.size < DUPLICATE_CHECKED_LINES) this.customIds.add(digest);
    if (method !== "POST") bad(`method must be "POST", got ${JSON.stringify(method)}`);
    if (typeof url !== "string" || !BATCH_ENDPOINTS.has(url)) bad(`url ${JSON.stringify(url)} is not a batch endpoint; use one of ${[...BATCH_ENDPOINTS].join(", ")}`);
    if (typeof body !== "object" || body === null || Array.isArray(body)) return bad("body must be a JSON object");
    const model = (body as Record<string, unknown>)["model"];
    if (typeof model !== "string" || model === "") bad("body.model must be a non-empty string");
    if (!this.limits.knownModel(model as string)) bad(`unknown model "${String(model)}"; models: ${this.limits.known().join(", ") || "none"}`);
    this.urls.add(url as string);
  }
}
