/**
 * Small rules of the batch runner and API (activator/src/batch/runner.ts, api.ts), without S3:
 * - how many lines a chunk message without `lines` (queued by an older activator) stands for, from the batch record;
 * - which upload failures answer 503 `batch_storage_unavailable` (S3/SQS errors, and a conditional write refused)
 *   rather than 400 "the multipart body could not be read".
 */
import { strict as assert } from "node:assert";
import { isStorage } from "../../../activator/src/batch/api";
import { linesOfChunk } from "../../../activator/src/batch/runner";
import { WriteConflict } from "../../../activator/src/batch/store";

describe("activator: batch chunk line counts and storage errors", () => {
  it("a chunk message without `lines`: the uploaded cut (every linesPerChunk) gives each chunk's count, the last ends at the total", () => {
    // 25 lines cut every 10 when created: chunks of 10, 10 and 5 (first lines 1, 11, 21); the config now says 7.
    const record = { chunkCount: 3, request_counts: { total: 25, completed: 0, failed: 0 } };
    const counts = [1, 11, 21].map((first, chunk) => linesOfChunk({ batch_id: "b", chunk, start: 0, end: 1, first_line: first }, record, 10));
    assert.deepEqual(counts, [10, 10, 5]);
    assert.equal(linesOfChunk({ batch_id: "b", chunk: 1, start: 0, end: 1, first_line: 11 }, record, 7), 10, "chunk k > 0 reads the cut from its first line, not the config");
    assert.equal(linesOfChunk({ batch_id: "b", chunk: 0, start: 0, end: 1, first_line: 1 }, { chunkCount: 1, request_counts: { total: 3, completed: 0, failed: 0 } }, 10), 3);
  });

  it("a refused conditional write (WriteConflict) and an SDK error are storage failures; a parse error is not", () => {
    assert.equal(isStorage(new WriteConflict("batch/files/x/record.json changed")), true);
    assert.equal(isStorage(Object.assign(new Error("Service Unavailable"), { $metadata: { httpStatusCode: 503 } })), true);
    assert.equal(isStorage(new Error("Unexpected end of form")), false);
  });
});
