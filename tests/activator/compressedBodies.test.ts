/**
 * Compressed OpenAI request bodies (`Content-Encoding`): decoded, bounded, to read `model`; forwarded as sent.
 * Codings the activator cannot decode get 415 naming them; data that does not decode, or JSON that does not
 * parse, gets a 400 whose message never quotes the bytes; a decompression bomb stops at `limits.maxBodyBytes`.
 */
import { strict as assert } from "node:assert";
import zlib from "node:zlib";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { TestBackend } from "../../testing/activator/backend";
import { config, model } from "../../testing/activator/config";
import { sendJson } from "../../testing/activator/http";

type Echo = { headers: Record<string, string>; bodyBytes: number };
type ErrorBody = { error: { code: string; message: string; contentEncoding?: string; limit?: number } };

const LIMIT = 256 * 1024;
/** Visible ASCII and plain spaces only: what an error message may contain. */
const PRINTABLE = /^[\x20-\x7e]*$/;

describe("activator: compressed request bodies", function () {
  this.timeout(60_000);
  let act: ActivatorProcess;
  let backend: TestBackend;
  const json = JSON.stringify({ model: "org/llm-7b", messages: [{ role: "user", content: "hello ".repeat(500) }] });
  const post = (body: Buffer | string, encoding?: string) =>
    sendJson<ErrorBody & Echo>(`${act.proxyUrl}/v1/chat/completions`, {
      body,
      headers: { "content-type": "application/json", ...(encoding ? { "content-encoding": encoding } : {}) },
    });

  before(async () => {
    backend = await TestBackend.create();
    await backend.start();
    act = await ActivatorProcess.start(config([model("llm", backend.url, { openaiModels: ["org/llm-7b"] })], { limits: { maxBodyBytes: LIMIT } }));
  });
  after(async () => {
    await act.stop();
    await backend.stop();
  });

  it("routes gzip, x-gzip, deflate, br and stacked codings by the decoded model, forwarding the bytes as sent", async () => {
    const cases: [coding: string, body: Buffer][] = [
      ["gzip", zlib.gzipSync(json)],
      ["x-gzip", zlib.gzipSync(json)],
      ["deflate", zlib.deflateSync(json)],
      ["br", zlib.brotliCompressSync(json)],
      ["gzip, br", zlib.brotliCompressSync(zlib.gzipSync(json))],
      ["identity", Buffer.from(json)],
    ];
    for (const [coding, body] of cases) {
      const res = await post(body, coding);
      assert.equal(res.status, 200, `${coding}: ${res.body}`);
      assert.equal(res.json.bodyBytes, body.length, `${coding}: the original bytes reach the model`);
      assert.equal(res.json.headers["content-encoding"], coding, `${coding}: with their Content-Encoding`);
    }
  });

  it("refuses a coding it cannot decode with 415 naming it", async () => {
    const res = await post(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3]), "zstd");
    assert.equal(res.status, 415);
    assert.equal(res.json.error.code, "unsupported_content_encoding");
    assert.equal(res.json.error.contentEncoding, "zstd");
    assert.match(res.json.error.message, /"zstd" is not supported/);
  });

  it("answers undecodable data and binary non-JSON with a 400 that quotes none of it", async () => {
    const corrupt = await post(Buffer.concat([zlib.gzipSync(json).subarray(0, 20), Buffer.from([0xff, 0x00, 0x8b, 0x1f])]), "gzip");
    assert.equal(corrupt.status, 400);
    assert.equal(corrupt.json.error.code, "invalid_content_encoding");
    assert.match(corrupt.json.error.message, PRINTABLE);
    const binary = await post(zlib.gzipSync(json)); // compressed, but not declared
    assert.equal(binary.status, 400);
    assert.equal(binary.json.error.code, "invalid_json");
    assert.match(binary.json.error.message, PRINTABLE, "no undecodable bytes echoed");
    assert.match(binary.json.error.message, /^request body is not valid JSON/);
  });

  it("stops a decompression bomb at limits.maxBodyBytes with 413, and keeps serving", async () => {
    // 256 MiB of JSON in a few hundred KiB of brotli: under the raw limit, far over it decoded.
    const decoded = Buffer.concat([Buffer.from('{"model":"org/llm-7b","x":"'), Buffer.alloc(256 * 1024 * 1024, 0x61), Buffer.from('"}')]);
    const bomb = zlib.brotliCompressSync(decoded, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } });
    assert.ok(bomb.length < LIMIT, `the compressed bomb (${bomb.length} bytes) passes the raw limit`);
    const res = await post(bomb, "br");
    assert.equal(res.status, 413);
    assert.equal(res.json.error.code, "body_too_large");
    assert.match(res.json.error.message, /decoded request body exceeds 262144 bytes \(limits\.maxBodyBytes raises it\)/);
    const metrics = await (await fetch(`${act.adminUrl}/metrics`)).text();
    const rss = Number(/^process_resident_memory_bytes (\d+)/m.exec(metrics)![1]);
    assert.ok(rss < 200 * 1024 * 1024, `RSS ${rss} stays far below the 256 MiB the bomb decodes to`);
    assert.equal((await post(json)).status, 200);
  });
});
