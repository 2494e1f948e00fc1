/**
 * `npm run activator -- --config FILE`, as the README documents it, on a checkout where the activator was never
 * built (a fresh `npm ci`): the command builds it first, then starts it, a relative FILE taken from the folder the
 * command was run in. The checkout is a copy of the sources (no `dist/`) sharing this one's node_modules.
 */
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "../..");

describe("activator: npm run activator on a fresh checkout", function () {
  this.timeout(180_000);
  let dir: string;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "activator-fresh-"));
    for (const file of ["package.json", "package-lock.json", "tsconfig.base.json"]) cpSync(path.join(ROOT, file), path.join(dir, file));
    for (const sub of ["src", "proto"]) cpSync(path.join(ROOT, "activator", sub), path.join(dir, "activator", sub), { recursive: true });
    for (const file of ["package.json", "tsconfig.json"]) cpSync(path.join(ROOT, "activator", file), path.join(dir, "activator", file));
    symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    if (existsSync(path.join(ROOT, "activator/node_modules"))) symlinkSync(path.join(ROOT, "activator/node_modules"), path.join(dir, "activator/node_modules"));
    mkdirSync(path.join(dir, "work"));
    writeFileSync(
      path.join(dir, "work", "activator.yaml"),
      "listeners: { proxy: { host: 127.0.0.1, port: 0 }, scaler: { host: 127.0.0.1, port: 0 }, admin: { host: 127.0.0.1, port: 0 } }\nreadiness: { mode: probe }\nmodels: []\n",
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("builds, then starts with a config path relative to the caller's folder", async () => {
    assert.equal(existsSync(path.join(dir, "activator/dist")), false, "no build to begin with");
    const child = spawn("npm", ["run", "activator", "--", "--config", "activator.yaml"], { cwd: path.join(dir, "work"), stdio: ["ignore", "pipe", "pipe"], detached: true });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not listening after 150 s:\n${output}`)), 150_000);
        child.stdout.on("data", () => {
          if (output.includes('"msg":"activator listening"')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once("exit", (code) => {
          clearTimeout(timer);
          reject(new Error(`exited ${code} before listening:\n${output}`));
        });
      });
      assert.doesNotMatch(output, /Cannot find module|MODULE_NOT_FOUND/);
    } finally {
      process.kill(-child.pid!, "SIGTERM"); // npm and the activator it started (their own process group)
    }
  });
});
