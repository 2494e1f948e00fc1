/**
 * `npm run coldstarts`: a real activator process goes through a cold start (probe mode: no Kubernetes objects, so the
 * activator's own phases endpoint_ready and first_byte), and the command prints its timeline from `/queue`.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { TestBackend } from "../../testing/activator/backend";
import { config, model } from "../../testing/activator/config";
import { send, sendJson } from "../../testing/activator/http";
import { formatColdStarts } from "../../scripts/coldstarts/format";

const root = path.resolve(__dirname, "../..");
const run = promisify(execFile);

describe("npm run coldstarts", function () {
  this.timeout(60_000);
  let act: ActivatorProcess | undefined;
  let backend: TestBackend | undefined;
  after(async () => {
    await act?.stop();
    await backend?.stop();
  });

  it("prints the phases of the last cold start, which sum to its first byte, from a live activator's /queue", async () => {
    backend = await TestBackend.create();
    act = await ActivatorProcess.start(config([model("llm", backend.url)]));
    const sent = Date.now();
    const started = backend.startAfter(400);
    const res = await send(`${act.proxyUrl}/cold`, { headers: { host: "llm.test" } });
    await started;
    assert.equal(res.headers["x-activator-cold-start"], "true");
    type Q = { models: { [k: string]: { coldStarts?: Array<{ outcome: string; demandAt: string; seconds: number; phases: Array<{ phase: string; seconds: number }> }> } } };
    const queue = (await sendJson<Q>(`${act.adminUrl}/queue`)).json;
    const [record] = queue.models["test/llm"]!.coldStarts!;
    assert.equal(record!.outcome, "served");
    assert.deepEqual(record!.phases.map((p) => p.phase), ["endpoint_ready", "first_byte"]);
    assert.ok(Math.abs(Date.parse(record!.demandAt) - sent) < 1000, "the demand is the request's arrival");
    assert.ok(record!.phases[0]!.seconds >= 0.3, `endpoint_ready waited for the backend: ${record!.phases[0]!.seconds}`);
    const sum = record!.phases.reduce((s, p) => s + p.seconds, 0);
    assert.ok(Math.abs(sum - record!.seconds) < 0.002, "phases sum to the cold start");
    const log = act.logs.find((l) => l.msg === "cold start" && l["model"] === "test/llm")!;
    assert.deepEqual(Object.keys(log["phases"] as object), ["endpoint_ready", "first_byte"], "the log line carries the phases");

    const { stdout } = await run(process.execPath, ["-r", "ts-node/register/transpile-only", "scripts/coldstarts.ts", "--url", act.adminUrl, "--model", "test/llm"], { cwd: root });
    assert.equal(stdout, formatColdStarts(queue, "test/llm"));
    assert.match(stdout, /^test\/llm  \S+  served  \d+\.\d{3} s\n  endpoint_ready +\d+\.\d{3} s   at \+\d+\.\d{3} s\n  first_byte +\d+\.\d{3} s/);
    const metrics = await send(`${act.adminUrl}/metrics`);
    assert.match(metrics.body, /activator_cold_start_phase_seconds_count\{model="test\/llm",phase="first_byte"\} 1/);
  });

  it("says in one line what is wrong with input that is not /queue's", async () => {
    assert.throws(() => formatColdStarts({ held: 0 }), /not an activator \/queue answer: no `models` object/);
    const failed = await run(process.execPath, ["-r", "ts-node/register/transpile-only", "scripts/coldstarts.ts", "--url", "http://127.0.0.1:9"], { cwd: root }).catch((e: { code: number; stderr: string }) => e);
    assert.equal((failed as { code: number }).code, 1);
    assert.match((failed as { stderr: string }).stderr, /^coldstarts: cannot read http:\/\/127\.0\.0\.1:9\/queue: .+\n$/);
  });
});
