/** The API keys file format (`auth.apiKeysFile`): SHA-256 hex digests, one per line; errors name the line only. */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { apiKeyDigest, apiKeyDigestsFile, parseApiKeyDigests } from "../../../activator/src/config/apiKeys";

const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");
const [a, b] = [sha256("key-a"), sha256("key-b")];

describe("activator API keys file", () => {
  const validCases: [what: string, text: string, expected: string[]][] = [
    ["one digest", `${a}\n`, [a]],
    ["no final newline", a, [a]],
    ["comments, blank lines, indentation and CRLF", `# keys\n\n  ${a}  \r\n${b} # rotated in 2025\r\n`, [a, b]],
    ["upper-case hex, stored lower-case", a.toUpperCase(), [a]],
    ["the same digest twice", `${a}\n${a}\n`, [a]],
  ];
  for (const [what, text, expected] of validCases) {
    it(`reads ${what}`, () => {
      const result = parseApiKeyDigests(text);
      assert.ok(result.ok, result.ok ? "" : result.errors.join("\n"));
      assert.deepEqual([...result.digests], expected);
    });
  }

  const invalidCases: [what: string, text: string, expected: string[]][] = [
    ["an empty file", "", ["no API key digests: add one SHA-256 hex digest per line"]],
    ["only comments", "# none yet\n\n", ["no API key digests: add one SHA-256 hex digest per line"]],
    [
      "a key instead of its digest, and a short digest",
      `${a}\nsk-proj-0123456789\n\n${a.slice(2)}\n`,
      [
        "line 2: not a SHA-256 hex digest (expected 64 hex characters, got 18 characters); list digests of the keys, never the keys",
        "line 4: not a SHA-256 hex digest (expected 64 hex characters, got 62 characters); list digests of the keys, never the keys",
      ],
    ],
    ["a digest with a non-hex character", `${a.slice(0, 63)}g`, ["line 1: not a SHA-256 hex digest (expected 64 hex characters, got 64 characters); list digests of the keys, never the keys"]],
    ["two digests on one line", `${a} ${b}`, ["line 1: not a SHA-256 hex digest (expected 64 hex characters, got 129 characters); list digests of the keys, never the keys"]],
  ];
  for (const [what, text, expected] of invalidCases) {
    it(`refuses ${what}, naming lines but never their content`, () => {
      const result = parseApiKeyDigests(text);
      assert.equal(result.ok, false);
      if (!result.ok) assert.deepEqual(result.errors, expected);
    });
  }

  it("digests keys with SHA-256 and writes a file of digests only", () => {
    assert.equal(apiKeyDigest("key-a"), a);
    const text = apiKeyDigestsFile(["sk-first-key-0001", "sk-second-key-0002"]);
    assert.equal(text, `# SHA-256 hex digests of the activator's API keys, one per line\n${sha256("sk-first-key-0001")}\n${sha256("sk-second-key-0002")}\n`);
    assert.doesNotMatch(text, /sk-/);
  });

  it("reads back from any file it writes exactly the digests of the keys", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: "binary-ascii", minLength: 1 }), { minLength: 1, maxLength: 5 }), (keys) => {
        const text = apiKeyDigestsFile(keys);
        const result = parseApiKeyDigests(text);
        assert.ok(result.ok);
        assert.deepEqual([...result.digests].sort(), [...new Set(keys.map(sha256))].sort());
      }),
    );
  });
});
