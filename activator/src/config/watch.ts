import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { serialRun } from "../base/serialRun";
import * as path from "node:path";

export interface FileWatcher {
  close(): void;
}

/** What a watcher reports; each call is one log line for the caller. */
export interface FileWatchHandlers<T> {
  /**
   * A valid file whose text differs from the one in force. `recovered`: it replaces a refused one (the refusal is
   * over; say so in the same line).
   */
  onChange(loaded: T, recovered: boolean): void;
  /** A refused file: called once per distinct refused text and error, however many events the change makes. */
  onError(err: unknown): void;
  /** After a refusal, the file in force is back as it was (nothing to apply): the refusal is over. */
  onRecovered(): void;
}

/**
 * Watches a mounted file (the config ConfigMap, the API keys Secret) through its directory, not the file: the
 * kubelet updates a ConfigMap or Secret volume by swapping the `..data` symlink, which a watch on the file itself
 * would miss. Events are debounced (`debounceMs`, default 200) and one reload runs at a time.
 *
 * On each settled change the file's text is read: the text in force, with no refusal pending, is ignored (an event
 * for another file of the folder: a keys file beside the config never reloads the config). Otherwise `load` reads
 * and validates the file: what it returns goes to `onChange`, what it throws to `onError` (the caller keeps what it
 * had) — but only when that text and error differ from the last refusal, so an editor's several writes, or one
 * swap's several events, log one refusal. A refusal followed by the text in force calls `onRecovered`; followed by
 * another valid text, `onChange` with `recovered` true.
 */
export function watchMountedFile<T extends { text: string }>(
  file: string,
  initialText: string,
  load: (file: string) => Promise<T>,
  handlers: FileWatchHandlers<T>,
  debounceMs = 200,
): FileWatcher {
  let lastText = initialText;
  /** `text + "\0" + message` of the last refusal; null when none is pending. */
  let refused: string | null = null;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const refuse = (text: string, err: unknown): void => {
    const key = `${text}\0${err instanceof Error ? err.message : String(err)}`;
    if (closed || key === refused) return;
    refused = key;
    handlers.onError(err);
  };

  const reloadOnce = async (): Promise<void> => {
    // Unreadable (""): `load` says so in its own terms (a ConfigError naming the file).
    const text = await readFile(file, "utf8").catch(() => "");
    if (closed) return;
    if (text === lastText && text !== "") {
      if (refused !== null) {
        refused = null;
        handlers.onRecovered();
      }
      return;
    }
    try {
      const loaded = await load(file);
      if (closed) return;
      if (loaded.text === lastText) {
        if (refused !== null) {
          refused = null;
          handlers.onRecovered();
        }
        return;
      }
      lastText = loaded.text;
      const recovered = refused !== null;
      refused = null;
      handlers.onChange(loaded, recovered);
    } catch (err) {
      refuse(text, err);
    }
  };

  const reloadSerially = serialRun(reloadOnce, () => closed);
  const reload = (): Promise<void> => {
    timer = undefined;
    return reloadSerially();
  };

  const watcher: FSWatcher = watch(path.dirname(path.resolve(file)), () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(reload, debounceMs);
  });
  watcher.on("error", (err) => refuse("", err));

  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      watcher.close();
    },
  };
}
