/**
 * A stream written to one S3 object in fixed memory: bytes are copied into a part buffer allocated once
 * (`PART_BYTES`); a full buffer is sent as an UploadPart, and the writer waits until it is sent (backpressure up the
 * pipe, to the client's socket). Memory per upload: one PART_BYTES buffer, whatever the object's size (`buffers: 2`:
 * two, one part sent while the next fills; it measured more peak RSS, below, and uploaded no faster against a local
 * S3, where line validation, not S3, bounds the rate). A body under one part is one PutObject; the multipart upload
 * is created with the first full part, completed at the end, and aborted (`abort()`) when the writer fails.
 *
 * Why not `@aws-sdk/lib-storage`'s Upload: its stream chunker concatenates the stream's pieces into a new buffer for
 * every part (`getChunkStream`, v3.1178: `Buffer.concat` per part, the remainder a view on it), so an upload of N
 * parts allocates N part-sized buffers (and keeps each part's pieces alive until the concat): garbage that outlives
 * young-generation collections and waits for a full one. Bench batch-api (1 GiB, peak RSS rise of the activator):
 * lib-storage (5 MiB parts, queueSize 1) 78.6 MiB; this writer with two buffers 66.7 MiB, with one 31.9 and 36.3 MiB.
 * Reused buffers allocate nothing per part.
 *
 * S3 rules followed (S3 API reference, UploadPart / CompleteMultipartUpload): parts of at least 5 MiB but the last,
 * numbered from 1, at most 10 000 (so `PART_BYTES` × 10 000 = 50 000 MiB is the largest object), completed with
 * their ETags (and CRC32 checksums, as the SDK's default checksum mode asks for) in part order.
 */
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand,
  type CompletedPart, type S3Client,
} from "@aws-sdk/client-s3";
import { Writable } from "node:stream";

/** Bytes per part (S3's minimum part size): two of these are what one upload holds. */
export const PART_BYTES = 5 * 1024 * 1024;
/** S3's most parts per multipart upload. */
const MAX_PARTS = 10_000;

export interface ObjectTarget {
  client: S3Client;
  bucket: string;
  key: string;
  contentType: string;
}

export class MultipartWriter extends Writable {
  /** Parts sent so far (tests, logs). */
  parts = 0;
  private current: Buffer | null = null;
  private spare: Buffer | null = null;
  private filled = 0;
  private uploadId: string | undefined;
  private readonly completed: CompletedPart[] = [];
  /** The part upload in flight (its buffer is `spare`); settled before `spare` is written into again. */
  private inFlight: Promise<void> = Promise.resolve();

  /**
   * `buffers`: 1 (default): the stream waits while each part is sent; 2: one part is sent while the next fills, for
   * twice the memory.
   */
  constructor(
    private readonly target: ObjectTarget,
    private readonly partBytes = PART_BYTES,
    private readonly buffers: 1 | 2 = 1,
  ) {
    super({ highWaterMark: 64 * 1024 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.take(chunk).then(() => done(), done);
  }

  override _final(done: (err?: Error | null) => void): void {
    this.finish().then(() => done(), done);
  }

  /** Aborts the multipart upload, if one was created (its parts are deleted; nothing is left in the bucket). */
  async abort(): Promise<void> {
    await this.inFlight.catch(() => undefined); // a part being sent may be creating the upload
    const uploadId = this.uploadId;
    this.uploadId = undefined;
    if (uploadId === undefined) return;
    const { client, bucket, key } = this.target;
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
  }

  private async take(chunk: Buffer): Promise<void> {
    for (let from = 0; from < chunk.length; ) {
      this.current ??= Buffer.allocUnsafeSlow(this.partBytes);
      const copied = chunk.copy(this.current, this.filled, from);
      this.filled += copied;
      from += copied;
      if (this.filled === this.partBytes) await this.sendCurrent();
    }
  }

  /** Starts sending the full current buffer and swaps in the spare one, once its own upload has finished. */
  private async sendCurrent(): Promise<void> {
    await this.inFlight;
    const full = this.current!.subarray(0, this.filled);
    [this.current, this.spare] = [this.spare, this.current];
    this.filled = 0;
    const number = ++this.parts;
    if (number > MAX_PARTS) throw new Error(`the object exceeds ${MAX_PARTS} parts of ${this.partBytes} bytes`);
    const sending = this.uploadPart(number, full);
    sending.catch(() => undefined); // awaited by the next swap or by finish(); never unhandled meanwhile
    this.inFlight = sending;
    if (this.buffers === 1) {
      await sending;
      [this.current, this.spare] = [this.spare, null]; // the one buffer, free again
    }
  }

  private async uploadPart(number: number, body: Buffer): Promise<void> {
    const { client, bucket, key, contentType } = this.target;
    this.uploadId ??= (await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: contentType, ChecksumAlgorithm: "CRC32" }))).UploadId;
    const out = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: this.uploadId, PartNumber: number, Body: body, ChecksumAlgorithm: "CRC32" }));
    this.completed.push({ PartNumber: number, ETag: out.ETag, ...(out.ChecksumCRC32 ? { ChecksumCRC32: out.ChecksumCRC32 } : {}) });
  }

  private async finish(): Promise<void> {
    const { client, bucket, key, contentType } = this.target;
    const rest = (this.current ?? Buffer.alloc(0)).subarray(0, this.filled);
    if (this.parts === 0) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: rest, ContentType: contentType, ContentLength: rest.length }));
    } else {
      if (rest.length > 0) await this.sendCurrent();
      await this.inFlight;
      const parts = [...this.completed].sort((a, b) => a.PartNumber! - b.PartNumber!);
      await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: this.uploadId, MultipartUpload: { Parts: parts } }));
      this.uploadId = undefined;
    }
    this.current = this.spare = null;
  }
}
