import { watch, type FSWatcher } from "node:fs";
import * as path from "node:path";
import { loadConfigFile } from "./load";
import type { ActivatorConfig } from "./schema";

export interface ConfigWatcher {
  close(): void;
}

/**
 * Watches the configuration file's directory, not the file: a mounted ConfigMap is updated by swapping the
 * `..data` symlink, which a watch on the file itself would miss. Events are debounced, and a file whose text did
 * not change is ignored. A valid new file goes to `onChange`, an invalid one to `onError` (the caller keeps the
 * old configuration).
 */
export function watchConfigFile(
  file: string,
  initialText: string,
  handlers: { onChange(config: ActivatorConfig): void; onError(err: unknown): void },
  debounceMs = 200,
): ConfigWatcher {
  let lastText = initialText;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const reload = async (): Promise<void> => {
    timer = undefined;
    try {
      const { config, text } = await loadConfigFile(file);
      if (closed || text === lastText) return;
      lastText = text;
      handlers.onChange(config);
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
