/** `npm run bench`'s command line: --help lists the benches; a mistake is one line and the usage, never a stack trace. */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";

const root = path.resolve(__dirname, "../..");
const bench = (args: string[]) => spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "bench/run.ts", ...args], { cwd: root, encoding: "utf8" });

describe("npm run bench (command line)", function () {
    this.timeout(60_000);

    it("--help prints the usage and every bench by name, exit 0", () => {
        const r = bench(["--help"]);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /^usage: npm run bench -- \[--smoke\] \[--only NAME/);
        for (const name of ["warm-path", "streaming", "cold-path"]) assert.match(r.stdout, new RegExp(`\\n  ${name} +\\S`), `${name} listed`);
    });

    it("an unknown option is one line and the usage, exit 2, no stack trace", () => {
        const r = bench(["--fast"]);
        assert.equal(r.status, 2);
        const [first, second] = r.stderr.split("\n");
        assert.match(first!, /Unknown option '--fast'/);
        assert.match(second!, /^usage: npm run bench/);
        assert.doesNotMatch(r.stderr, /\n\s+at /);
    });
});
