/**
 * The activator's layers: lower ones never import upper ones. `base/` (errors, metrics) imports nothing of the
 * activator; `proxy/` (the request chain) sits on `holding/` (queues, model state), both on `request/` (the exchange,
 * the body budget, answers); readiness, the scaler, config and routing import none of the chain; no folder imports
 * the entry files at the root (`main.ts`, `admin.ts`, `index.ts`); `main.ts` only wires (the lifecycle is
 * `lifecycle/`); and no module imports itself back through others.
 * Read from the sources' `import`/`export … from` statements, `import("…")` and `require("…")` calls.
 */
import { strict as assert } from "node:assert";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";

const SRC = path.resolve(__dirname, "../../activator/src");

/** Every folder of src, for the rule "base imports nothing above it". */
const FOLDERS = readdirSync(SRC).filter((f) => statSync(path.join(SRC, f)).isDirectory());

/** Folder → folders (of src) it must not import from. */
const FORBIDDEN: Record<string, string[]> = {
  base: FOLDERS.filter((f) => f !== "base"),
  request: ["proxy", "holding", "readiness", "scaler", "peers", "lifecycle"],
  holding: ["proxy", "peers", "lifecycle"],
  readiness: ["proxy", "holding", "request", "scaler", "lifecycle"],
  scaler: ["proxy", "holding", "request", "lifecycle"],
  config: ["proxy", "holding", "request", "readiness", "scaler", "lifecycle"],
  routing: ["proxy", "holding", "request", "readiness", "scaler", "config", "lifecycle"],
};

/** Module specifiers a source file loads: static imports, re-exports, side-effect imports, `import()` and `require()`. */
function specifiersOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const patterns = [
    /^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gm, // import … from "x", export … from "x" (multi-line too)
    /^\s*import\s*["']([^"']+)["']/gm, // import "x"
    /\b(?:require|import)\s*\(\s*["']([^"']+)["']\s*\)/g, // require("x"), import("x"), typeof import("x")
  ];
  return patterns.flatMap((re) => [...code.matchAll(re)].map((m) => m[1]!));
}

/** All .ts files under src, relative to it ("proxy/route.ts"). */
function sources(dir = SRC): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sources(full);
    return name.endsWith(".ts") ? [path.relative(SRC, full)] : [];
  });
}

/** The src file a relative specifier names ("x" → x.ts or x/index.ts), relative to src; null for packages. */
function resolveLocal(from: string, spec: string): string | null {
  if (!spec.startsWith(".")) return null;
  const base = path.resolve(SRC, path.dirname(from), spec);
  for (const candidate of [`${base}.ts`, path.join(base, "index.ts"), base]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return path.relative(SRC, candidate);
  }
  throw new Error(`${from} imports ${spec}, which is no file of activator/src`);
}

/** file → the src files it loads. */
function importGraph(): Map<string, string[]> {
  return new Map(
    sources().map((file) => [file, specifiersOf(readFileSync(path.join(SRC, file), "utf8")).flatMap((s) => resolveLocal(file, s) ?? [])]),
  );
}

/** One import cycle (a → b → … → a) or null. */
function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string): string[] | null => {
    if (state.get(file) === "done") return null;
    if (state.get(file) === "open") return [...stack.slice(stack.indexOf(file)), file];
    state.set(file, "open");
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(file, "done");
    return null;
  };
  for (const file of graph.keys()) {
    const cycle = visit(file);
    if (cycle) return cycle;
  }
  return null;
}

describe("activator: layers", () => {
  const graph = importGraph();
  const folderOf = (file: string) => (file.includes(path.sep) ? file.split(path.sep)[0]! : null);

  it("reads every way a module is loaded (so a require() cannot slip past the rules)", () => {
    const text = [
      'import { a } from "./a";',
      'import type {\n  B,\n} from "../b";',
      'export { c } from "./c";',
      'export * from "./d";',
      'import "./e";',
      'const f = require("./f") as typeof import("./f");',
      'const g = await import("../g");',
      '// import { no } from "./commented";',
    ].join("\n");
    assert.deepEqual(specifiersOf(text).sort(), ["../b", "../g", "./a", "./c", "./d", "./e", "./f", "./f"]);
  });

  for (const [folder, forbidden] of Object.entries(FORBIDDEN)) {
    it(`${folder}/ imports nothing from ${forbidden.join(", ")}, nor the root files`, () => {
      assert.ok(FOLDERS.includes(folder), `activator/src/${folder}/ exists`);
      for (const [file, targets] of graph) {
        if (folderOf(file) !== folder) continue;
        for (const target of targets) {
          const into = folderOf(target);
          assert.ok(into === null ? false : !forbidden.includes(into), `${file} imports ${target}`);
        }
      }
    });
  }

  it("no folder imports the root files (main.ts, admin.ts, index.ts): they are the top", () => {
    for (const [file, targets] of graph) {
      if (folderOf(file) === null) continue;
      for (const target of targets) assert.ok(folderOf(target) !== null, `${file} imports ${target}`);
    }
  });

  it("main.ts only wires: no process events, timers, waits or classes of its own (the lifecycle/ module has them)", () => {
    const main = readFileSync(path.join(SRC, "main.ts"), "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
    const logic: Array<[RegExp, string]> = [
      [/\bprocess\.(on|once)\(/, "process event handlers (lifecycle/lifecycle.ts attachToProcess)"],
      [/\bset(Timeout|Interval|Immediate)\(/, "timers"],
      [/\bwhile\s*\(/, "wait loops"],
      [/^\s*(export\s+)?class\s/m, "classes"],
    ];
    for (const [pattern, what] of logic) assert.doesNotMatch(main, pattern, `main.ts has ${what}`);
    assert.ok(graph.get("main.ts")!.includes(path.join("lifecycle", "lifecycle.ts")), "main.ts hands the process to lifecycle/");
    for (const [file, targets] of graph) assert.ok(!targets.includes("main.ts"), `${file} imports main.ts`);
  });

  it("has no import cycle", () => {
    const cycle = findCycle(graph);
    assert.equal(cycle, null, `import cycle: ${cycle?.join(" → ")}`);
  });

  it("finds a cycle when there is one (the check above can fail)", () => {
    const planted = new Map([["a.ts", ["b.ts"]], ["b.ts", ["c.ts"]], ["c.ts", ["a.ts"]], ["d.ts", ["a.ts"]]]);
    assert.deepEqual(findCycle(planted), ["a.ts", "b.ts", "c.ts", "a.ts"]);
  });
});
