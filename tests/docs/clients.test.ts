/**
 * docs/clients.md states, per activator error, the `x-should-retry` and `Retry-After` it carries: the table must say
 * what `ERRORS` (activator/src/base/errors.ts) sends, for every error it names, and name every 5xx.
 */
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { ERRORS, RETRY_AFTER_SECONDS, type ErrorCode } from "../../activator/src/base/errors";

describe("docs/clients.md: retry guidance per error", () => {
  const text = readFileSync(path.resolve(__dirname, "../../docs/clients.md"), "utf8");
  const section = text.slice(text.indexOf("## What each activator error says"), text.indexOf("## Timeouts to set"));
  const rows = section.split("\n").filter((l) => /^\| \d{3} /.test(l));

  it("gives each named error the x-should-retry and Retry-After the activator sends", () => {
    const named = new Set<string>();
    for (const row of rows) {
      const [errors, shouldRetry, retryAfter] = row.split("|").slice(1, 4).map((c) => c.trim());
      for (const [, code] of errors!.matchAll(/`(\w+)`/g)) {
        assert.ok(code! in ERRORS, `docs name an unknown error ${code}`);
        const def: { status: number; shouldRetry?: boolean; retryAfterSeconds?: number } = ERRORS[code as ErrorCode];
        named.add(code!);
        assert.equal(shouldRetry, def.shouldRetry === undefined ? "–" : `\`${def.shouldRetry}\``, `${code}: x-should-retry`);
        const expected = def.status === 503 ? String(def.retryAfterSeconds ?? RETRY_AFTER_SECONDS) : "–";
        assert.equal(retryAfter, expected, `${code}: Retry-After`);
      }
    }
    const unnamed = Object.entries(ERRORS).filter(([code, def]) => def.status >= 500 && !named.has(code));
    assert.deepEqual(unnamed.map(([c]) => c), [], "every 5xx the activator answers is in the table");
  });
});
