/**
 * `npm run simulate` as a user runs it: the dev stack on the committed trace sample (simulator/fixtures, CC BY 4.0),
 * deterministic for a seed, table / JSON / SVG outputs; bad input answered with one line and exit 1.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { main } from "../../simulator/cli";

const root = path.resolve(__dirname, "../..");
const sample = path.join(root, "simulator/fixtures/code-sample.csv");

function cli(args: string[]): { code: number; out: string; err: string } {
    const out: string[] = [];
    const err: string[] = [];
    const code = main(args, (s) => out.push(s), (s) => err.push(s));
    return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("npm run simulate", function () {
    this.timeout(60_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "simulate-"));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("dev stack, a sweep over cooldownSeconds: a row per value and always-on, JSON and pictures; the same seed gives the same figures", () => {
        const args = ["--stack", "dev", "--trace", sample, "--thin", "20", "--sweep", "cooldownSeconds=60,300,900", "--seed", "5", "--json", path.join(dir, "a.json"), "--svg", dir];
        const a = cli(args);
        assert.equal(a.code, 0, a.err);
        for (const label of ["cooldownSeconds=60", "cooldownSeconds=300", "cooldownSeconds=900", "always-on"]) assert.match(a.out, new RegExp(`^${label}\\s+qwen`, "m"));
        const json = JSON.parse(fs.readFileSync(path.join(dir, "a.json"), "utf8"));
        assert.deepEqual(json.runs.map((r: { label: string }) => r.label), ["cooldownSeconds=60", "cooldownSeconds=300", "cooldownSeconds=900", "always-on"]);
        const alwaysOn = json.runs[3].total;
        assert.equal(alwaysOn.p99, 0);
        assert.ok(json.runs[0].total.gpuUsd < alwaysOn.gpuUsd, "scale to zero costs less than always-on");
        assert.ok(json.runs[0].total.coldStarts >= json.runs[2].total.coldStarts);
        assert.equal(json.prices["p4d.24xlarge"], undefined, "prices are by kind");
        assert.ok(json.prices.instances["p4d.24xlarge"].source.startsWith("https://"));
        for (const f of ["frontier.svg", "timeline-cooldownSeconds=300.svg", "timeline-always-on.svg"]) assert.match(fs.readFileSync(path.join(dir, f), "utf8"), /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
        const b = cli(args.map((x) => (x.endsWith("a.json") ? path.join(dir, "b.json") : x)));
        assert.equal(b.out.replace(/b\.json/g, "a.json"), a.out);
        const c = cli(["--stack", "dev", "--trace", sample, "--thin", "20", "--seed", "6"]);
        assert.notEqual(c.out, a.out.split("\npictures")[0]);
    });

    it("--set overrides a stack key as plan takes it: minReplicas 1 never waits", () => {
        const models = JSON.stringify([{ name: "qwen", format: "vllm", storageUri: "hf://Qwen/Qwen2.5-0.5B-Instruct:7ae557604adf67be50417f59c2c2f167def9a775", gpus: 1, minReplicas: 1, maxReplicas: 2 }]);
        const gpus = JSON.stringify([{ name: "a100", instanceType: "p4d.24xlarge", provisioner: "cluster-autoscaler", minSize: 1, maxSize: 1 }]);
        const r = cli(["--stack", "dev", "--trace", sample, "--set", `models=${models}`, "--set", `gpuNodeGroups=${gpus}`, "--json", path.join(dir, "set.json")]);
        assert.equal(r.code, 0, r.err);
        const json = JSON.parse(fs.readFileSync(path.join(dir, "set.json"), "utf8"));
        assert.equal(json.runs[0].total.max, 0);
        assert.equal(json.runs[0].total.coldStarts, 0);
    });

    const bad: [string, string[], RegExp][] = [
        ["a missing trace file", ["--trace", "/nonexistent/trace.csv"], /^simulate: trace \/nonexistent\/trace\.csv does not exist$/],
        ["an unknown --sweep key", ["--trace", sample, "--sweep", "cooldown=60,300"], /^simulate: --sweep: unknown knob "cooldown"; knobs: cooldownSeconds, /],
        ["a bad --sweep value", ["--trace", sample, "--sweep", "cooldownSeconds=60,soon"], /^simulate: --sweep cooldownSeconds="soon": expected an integer ≥ 0$/],
        ["an unknown stack", ["--trace", sample, "--stack", "nope"], /^simulate: no stack "nope": /],
        ["a model not in the stack", ["--trace", sample, "--model", "llama"], /^simulate: model llama is not in the stack \(models: qwen, iris\)$/],
        ["a bad --phase", ["--trace", sample, "--phase", "boot=30"], /^simulate: --phase "boot=30": expected <phase>=<s>/],
    ];
    for (const [what, args, message] of bad) {
        it(`${what}: one line, exit 1`, () => {
            const r = cli(["--stack", "dev", ...args]);
            assert.equal(r.code, 1);
            assert.match(r.err, message);
            assert.equal(r.err.split("\n").length, 1, r.err);
        });
    }

    it("a bad CSV row, through the npm script: one line naming the line, exit 1, no stack trace", () => {
        const file = path.join(dir, "bad.csv");
        fs.writeFileSync(file, "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10\n2023-11-16 18:17:04.0319600,lots,8\n");
        const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "scripts/simulate.ts", "--stack", "dev", "--trace", file], { cwd: root, encoding: "utf8" });
        assert.equal(r.status, 1);
        const lines = r.stderr.trim().split("\n").filter((l) => !l.includes("note: ignoring"));
        assert.deepEqual(lines, [`simulate: ${file} line 3: ContextTokens "lots" is not a non-negative integer`]);
        assert.doesNotMatch(r.stderr, /\n\s+at /);
    });
});
