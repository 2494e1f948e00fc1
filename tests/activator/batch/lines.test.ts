/**
 * The batch input validator (activator/src/batch/lines.ts): bytes pass through unchanged whatever their split into
 * stream chunks, the chunk index's byte ranges cut the file at line ends every `linesPerChunk` lines, and the first
 * bad line is named.
 */
import { strict as assert } from "node:assert";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BatchInputError, LineValidator, type LineLimits } from "../../../activator/src/batch/lines";

const limits = (extra: Partial<LineLimits> = {}): LineLimits => ({
  maxBytes: 1 << 20,
  maxLines: 1000,
  maxLineBytes: 4096,
  linesPerChunk: 2,
  knownModel: (m) => m === "m",
  known: () => ["m"],
  ...extra,
});

const line = (id: string) => JSON.stringify({ custom_id: id, method: "POST", url: "/v1/embeddings", body: { model: "m", input: `é ${id}` } });

/** Streams `text` in pieces of `piece` bytes through a validator; returns it and the bytes that came out. */
async function run(text: string, piece: number, l = limits()): Promise<{ v: LineValidator; out: Buffer }> {
  const bytes = Buffer.from(text);
  const pieces = Array.from({ length: Math.ceil(bytes.length / piece) }, (_, i) => bytes.subarray(i * piece, (i + 1) * piece));
  const v = new LineValidator(l);
  const got: Buffer[] = [];
  await pipeline(Readable.from(pieces), v, new Writable({ write: (c: Buffer, _e, done) => (got.push(c), done()) }));
  return { v, out: Buffer.concat(got) };
}

describe("batch input validator", () => {
  const text = `${["a", "b", "c", "d", "e"].map(line).join("\n")}\n`;

  for (const piece of [1, 7, 1 << 16]) {
    it(`passes every byte on and indexes chunks at line ends (stream pieces of ${piece} bytes)`, async () => {
      const { v, out } = await run(text, piece);
      assert.equal(out.toString(), text);
      assert.equal(v.lines, 5);
      assert.deepEqual(v.urls, new Set(["/v1/embeddings"]));
      const buf = Buffer.from(text);
      const chunks = v.chunks.map(([start, end, first]) => [first, buf.subarray(start, end).toString().trim().split("\n").map((l) => JSON.parse(l).custom_id)]);
      assert.deepEqual(chunks, [[1, ["a", "b"]], [3, ["c", "d"]], [5, ["e"]]]);
    });
  }

  it("accepts a last line without a newline", async () => {
    const { v } = await run(text.trimEnd(), 5);
    assert.equal(v.lines, 5);
    assert.equal(v.chunks.at(-1)![1], Buffer.byteLength(text.trimEnd()));
  });

  const refused: [string, string, Partial<LineLimits>, RegExp][] = [
    ["an empty line", `${line("a")}\n\n${line("b")}\n`, {}, /^line 2: empty line/],
    ["a line over maxLineBytes", `${line("a")}\n${line("b".repeat(5000))}\n`, {}, /^line 2 exceeds 4096 bytes/],
    ["more than maxLines", text, { maxLines: 4 }, /more than 4 lines/],
    ["a file over maxBytes", text, { maxBytes: 100 }, /exceeds 100 bytes/],
    ["a method other than POST", `${JSON.stringify({ custom_id: "a", method: "GET", url: "/v1/embeddings", body: { model: "m" } })}\n`, {}, /^line 1: method must be "POST"/],
    ["a body without model", `${JSON.stringify({ custom_id: "a", method: "POST", url: "/v1/embeddings", body: {} })}\n`, {}, /^line 1: body.model must be/],
    ["no lines at all", "", {}, /no request lines/],
  ];
  for (const [what, input, extra, message] of refused) {
    it(`refuses ${what}, naming it`, async () => {
      await assert.rejects(run(input, 3, limits(extra)), (err: unknown) => err instanceof BatchInputError && message.test(err.message));
    });
  }
});
