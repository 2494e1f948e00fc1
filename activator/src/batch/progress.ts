/**
 * A batch's progress, read from its chunks' `done/` markers (./store.ts), and its finalisation: once every chunk
 * is done, the chunks' output and error parts are joined, in chunk order, into the batch's output and error files
 * (streamed through one reused part buffer, ./multipart.ts), and the record gets its final status and
 * request_counts: `cancelled` when it was cancelling, `expired` when a chunk found the completion window passed, else
 * `completed`. Two runners finishing the last chunks at once (or a runner retrying a finalisation another left
 * half-done) may both finalise: the files' ids and `created_at` come from the batch id and the claimed record's
 * `finalizing_at` (`cancelling_at` when cancelled), so the second writes the same objects and index entries again,
 * and the record's last write is a compare-and-set that only one wins.
 *
 * Cancel against finalisation (both change the record, both by compare-and-set, `BatchStore.update`): finalising
 * first moves `validating`/`in_progress` to `finalizing`, after which a cancel is refused (400, as OpenAI only
 * cancels a batch in progress) and the batch ends `completed` (or `expired`); a cancel that landed first leaves the
 * batch `cancelling`, and it ends `cancelled` with the results of the chunks run before it (OpenAI: "partial results
 * (if any) available in the output file"). Neither can overwrite the other's write: the loser of a race reads the
 * winner's record and decides again, so no batch is both claimed for completion and cancelled, and no `completed`
 * is turned back into `cancelling`.
 */
import { PassThrough } from "node:stream";
import { once } from "node:events";
import type { Logger } from "pino";
import { TERMINAL, outputFileId, unixSeconds, type BatchRecord, type FileRecord, type RequestCounts } from "./objects";
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

/** Statuses a cancel moves to `cancelling` (OpenAI cancels a batch in progress; here also one still validating). */
const CANCELLABLE: ReadonlySet<string> = new Set(["validating", "in_progress"]);

/**
 * Cancel, as a compare-and-set: the record becomes `cancelling` only if it is still cancellable when written (a
 * finalisation that claimed it after this read makes the write fail, and the next read sees `finalizing`).
 * Returns the record as it now is (`cancelling`, or whatever it was when not cancellable), null when there is none.
 */
export async function requestCancel(store: BatchStore, id: string, at: number): Promise<BatchRecord | null> {
  return store.update<BatchRecord>(store.batchRecordKey(id), (r) => (CANCELLABLE.has(r.status) ? { ...r, status: "cancelling", cancelling_at: at } : null));
}

/**
 * After create queued the chunks (`next`: `in_progress`) or failed to (`next`: `failed` with its error): a
 * `validating` batch takes `next`; a `cancelling` one (a cancel landed while the chunks were being queued) takes a
 * failure too, as no chunk may be queued to finish it and it would stay `cancelling` forever (its `cancelling_at`
 * kept), and is otherwise left to the runner, which drains it. Anything else was moved on meanwhile (a runner
 * finalising): left. Compare-and-set; returns the record as it now is (null: none).
 */
export async function settleCreated(store: BatchStore, id: string, next: Partial<BatchRecord>): Promise<BatchRecord | null> {
  return store.update<BatchRecord>(store.batchRecordKey(id), (r) =>
    r.status === "validating" || (r.status === "cancelling" && next.status === "failed") ? { ...r, ...next } : null,
  );
}

/** Finalises the batch when every chunk is done; returns the record as it is now (null: no such batch). */
export async function finalizeIfDone(store: BatchStore, id: string, logger: Logger, now: () => number = Date.now): Promise<BatchRecord | null> {
  const key = store.batchRecordKey(id);
  const first = await store.getJson<BatchRecord>(key);
  if (first === null || TERMINAL.has(first.status)) return first;
  const done = await store.doneChunks(id);
  if (done.size < first.chunkCount) return first;
  // Claim it: from `finalizing` on, a cancel is refused. A `cancelling` (or already `finalizing`) record is kept.
  const claimedAt = unixSeconds(now());
  const record = await store.update<BatchRecord>(key, (r) => (CANCELLABLE.has(r.status) ? { ...r, status: "finalizing", finalizing_at: claimedAt } : null));
  if (record === null || TERMINAL.has(record.status)) return record;
  const counts = runningCounts(record, done);
  // The files' created_at (and so their ids and index keys) come from the record as claimed: a retried finalisation
  // (a runner that died after joining) writes the same records and index entries, not a second set.
  const createdAt = record.finalizing_at ?? record.cancelling_at ?? claimedAt;
  const output = counts.completed > 0 ? await joinParts(store, record, "out", createdAt) : null;
  const errors = counts.failed > 0 ? await joinParts(store, record, "err", createdAt) : null;
  const expired = [...done.values()].some((d) => d.expired);
  const final = await store.update<BatchRecord>(key, (r) => {
    if (TERMINAL.has(r.status)) return null; // another runner finalised it first
    const at = unixSeconds(now());
    const status = r.status === "cancelling" ? { status: "cancelled" as const, cancelled_at: at } : expired ? { status: "expired" as const, expired_at: at } : { status: "completed" as const, completed_at: at };
    return { ...r, ...status, request_counts: counts, output_file_id: output, error_file_id: errors };
  });
  logger.info({ batch: id, status: final?.status, counts }, "batch finalised");
  return final;
}

/** Joins the chunks' `kind` parts into one file owned by the batch's owner; returns its id. */
async function joinParts(store: BatchStore, record: BatchRecord, kind: "out" | "err", createdAt: number): Promise<string> {
  const fileId = outputFileId(record.id, kind === "out" ? "output" : "errors", createdAt);
  const body = new PassThrough();
  const upload = store.upload(store.fileContentKey(fileId), body);
  const uploaded = upload.done();
  uploaded.catch(() => undefined); // awaited below; a failure meanwhile also fails the writes
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
  const file: FileRecord = { id: fileId, object: "file", bytes, created_at: createdAt, filename: `${record.id}_${kind === "out" ? "output" : "error"}.jsonl`, purpose: "batch_output", status: "processed", owner: record.owner };
  await store.putJson(store.fileRecordKey(fileId), file);
  await store.indexFile(record.owner, file);
  return fileId;
}
