import { readFile } from "node:fs/promises";
import * as YAML from "yaml";
import { parseActivatorConfig, type ActivatorConfig } from "./schema";

/** A configuration file that cannot be used; `errors` are `key.path: message` lines. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly errors: string[],
  ) {
    super(`invalid activator config ${file}:\n  ${errors.join("\n  ")}`);
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

/** Reads and validates a configuration file; throws ConfigError naming each bad key. */
export async function loadConfigFile(file: string): Promise<{ config: ActivatorConfig; text: string }> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new ConfigError(file, [`cannot read: ${(err as Error).message}`]);
  }
  return { config: parseConfigText(file, text), text };
}
