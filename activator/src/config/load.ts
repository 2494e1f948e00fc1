import { readFile } from "node:fs/promises";
import * as path from "node:path";
import * as YAML from "yaml";
import { parseApiKeyDigests } from "./apiKeys";
import { parseActivatorConfig, type ActivatorConfig } from "./schema";

/** A configuration (or API keys) file that cannot be used; `errors` are `key.path: message` (or `line N: ...`) lines. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly errors: string[],
    what = "activator config",
  ) {
    super(`invalid ${what} ${file}:\n  ${errors.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

/** Parses file text: JSON for `.json` files, YAML (a superset of JSON) otherwise. */
export function parseConfigText(file: string, text: string): ActivatorConfig {
  let data: unknown;
  try {
    data = file.endsWith(".json") ? JSON.parse(text) : YAML.parse(text, { prettyErrors: true });
  } catch (err) {
    throw new ConfigError(file, [`not valid ${file.endsWith(".json") ? "JSON" : "YAML"}: ${(err as Error).message}`]);
  }
  const result = parseActivatorConfig(data ?? {});
  if (!result.ok) throw new ConfigError(file, result.errors);
  return result.config;
}

/** The accepted API keys, as read from `auth.apiKeysFile`. */
export interface LoadedApiKeys {
  /** Absolute path of the keys file. */
  file: string;
  /** SHA-256 hex digests (lowercase) of the accepted keys. */
  digests: ReadonlySet<string>;
  text: string;
}

export interface LoadedConfig {
  config: ActivatorConfig;
  text: string;
  /** The keys `auth.apiKeysFile` names; null when auth is off. */
  apiKeys: LoadedApiKeys | null;
  /** The content of `peers.tokenFile` (trimmed); null without one. */
  peerToken: string | null;
}

/**
 * Reads and validates a configuration file and the API keys file it names (a relative `auth.apiKeysFile` is taken
 * from the config file's folder); throws ConfigError naming each bad key, or the keys file and its bad lines.
 */
export async function loadConfigFile(file: string): Promise<LoadedConfig> {
  const text = await readText(file, "activator config");
  const config = parseConfigText(file, text);
  const apiKeys = config.auth ? await loadApiKeysFile(path.resolve(path.dirname(file), config.auth.apiKeysFile)) : null;
  const peerToken = config.peers?.tokenFile ? await loadPeerToken(path.resolve(path.dirname(file), config.peers.tokenFile)) : null;
  return { config, text, apiKeys, peerToken };
}

/** Reads the peers' shared token; refuses a missing, empty or short one (naming the file, never the content). */
async function loadPeerToken(file: string): Promise<string> {
  const token = (await readText(file, "peer token file")).trim();
  if (token.length < 16 || /\s/.test(token)) throw new ConfigError(file, ["must hold one token of at least 16 characters, without spaces"], "peer token file");
  return token;
}

/** Reads and checks an API keys file; throws ConfigError naming the file and each bad line. */
export async function loadApiKeysFile(file: string): Promise<LoadedApiKeys> {
  const text = await readText(file, "API keys file");
  const result = parseApiKeyDigests(text);
  if (!result.ok) throw new ConfigError(file, result.errors, "API keys file");
  return { file, digests: result.digests, text };
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw new ConfigError(file, [`cannot read: ${(err as Error).message}`], what);
  }
}
