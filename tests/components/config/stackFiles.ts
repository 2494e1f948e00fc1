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

/**
 * A reachable API endpoint, for configs built by hand: the program refuses the default (private, no network allowed
 * to reach it), so every test config names one.
 */
export const reachableApiEndpoint = { privateAccessCidrs: ["10.100.0.0/16"] };
/** `reachableApiEndpoint` as the raw config entry. */
export const reachableApi: Record<string, string> = { "gpu-serverless:apiEndpoint": JSON.stringify(reachableApiEndpoint) };

/**
 * What the README (dev) and docs/prod.md tell an operator to fill in before the first `pulumi up`: the shipped stack
 * files carry documentation ranges (RFC 5737) there, which the program refuses (tests/components/config/stack.test.ts
 * checks that).
 */
export const operatorEdits: Record<string, Record<string, unknown>> = {
    dev: { apiEndpoint: { access: "public", publicAccessCidrs: ["100.20.30.0/24"] } },
    prod: { apiEndpoint: { access: "private", privateAccessCidrs: ["10.200.0.0/16"] } },
};

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
 * Config for `stack` as the program receives it: project defaults, the stack file, the operator's edits (see
 * `operatorEdits`; `asShipped` leaves them out), then `overrides` (plain values keyed by short or full key; `undefined`
 * removes a key). Encrypted values become `test-secret-<key>`.
 */
export function stackConfig(stack: string, overrides: Record<string, unknown> = {}, options: { asShipped?: boolean } = {}): Record<string, string> {
    const values: Record<string, unknown> = {};
    for (const [key, decl] of Object.entries(projectConfigDeclarations())) {
        if (decl.default !== undefined) values[key] = decl.default;
    }
    Object.assign(values, stackFileValues(stack));
    const edits = options.asShipped ? {} : (operatorEdits[stack] ?? {});
    for (const [key, value] of Object.entries({ ...edits, ...overrides })) values[fullKey(key)] = value;
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
