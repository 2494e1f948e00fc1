/**
 * A batch's progress, read from its chunks' `done/` markers (./store.ts), and its finalisation: once every chunk
 * is done, the chunks' output and error parts are joined, in chunk order, into the batch's output and error files
 * (streamed: one part in memory at a time), and the record gets its final status and request_counts:
 * `cancelled` when it was cancelling, `expired` when a chunk found the completion window passed, else `completed`.
 * Two runners finishing the last chunks at once may both finalise: the ids are derived from the batch id, so the
 * second writes the same objects again.
 */
import { PassThrough } from "node:stream";
import { once } from "node:events";
import type { Logger } from "pino";
import { TERMINAL, unixSeconds, type BatchRecord, type FileRecord, type RequestCounts } from "./objects";
import type { BatchStore } from "./store";

type Done = Map<number, { completed: number; failed: number; expired: boolean }>;

/** request_counts from the markers: `total` as created, completed and failed summed over done chunks. */
export function runningCounts(record: BatchRecord, done: Done): RequestCounts {
  let completed = 0;
  let failed = 0;
  for (const d of done.values()) {
    completed += d.completed;
    failed += d.failed;
  }
  return { total: record.request_counts.total, completed, failed };
}

/** Finalises the batch when every chunk is done; returns the record as it is now (null: no such batch). */
export async function finalizeIfDone(store: BatchStore, id: string, logger: Logger, now: () => number = Date.now): Promise<BatchRecord | null> {
  const record = await store.getJson<BatchRecord>(store.batchRecordKey(id));
  if (record === null || TERMINAL.has(record.status)) return record;
  const done = await store.doneChunks(id);
  if (done.size < record.chunkCount) return record;
  const cancelling = record.status === "cancelling";
  Object.assign(record, { status: "finalizing", finalizing_at: unixSeconds(now()) });
  await store.putJson(store.batchRecordKey(id), record);
  const counts = runningCounts(record, done);
  const suffix = id.slice("batch_".length);
  const output = counts.completed > 0 ? await joinParts(store, record, "out", `file-${suffix}-output`, now) : null;
  const errors = counts.failed > 0 ? await joinParts(store, record, "err", `file-${suffix}-errors`, now) : null;
  // A cancel that arrived while this ran still wins.
  const latest = (await store.getJson<BatchRecord>(store.batchRecordKey(id))) ?? record;
  const expired = [...done.values()].some((d) => d.expired);
  const at = unixSeconds(now());
  const final = cancelling || latest.status === "cancelling" ? { status: "cancelled", cancelled_at: at } : expired ? { status: "expired", expired_at: at } : { status: "completed", completed_at: at };
  Object.assign(record, final, { cancelling_at: latest.cancelling_at ?? record.cancelling_at, request_counts: counts, output_file_id: output, error_file_id: errors });
  await store.putJson(store.batchRecordKey(id), record);
  logger.info({ batch: id, status: record.status, counts }, "batch finalised");
  return record;
}

/** Joins the chunks' `kind` parts into one file owned by the batch's owner; returns its id. */
async function joinParts(store: BatchStore, record: BatchRecord, kind: "out" | "err", fileId: string, now: () => number): Promise<string> {
  const body = new PassThrough();
  const upload = store.upload(store.fileContentKey(fileId), body);
  const uploaded = upload.done();
  let bytes = 0;
  try {
    for (let chunk = 0; chunk < record.chunkCount; chunk++) {
      const part = await store.read(store.partKey(record.id, chunk, kind));
      if (part === null) continue;
      bytes += part.length;
      for await (const piece of part.body as AsyncIterable<Buffer>) if (!body.write(piece)) await once(body, "drain");
    }
    body.end();
    await uploaded;
  } catch (err) {
    body.destroy(err as Error);
    await upload.abort().catch(() => undefined);
    throw err;
  }
  const file: FileRecord = { id: fileId, object: "file", bytes, created_at: unixSeconds(now()), filename: `${record.id}_${kind === "out" ? "output" : "error"}.jsonl`, purpose: "batch_output", status: "processed", owner: record.owner };
  await store.putJson(store.fileRecordKey(fileId), file);
  return fileId;
}
