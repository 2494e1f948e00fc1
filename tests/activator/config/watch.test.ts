/**
 * The mounted-file watcher (activator/src/config/watch.ts) on real files in a temp dir: one report per distinct
 * refused content however many writes make it, a report when the refusal is over, and no reload for another file of
 * the folder (an API keys file beside the config never reloads the config). A short debounce keeps it quick; each
 * step waits until the watcher is quiet.
 */
import { strict as assert } from "node:assert";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { watchMountedFile, type FileWatcher } from "../../../activator/src/config/watch";

const DEBOUNCE_MS = 20;
/** Longer than the debounce plus a read: the watcher has settled. */
const SETTLE_MS = 250;

type Loaded = { text: string };

/** A watcher whose `load` accepts text starting with "good" and refuses the rest, recording every call. */
function recordingWatcher(file: string, initial: string) {
  const events: string[] = [];
  let loads = 0;
  const load = (f: string): Promise<Loaded> => {
    loads++;
    const text = readFileSync(f, "utf8");
    if (!text.startsWith("good")) return Promise.reject(new Error(`invalid ${path.basename(f)}: line 1: not good`));
    return Promise.resolve({ text });
  };
  const watcher = watchMountedFile(
    file,
    initial,
    load,
    {
      onChange: (loaded, recovered) => events.push(`change ${loaded.text}${recovered ? " (recovered)" : ""}`),
      onError: (err) => events.push(`error ${(err as Error).message}`),
      onRecovered: () => events.push("recovered"),
    },
    DEBOUNCE_MS,
  );
  return { events, watcher, loads: () => loads };
}

describe("activator: mounted-file watcher", function () {
  this.timeout(10_000);
  let dir: string;
  const watchers: FileWatcher[] = [];
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "watch-"));
  });
  afterEach(() => {
    for (const w of watchers.splice(0)) w.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Writes `text` to `file` `times` times, each write its own settled change (as an editor's saves, or kubelet swaps). */
  async function writeSettled(file: string, text: string, times = 1): Promise<void> {
    for (let i = 0; i < times; i++) {
      writeFileSync(file, text);
      await sleep(SETTLE_MS);
    }
  }

  it("reports a refused file once however many times it is written, and each different refusal once", async () => {
    const file = path.join(dir, "keys");
    writeFileSync(file, "good 1");
    const w = recordingWatcher(file, "good 1");
    watchers.push(w.watcher);
    await sleep(SETTLE_MS);

    await writeSettled(file, "bad a", 5);
    assert.deepEqual(w.events, ["error invalid keys: line 1: not good"]);
    await writeSettled(file, "bad b");
    assert.deepEqual(w.events, ["error invalid keys: line 1: not good", "error invalid keys: line 1: not good"], "new bad content: reported again");
    assert.ok(w.loads() >= 6, `each settled change was read (${w.loads()})`);
  });

  it("says when a refusal is over: the file in force back (nothing to apply), or a new valid file applied", async () => {
    const file = path.join(dir, "keys");
    writeFileSync(file, "good 1");
    const w = recordingWatcher(file, "good 1");
    watchers.push(w.watcher);
    await sleep(SETTLE_MS);

    await writeSettled(file, "bad");
    await writeSettled(file, "good 1", 2);
    assert.deepEqual(w.events, ["error invalid keys: line 1: not good", "recovered"], "one recovery line, nothing applied");

    await writeSettled(file, "bad");
    await writeSettled(file, "good 2");
    await writeSettled(file, "good 3");
    assert.deepEqual(w.events.slice(2), ["error invalid keys: line 1: not good", "change good 2 (recovered)", "change good 3"]);
  });

  it("never reloads a file for changes to another file of its folder", async () => {
    const config = path.join(dir, "config.yaml");
    const keys = path.join(dir, "keys.txt");
    writeFileSync(config, "good config");
    writeFileSync(keys, "good keys");
    const c = recordingWatcher(config, "good config");
    const k = recordingWatcher(keys, "good keys");
    watchers.push(c.watcher, k.watcher);
    await sleep(SETTLE_MS);

    await writeSettled(keys, "bad keys", 3);
    await writeSettled(keys, "good keys");
    assert.deepEqual(k.events, ["error invalid keys.txt: line 1: not good", "recovered"]);
    assert.deepEqual(c.events, [], "the config watcher reported nothing");
    assert.equal(c.loads(), 0, "and loaded nothing: its file's text is the one in force");
  });
});
