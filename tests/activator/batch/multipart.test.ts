/**
 * MultipartWriter (activator/src/batch/multipart.ts): a stream written to one S3 object in reused part buffers.
 * Against a recording S3 client (what is sent, in what order, how many buffers the parts come from, how many parts
 * are in flight at once), and once against moto's S3 (skipped, saying so, without moto_server): the object read back
 * is the bytes written.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, ListMultipartUploadsCommand, S3Client } from "@aws-sdk/client-s3";
import { MultipartWriter, PART_BYTES } from "../../../activator/src/batch/multipart";
import { MOTO_MISSING, MotoServer, motoServerPath, TEST_CREDENTIALS } from "../../../testing/batch/moto";

const MiB = 1024 * 1024;

/** `bytes` of deterministic content in 64 KiB pieces (each a fresh buffer, as a socket hands them over). */
function source(bytes: number): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < bytes; at += 64 * 1024) {
        const piece = Buffer.alloc(Math.min(64 * 1024, bytes - at));
        for (let i = 0; i < piece.length; i++) piece[i] = (at + i) % 251;
        yield piece;
      }
    })(),
  );
}

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

interface Sent {
  name: string;
  input: Record<string, unknown>;
}

/** An S3Client stand-in: records each command (name and input), answers after `delayMs`, fails UploadPart `failPart`. */
function recordingClient(opts: { delayMs?: number; failPart?: number } = {}) {
  const sent: Sent[] = [];
  const bodies: Buffer[] = [];
  const partBuffers = new Set<ArrayBufferLike>(); // the memory each part was sent from
  let inFlight = 0;
  let maxInFlight = 0;
  const client = {
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      const name = command.constructor.name.replace(/Command$/, "");
      sent.push({ name, input: command.input });
      if (name === "UploadPart" || name === "PutObject") bodies.push(Buffer.from(command.input["Body"] as Buffer)); // a copy: the writer reuses its buffers
      if (name === "UploadPart") partBuffers.add((command.input["Body"] as Buffer).buffer);
      if (name === "UploadPart") maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise((r) => setTimeout(r, opts.delayMs ?? 1));
      if (name === "UploadPart") inFlight--;
      if (name === "UploadPart" && command.input["PartNumber"] === opts.failPart) throw new Error("part refused");
      if (name === "CreateMultipartUpload") return { UploadId: "up-1" };
      if (name === "UploadPart") return { ETag: `"etag-${String(command.input["PartNumber"])}"` };
      return {};
    },
  };
  return { client: client as unknown as S3Client, sent, bodies, partBuffers, maxInFlight: () => maxInFlight };
}

const target = (client: S3Client) => ({ client, bucket: "b", key: "k", contentType: "application/jsonl" });

describe("activator: MultipartWriter (a stream to one S3 object in reused part buffers)", () => {
  it("sends 12 MiB as parts of 5, 5 and 2 MiB, one in flight at a time, from one reused buffer, completed in order", async () => {
    const s3 = recordingClient({ delayMs: 5 });
    const writer = new MultipartWriter(target(s3.client), PART_BYTES);
    await pipeline(source(12 * MiB), writer);
    assert.deepEqual(s3.sent.map((c) => c.name), ["CreateMultipartUpload", "UploadPart", "UploadPart", "UploadPart", "CompleteMultipartUpload"]);
    assert.deepEqual(s3.bodies.map((b) => b.length), [PART_BYTES, PART_BYTES, 2 * MiB]);
    assert.equal(sha(Buffer.concat(s3.bodies)), sha(Buffer.concat(await source(12 * MiB).toArray())), "the parts are the bytes written, in order");
    assert.equal(s3.partBuffers.size, 1, "every part was sent from the writer's one reused buffer");
    assert.equal(s3.maxInFlight(), 1);
    const complete = s3.sent.at(-1)!.input as { UploadId: string; MultipartUpload: { Parts: { PartNumber: number; ETag: string }[] } };
    assert.equal(complete.UploadId, "up-1");
    assert.deepEqual(complete.MultipartUpload.Parts.map((p) => [p.PartNumber, p.ETag]), [[1, '"etag-1"'], [2, '"etag-2"'], [3, '"etag-3"']]);
  });

  it("sends a body of exactly two parts as two parts (no empty third), and a body under one part as one PutObject", async () => {
    const exact = recordingClient();
    await pipeline(source(2 * PART_BYTES), new MultipartWriter(target(exact.client)));
    assert.deepEqual(exact.sent.map((c) => c.name), ["CreateMultipartUpload", "UploadPart", "UploadPart", "CompleteMultipartUpload"]);
    const small = recordingClient();
    await pipeline(source(300 * 1024), new MultipartWriter(target(small.client)));
    assert.deepEqual(small.sent.map((c) => c.name), ["PutObject"]);
    assert.equal(small.bodies[0]!.length, 300 * 1024);
    const empty = recordingClient();
    await pipeline(Readable.from([]), new MultipartWriter(target(empty.client)));
    assert.deepEqual(empty.sent.map((c) => [c.name, c.input["ContentLength"]]), [["PutObject", 0]]);
  });

  it("fails the pipe when a part is refused, and abort() aborts the multipart upload", async () => {
    const s3 = recordingClient({ failPart: 2 });
    const writer = new MultipartWriter(target(s3.client));
    await assert.rejects(pipeline(source(12 * MiB), writer), /part refused/);
    await writer.abort();
    const last = s3.sent.at(-1)!;
    assert.equal(last.name, "AbortMultipartUpload");
    assert.equal(last.input["UploadId"], "up-1");
    assert.ok(!s3.sent.some((c) => c.name === "CompleteMultipartUpload"));
  });

  it("once aborted, starts no multipart upload and sends nothing: the writes fail", async () => {
    const s3 = recordingClient();
    const writer = new MultipartWriter(target(s3.client));
    await writer.abort();
    await assert.rejects(pipeline(source(12 * MiB), writer), /aborted/);
    assert.deepEqual(s3.sent.map((c) => c.name), []);
    const small = recordingClient();
    const smallWriter = new MultipartWriter(target(small.client));
    await smallWriter.abort();
    await assert.rejects(pipeline(source(1024), smallWriter), /aborted/);
    assert.deepEqual(small.sent.map((c) => c.name), [], "not even the one PutObject of a small body");
  });

  it("a writer destroyed while a part is in flight starts no new upload after it (abort then removes the one created)", async () => {
    const s3 = recordingClient({ delayMs: 20 });
    const writer = new MultipartWriter(target(s3.client));
    const writing = pipeline(Readable.from([Buffer.alloc(12 * MiB)]), writer).catch((e: Error) => e); // one write: parts 2 and 3 come from it
    while (!s3.sent.some((c) => c.name === "UploadPart")) await new Promise((r) => setTimeout(r, 1));
    writer.destroy(new Error("client went away"));
    await writing;
    await writer.abort();
    await new Promise((r) => setTimeout(r, 50)); // a part still copying would send by now
    assert.deepEqual(s3.sent.map((c) => c.name), ["CreateMultipartUpload", "UploadPart", "AbortMultipartUpload"]);
  });

  describe("against moto's S3", function () {
    this.timeout(60_000);
    let moto: MotoServer;
    let s3: S3Client;
    before(async function () {
      const binary = motoServerPath();
      if (binary === null) {
        console.log(`      skipped: ${MOTO_MISSING}`);
        this.skip();
      }
      moto = await MotoServer.start(binary!);
      await moto.createBatchResources("multipart-test");
      s3 = new S3Client({ region: TEST_CREDENTIALS.AWS_REGION, endpoint: moto.url, forcePathStyle: true, credentials: { accessKeyId: "test", secretAccessKey: "test" } });
    });
    after(async () => {
      s3?.destroy();
      await moto?.stop();
    });

    it("writes 11 MiB as a multipart object that reads back byte for byte, and leaves no upload behind", async () => {
      await pipeline(source(11 * MiB), new MultipartWriter({ client: s3, bucket: "multipart-test", key: "big", contentType: "application/jsonl" }));
      const out = await s3.send(new GetObjectCommand({ Bucket: "multipart-test", Key: "big" }));
      const body = Buffer.from(await out.Body!.transformToByteArray());
      assert.equal(body.length, 11 * MiB);
      assert.equal(sha(body), sha(Buffer.concat(await source(11 * MiB).toArray())));
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: "multipart-test" }));
      assert.deepEqual(uploads.Uploads ?? [], []);
    });
  });
});
