/**
 * The uncaught-error policy over a real process (testing/activator/uncaughtChild.ts): Node's own
 * uncaughtException and unhandledRejection events, the activator's metrics registry, and a real exit code.
 */
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "../../..");
const CHILD = path.join(ROOT, "testing/activator/uncaughtChild.ts");

function runChild(env: Record<string, string>): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", CHILD], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout }));
  });
}

describe("activator lifecycle: an error no handler caught (child process)", function () {
  this.timeout(60_000);

  it("with a request counted: counts it, drains, and exits 1 so the pod restarts", async () => {
    const { code, stdout } = await runChild({ HELD: "1", THROW: "exception" });
    assert.equal(code, 1, stdout);
    assert.match(stdout, /METRIC .*activator_uncaught_exceptions_total\{kind="uncaughtException"\} 1/);
    assert.match(stdout, /uncaughtException while requests were counted: draining/);
    assert.ok(stdout.indexOf('"stopAccepting"') < stdout.indexOf('"closeRest"'), "drained in stages before exiting");
    assert.match(stdout, /EXIT 1/);
  });

  it("an unhandled rejection with a request counted: the same", async () => {
    const { code, stdout } = await runChild({ HELD: "1", THROW: "rejection" });
    assert.equal(code, 1, stdout);
    assert.match(stdout, /activator_uncaught_exceptions_total\{kind="unhandledRejection"\} 1/);
    assert.match(stdout, /activator_uncaught_exceptions_total\{kind="uncaughtException"\} 0/, "both kinds exported from the start");
  });

  it("with nothing counted: counts it and keeps running", async () => {
    const { code, stdout } = await runChild({ HELD: "0", THROW: "exception" });
    assert.equal(code, 0, stdout);
    assert.match(stdout, /kept running: no request was counted/);
    assert.match(stdout, /METRIC .*activator_uncaught_exceptions_total\{kind="uncaughtException"\} 1/);
    assert.match(stdout, /KEPT RUNNING/);
    assert.doesNotMatch(stdout, /EXIT/);
  });
});
