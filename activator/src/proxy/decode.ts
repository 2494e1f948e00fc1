/**
 * Compressed request bodies (`Content-Encoding: gzip`, `deflate`, `br`, or a list of them, RFC 9110 §8.4): routing
 * by the OpenAI `model` field needs the JSON, so the body is decoded to read it; the original bytes are what is
 * forwarded (with their Content-Encoding), so the model server sees exactly what the client sent. Decoding is
 * bounded: the decoded size by `limits.maxBodyBytes` (a decompression bomb stops there, 413) and its bytes are
 * counted in the buffered-bytes budget while they exist. Any other coding is refused with 415 naming it; data
 * that does not decode is a 400 that never quotes it.
 */
import { pipeline, Readable, Writable } from "node:stream";
import zlib from "node:zlib";
import { reserveBuffered, type Exchange } from "../request/exchange";

/** Content codings decoded for routing (lowercase; `x-gzip` is gzip, RFC 9110 §8.4.1.3). */
const DECODERS: Record<string, () => NodeJS.ReadWriteStream> = {
  gzip: () => zlib.createGunzip(),
  "x-gzip": () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
};

export const DECODED_CODINGS: readonly string[] = Object.keys(DECODERS);

export type DecodeFailure =
  | { code: "unsupported_content_encoding"; coding: string }
  | { code: "invalid_content_encoding"; coding: string }
  | { code: "body_too_large"; limit: number }
  | { code: "body_buffer_full" };

/** The codings of a Content-Encoding value, in the order they were applied; `identity` left out. */
export function contentCodings(value: string): string[] {
  return value
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
}

/** The first coding the activator cannot decode, or null. */
export function unsupportedCoding(codings: readonly string[]): string | null {
  return codings.find((c) => DECODERS[c] === undefined) ?? null;
}

/**
 * Decodes `x.body` (codings applied in order, so undone last to first) and calls `done` with the decoded bytes,
 * or with why not. Decoded bytes are counted in the budget (`counted`); the caller returns them once parsed
 * (on failure, `reject` returns everything the exchange counted).
 */
export function decodeBody(x: Exchange, codings: readonly string[], done: (failure: DecodeFailure | null, decoded: Buffer | null, counted: number) => void): void {
  const limit = x.ctx.limits.maxBodyBytes;
  const chunks: Buffer[] = [];
  let total = 0;
  let failure: DecodeFailure | null = null;
  const sink = new Writable({
    write(chunk: Buffer, _enc, next) {
      total += chunk.length;
      if (total > limit) failure = { code: "body_too_large", limit };
      else if (!reserveBuffered(x, chunk.length)) failure = { code: "body_buffer_full" };
      if (failure) {
        total -= chunk.length;
        next(new Error(failure.code));
        return;
      }
      chunks.push(chunk);
      next();
    },
  });
  const stages = [...codings].reverse().map((c) => DECODERS[c]!());
  pipeline([Readable.from([x.body!]), ...stages, sink], (err) => {
    if (err) {
      done(failure ?? { code: "invalid_content_encoding", coding: codings.join(", ") }, null, 0);
    } else {
      done(null, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total), total);
    }
  });
}
