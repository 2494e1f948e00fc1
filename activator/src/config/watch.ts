import { watch, type FSWatcher } from "node:fs";
import * as path from "node:path";

export interface FileWatcher {
  close(): void;
}

/**
 * Watches a mounted file (the config ConfigMap, the API keys Secret) through its directory, not the file: the
 * kubelet updates a ConfigMap or Secret volume by swapping the `..data` symlink, which a watch on the file itself
 * would miss. Events are debounced, and a file whose text did not change is ignored. `load` reads and validates
 * the file: what it returns goes to `onChange`, what it throws to `onError` (the caller keeps what it had).
 */
export function watchMountedFile<T extends { text: string }>(
  file: string,
  initialText: string,
  load: (file: string) => Promise<T>,
  handlers: { onChange(loaded: T): void; onError(err: unknown): void },
  debounceMs = 200,
): FileWatcher {
  let lastText = initialText;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const reload = async (): Promise<void> => {
    timer = undefined;
    try {
      const loaded = await load(file);
      if (closed || loaded.text === lastText) return;
      lastText = loaded.text;
      handlers.onChange(loaded);
    } catch (err) {
      if (!closed) handlers.onError(err);
    }
  };

  const watcher: FSWatcher = watch(path.dirname(path.resolve(file)), () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(reload, debounceMs);
  });
  watcher.on("error", handlers.onError);

  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      watcher.close();
    },
  };
}
