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
 * `after` is placed by the id alone (ids carry their `created_at`, ./objects.ts `fileIdPosition`): it may name a
 * file deleted since (the SDKs' "list, delete each" loop sends the last id of a page it deleted), or another key's
 * file (its files are never listed; the id's time is all it places). Ids issued before ids carried their time are
 * looked up, and must name a file of the caller's that still exists (else 400).
 *
 * The listing reads the owner's file index (`owners/<digest>/files/{asc,desc}/`, written at upload and when a batch's
 * output is joined) and then each file's record; an index entry whose record is gone or differs (a file deleted
 * half-way) is skipped. Files stored before the index existed are not listed.
 */
import type { FileRecord } from "./objects";
import type { BatchStore } from "./store";

/** Most files in one list page (one S3 GetObject each, at most `READS_AT_ONCE` at a time). */
export const FILES_PAGE_MAX = 100;
/** OpenAI's largest and default `limit` for `GET /v1/files`. */
export const FILES_LIMIT_MAX = 10_000;
const READS_AT_ONCE = 16;

export interface FileListQuery {
  order: "asc" | "desc";
  /** Where the previous page ended: its last file's id, `created_at` and purpose (./objects.ts `fileIdPosition`). */
  after?: { id: string; created_at: number; purpose: string } | undefined;
  limit: number;
  purpose?: string | undefined;
}

/**
 * One page of `owner`'s files: at most min(limit, FILES_PAGE_MAX). Reads the index 1000 keys per ListObjectsV2 call
 * (S3's most), then records only as many as the page still needs (at most `READS_AT_ONCE` at once), and stops at the
 * key of the page's last file: `more` when the index has keys past it (the next page may then hold none: the SDKs
 * ask once more and get an empty last page).
 */
export async function listFiles(store: BatchStore, owner: string, q: FileListQuery): Promise<{ files: FileRecord[]; more: boolean }> {
  const want = Math.min(q.limit, FILES_PAGE_MAX);
  const prefix = store.ownerFilesPrefix(owner, q.order);
  const files: FileRecord[] = [];
  let startAfter = q.after ? store.fileIndexKey(owner, q.order, q.after) : undefined;
  for (;;) {
    const page = await store.keysPage(prefix, startAfter);
    const entries = page.keys.map((key) => ({ key, ...parseEntry(key.slice(prefix.length)) })).filter((e) => q.purpose === undefined || e.purpose === q.purpose);
    for (let i = 0; i < entries.length; ) {
      const group = entries.slice(i, i + Math.min(READS_AT_ONCE, want - files.length));
      i += group.length;
      const records = await Promise.all(group.map((e) => store.getJson<FileRecord>(store.fileRecordKey(e.id))));
      for (const [j, r] of records.entries()) {
        if (!r || r.owner !== owner || store.fileIndexKey(owner, q.order, r) !== group[j]!.key) continue;
        files.push(r);
        if (files.length === want) return { files, more: page.more || group[j]!.key !== page.keys.at(-1) };
      }
    }
    if (!page.more) return { files, more: false };
    startAfter = page.keys.at(-1);
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
