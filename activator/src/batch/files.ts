/**
 * OpenAI's Files API list and delete over the batch store (./store.ts), for one owner (an API key's digest):
 *
 *   GET    /v1/files?purpose=&order=asc|desc&after=<file id>&limit=   → {object: "list", data: FileObject[], first_id, last_id, has_more}
 *   DELETE /v1/files/{id}                                            → {id, object: "file", deleted: true}
 *
 * As the API reference has them (openai-node 7.60.0 `resources/files.d.ts` `FileListParams`, `FileDeleted`):
 * `order` by `created_at`, default `desc`; `limit` 1..10 000, default 10 000; `after` a file id from the previous
 * page (the SDKs' `CursorPage` sends the last one while `has_more`). A page here holds at most `FILES_PAGE_MAX`
 * files (each is one S3 read), so a larger `limit` gets pages of that size with `has_more` true; the SDKs follow it.
 *
 * The listing reads the owner's file index (`owners/<digest>/files/{asc,desc}/`, written at upload and when a batch's
 * output is joined) and then each file's record; an index entry whose record is gone or differs (a file deleted
 * half-way, a second finalisation's entry) is skipped. Files stored before the index existed are not listed.
 */
import type { FileRecord } from "./objects";
import type { BatchStore } from "./store";

/** Most files in one list page (one S3 GetObject each, `READS_AT_ONCE` at a time). */
export const FILES_PAGE_MAX = 100;
/** OpenAI's largest and default `limit` for `GET /v1/files`. */
export const FILES_LIMIT_MAX = 10_000;
const READS_AT_ONCE = 16;

export interface FileListQuery {
  order: "asc" | "desc";
  /** The file the previous page ended with (its record: its position in the index). */
  after?: FileRecord | undefined;
  limit: number;
  purpose?: string | undefined;
}

/** One page of `owner`'s files: at most min(limit, FILES_PAGE_MAX); `more` when the index has entries past it. */
export async function listFiles(store: BatchStore, owner: string, q: FileListQuery): Promise<{ files: FileRecord[]; more: boolean }> {
  const want = Math.min(q.limit, FILES_PAGE_MAX);
  const prefix = store.ownerFilesPrefix(owner, q.order);
  const files: FileRecord[] = [];
  let startAfter = q.after ? store.fileIndexKey(owner, q.order, q.after) : undefined;
  for (;;) {
    const { keys, more } = await store.keys(prefix, startAfter, want - files.length);
    const entries = keys.map((key) => ({ key, ...parseEntry(key.slice(prefix.length)) })).filter((e) => q.purpose === undefined || e.purpose === q.purpose);
    const records = await mapLimit(entries, READS_AT_ONCE, (e) => store.getJson<FileRecord>(store.fileRecordKey(e.id)));
    entries.forEach((e, i) => {
      const r = records[i];
      if (r && r.owner === owner && store.fileIndexKey(owner, q.order, r) === e.key) files.push(r);
    });
    if (!more) return { files, more: false };
    if (files.length >= want) return { files, more: true };
    startAfter = keys.at(-1);
  }
}

/** Removes a file: its record first (so it is gone for every call at once), then its bytes and index entries. */
export async function deleteFile(store: BatchStore, record: FileRecord): Promise<void> {
  await store.delete(store.fileRecordKey(record.id));
  await store.delete(store.fileContentKey(record.id));
  await store.unindexFile(record.owner, record);
}

/** `<created_at hex>.<id>.<purpose>` → id and purpose. */
function parseEntry(name: string): { id: string; purpose: string } {
  const [, id = "", purpose = ""] = name.split(".");
  return { id, purpose };
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
