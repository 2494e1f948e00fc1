/** The batch runner's entry point (activator/dist/batch/runnerMain.js): what it says when it cannot run. */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const RUNNER_MAIN = path.resolve(__dirname, "../../../activator/dist/batch/runnerMain.js");

describe("batch runner command line", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "runner-cli-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const run = (args: string[]) => spawnSync(process.execPath, [RUNNER_MAIN, ...args], { encoding: "utf8", timeout: 20_000 });

  it("prints its usage and exits 2 without --config", () => {
    const out = run([]);
    assert.equal(out.status, 2);
    assert.match(out.stderr, /^usage: node dist\/batch\/runnerMain\.js --config FILE/);
  });

  it("exits 2 naming the missing section when the config has no batch", () => {
    const file = path.join(dir, "config.yaml");
    writeFileSync(file, "models: []\n");
    const out = run(["--config", file]);
    assert.equal(out.status, 2);
    assert.match(out.stderr, /the config has no `batch` section \(bucket, queueUrl\)/);
  });

  it("exits 1 with the config's own errors, one line each", () => {
    const file = path.join(dir, "bad.yaml");
    writeFileSync(file, "models: []\nbatch: { bucket: b, queueUrl: not-a-url }\n");
    const out = run(["--config", file]);
    assert.equal(out.status, 1);
    assert.match(out.stderr, /batch\.queueUrl/);
  });
});
