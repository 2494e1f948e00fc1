/**
 * The activator's layers: lower ones never import upper ones. `proxy/` (the request chain) sits on `holding/`
 * (queues, model state), both on `request/` (the exchange, the body budget, answers); readiness, the scaler,
 * config and routing import none of the chain. Read from the sources' import statements.
 */
import { strict as assert } from "node:assert";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";

const SRC = path.resolve(__dirname, "../../activator/src");

/** Folder → folders (of src) it must not import from. */
const FORBIDDEN: Record<string, string[]> = {
  request: ["proxy", "holding", "readiness", "scaler"],
  holding: ["proxy"],
  readiness: ["proxy", "holding", "request"],
  scaler: ["proxy", "holding", "request"],
  config: ["proxy", "holding", "request", "readiness", "scaler"],
  routing: ["proxy", "holding", "request", "readiness", "scaler", "config"],
};

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^\s*(?:import|export)[^;]*?from\s+"([^"]+)"/gm)].map((m) => m[1]!);
}

describe("activator: layers", () => {
  for (const [folder, forbidden] of Object.entries(FORBIDDEN)) {
    it(`${folder}/ imports nothing from ${forbidden.join(", ")}`, () => {
      const dir = path.join(SRC, folder);
      for (const name of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
        for (const spec of importsOf(path.join(dir, name))) {
          if (!spec.startsWith(".")) continue;
          const target = path.relative(SRC, path.resolve(dir, spec)).split(path.sep)[0]!;
          assert.ok(!forbidden.includes(target), `${folder}/${name} imports ${spec} (${target}/)`);
        }
      }
    });
  }
});
