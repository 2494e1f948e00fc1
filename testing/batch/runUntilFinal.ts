/**
 * Runs batch runners until a batch's record, read from `store`, reaches a final status, then stops and closes them.
 * Throws naming the batch and its last status when `timeoutMs` passes first.
 */
import type { BatchRecord } from "../../activator/src/batch/objects";
import type { BatchRunner } from "../../activator/src/batch/runner";
import type { BatchStore } from "../../activator/src/batch/store";

/** The statuses after which a batch changes no more (OpenAI's Batch API). */
export const FINAL_STATUSES = ["completed", "failed", "expired", "cancelled"];

export async function runUntilFinal(store: BatchStore, id: string, runners: BatchRunner[], timeoutMs: number): Promise<BatchRecord> {
  const running = runners.map((r) => r.run());
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const record = await store.getJson<BatchRecord>(store.batchRecordKey(id));
      if (record && FINAL_STATUSES.includes(record.status)) return record;
      if (Date.now() > deadline) throw new Error(`batch ${id} not final in time: ${record?.status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    for (const r of runners) r.stop();
    await Promise.all(running);
    await Promise.all(runners.map((r) => r.close()));
  }
}
