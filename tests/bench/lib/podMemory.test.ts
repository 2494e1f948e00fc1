/**
 * The pod-memory cgroup the benches run the activator in: a Node process started through it sees the pod's limit,
 * sizes its heap from it (as in the pod), and is killed by the kernel when it goes over, as a pod is. Needs root (or a
 * delegated cgroup tree): elsewhere the tests are skipped, saying why.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";
import { podMemory, type PodMemory } from "../../../bench/lib/podMemory";

const MiB = 1024 * 1024;

function run(memory: PodMemory, script: string) {
  const [command, ...args] = [...memory.launcher, process.execPath, "-e", script];
  return spawnSync(command!, args, { encoding: "utf8", timeout: 30_000 });
}

describe("bench: pod memory (a memory cgroup with the pod's limit)", () => {
  const made: PodMemory[] = [];
  const make = (ctx: Mocha.Context, bytes: number): PodMemory => {
    const memory = podMemory(bytes);
    if ("unavailable" in memory) ctx.skip(); // e.g. not root: no cgroup can be made here
    made.push(memory);
    return memory;
  };
  afterEach(() => made.splice(0).forEach((m) => m.remove()));

  it("runs Node under the limit: it sees the limit and sizes V8's heap from it, not from the machine", function () {
    const memory = make(this, 768 * MiB);
    const seen = run(memory, 'console.log(JSON.stringify({ limit: process.constrainedMemory(), heap: require("v8").getHeapStatistics().heap_size_limit }))');
    assert.equal(seen.status, 0, seen.stderr);
    const inside = JSON.parse(seen.stdout) as { limit: number; heap: number };
    assert.equal(inside.limit, 768 * MiB);
    const outside = spawnSync(process.execPath, ["-e", 'console.log(require("v8").getHeapStatistics().heap_size_limit)'], { encoding: "utf8" });
    assert.ok(inside.heap < 768 * MiB, `heap limit ${inside.heap / MiB} MiB inside a 768 MiB cgroup`);
    assert.ok(inside.heap < Number(outside.stdout), `heap limit inside ${inside.heap / MiB} MiB, outside ${Number(outside.stdout) / MiB} MiB`);
    assert.ok((memory.peakBytes() ?? 0) > 0, "the cgroup's peak is readable");
  });

  it("has the kernel kill a process that goes over the limit, and counts it", function () {
    const memory = make(this, 96 * MiB);
    const over = run(memory, "const b = Buffer.alloc(256 * 1024 * 1024, 1); console.log(b.length)");
    assert.equal(over.signal, "SIGKILL", `exit ${over.status}, ${over.stderr}`);
    assert.equal(memory.oomKills(), 1);
    assert.ok((memory.peakBytes() ?? 0) <= 96 * MiB);
  });

  it("is removed once its process has exited", function () {
    const memory = make(this, 128 * MiB);
    assert.equal(run(memory, "0").status, 0);
    const procs = memory.launcher[3]!;
    assert.ok(existsSync(procs));
    memory.remove();
    assert.equal(existsSync(path.dirname(procs)), false);
  });

  it("refuses a limit that is not a positive number of bytes", () => {
    assert.throws(() => podMemory(0), /pod memory limit must be > 0 bytes, got 0/);
  });
});
