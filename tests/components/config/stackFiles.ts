/**
 * Stack config as the Pulumi CLI hands it to the program, built from the files in the repository: the defaults
 * declared in `Pulumi.yaml`, overlaid with `Pulumi.<stack>.yaml`, every value a string (structured values as JSON).
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { configNamespace, parseStackConfig, StackConfigError } from "../../../components/config/stack";

export const repoRoot = path.resolve(__dirname, "../../..");

const readYaml = (file: string): any => YAML.parse(fs.readFileSync(path.join(repoRoot, file), "utf8"));

/** A config value as the CLI passes it: strings unchanged, everything else JSON. */
export function asConfigString(value: unknown): string {
    return typeof value === "string" ? value : JSON.stringify(value);
}

const fullKey = (key: string): string => (key.includes(":") ? key : `${configNamespace}:${key}`);

/** The `config:` block of Pulumi.yaml, keyed by full key. */
export function projectConfigDeclarations(): Record<string, { type?: string; items?: unknown; description?: string; default?: unknown }> {
    const declared = readYaml("Pulumi.yaml").config ?? {};
    return Object.fromEntries(Object.entries(declared).map(([k, v]) => [fullKey(k), v as any]));
}

/** The stack's own values (Pulumi.<stack>.yaml), parsed; secure values stay `{ secure: ... }`. */
export function stackFileValues(stack: string): Record<string, unknown> {
    return readYaml(`Pulumi.${stack}.yaml`).config ?? {};
}

/**
 * Config for `stack` as the program receives it: project defaults, the stack file, then `overrides` (plain values keyed
 * by short or full key; `undefined` removes a key). Encrypted values become `test-secret-<key>`.
 */
export function stackConfig(stack: string, overrides: Record<string, unknown> = {}): Record<string, string> {
    const values: Record<string, unknown> = {};
    for (const [key, decl] of Object.entries(projectConfigDeclarations())) {
        if (decl.default !== undefined) values[key] = decl.default;
    }
    Object.assign(values, stackFileValues(stack));
    for (const [key, value] of Object.entries(overrides)) values[fullKey(key)] = value;
    const config: Record<string, string> = {};
    for (const [key, value] of Object.entries(values)) {
        if (value === undefined) continue;
        const secure = value !== null && typeof value === "object" && "secure" in value;
        config[key] = secure ? `test-secret-${key}` : asConfigString(value);
    }
    return config;
}

/** The problems `parseStackConfig` reports for `config`, or fails the test when it accepts it. */
export function problemsOf(config: Record<string, string>): readonly string[] {
    try {
        parseStackConfig(config);
    } catch (e) {
        assert.ok(e instanceof StackConfigError, `expected a StackConfigError, got ${e}`);
        return e.problems;
    }
    assert.fail("the config was accepted");
}
