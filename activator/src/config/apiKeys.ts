/**
 * The API keys file (`auth.apiKeysFile`): the SHA-256 hex digests of the accepted keys, one per line; blank lines
 * and `#` comments are ignored. Storing digests means the file (a Kubernetes Secret) never holds a usable key, and
 * comparing digests of presented keys leaks nothing about a key through timing. Pure: the Pulumi components write
 * the file with `apiKeyDigestsFile`, so what they generate is what the activator reads.
 */
import { createHash } from "node:crypto";

const DIGEST = /^[0-9a-fA-F]{64}$/;

/**
 * SHA-256 hex digest of a key. Bytes as latin1: Node reads header values as latin1, so this hashes exactly the
 * bytes the client sent (keys are ASCII; the stack config checks it).
 */
export function apiKeyDigest(key: string): string {
  return createHash("sha256").update(key, "latin1").digest("hex");
}

export type ApiKeysParseResult = { ok: true; digests: ReadonlySet<string> } | { ok: false; errors: string[] };

/** Reads the digests of a keys file's text; each error names its line (never its content: it may be a key). */
export function parseApiKeyDigests(text: string): ApiKeysParseResult {
  const digests = new Set<string>();
  const errors: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const comment = raw.indexOf("#");
    const line = (comment >= 0 ? raw.slice(0, comment) : raw).trim();
    if (line === "") return;
    if (DIGEST.test(line)) digests.add(line.toLowerCase());
    else errors.push(`line ${i + 1}: not a SHA-256 hex digest (expected 64 hex characters, got ${line.length} characters); list digests of the keys, never the keys`);
  });
  if (errors.length > 0) return { ok: false, errors };
  if (digests.size === 0) return { ok: false, errors: ["no API key digests: add one SHA-256 hex digest per line"] };
  return { ok: true, digests };
}

/** The keys file for these keys: their digests, one per line, in the order given. */
export function apiKeyDigestsFile(keys: readonly string[]): string {
  return `# SHA-256 hex digests of the activator's API keys, one per line\n${keys.map((key) => `${apiKeyDigest(key)}\n`).join("")}`;
}
