/**
 * Stack config as the Pulumi CLI hands it to the program, read from the repository's files: the defaults declared in
 * `Pulumi.yaml`, overlaid with `Pulumi.<stack>.yaml`, then `--set` overrides; every value a string (structured values
 * as JSON), as `pulumi up -s <stack>` passes them.
 *
 * Encrypted values (`secure: ...`) cannot be decrypted without the stack's secrets provider: they become the string
 * `<secret gpu-serverless:key>` and the program sees them as secrets, so they render redacted.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { configNamespace } from "../../components/config/stack";

/** Config key with its namespace, `models` → `gpu-serverless:models`. */
export const fullKey = (key: string): string => (key.includes(":") ? key : `${configNamespace}:${key}`);

const asConfigString = (value: unknown): string => (typeof value === "string" ? value : JSON.stringify(value));

function readYaml(file: string): any {
    if (!fs.existsSync(file)) throw new Error(`${file} does not exist`);
    return YAML.parse(fs.readFileSync(file, "utf8")) ?? {};
}

/** Stack names that have a `Pulumi.<stack>.yaml` in `root`. */
export function stacksIn(root: string): string[] {
    return fs
        .readdirSync(root)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}

export interface PlanConfig {
    /** Full key → value string, as the program receives it. */
    readonly config: Record<string, string>;
    /** Full keys whose value is a secret (encrypted in the stack file). */
    readonly secretKeys: string[];
}

/**
 * The config of `stack` in `root`; `overrides` (short or full key → value; a string that parses as JSON is taken as
 * JSON) replace whole keys. Throws naming the stack file when it does not exist.
 */
export function planConfig(root: string, stack: string, overrides: Record<string, unknown> = {}): PlanConfig {
    const stackFile = path.join(root, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(stackFile)) {
        throw new Error(`no stack "${stack}": ${stackFile} does not exist (stacks here: ${stacksIn(root).join(", ") || "none"})`);
    }
    const values: Record<string, unknown> = {};
    for (const [key, decl] of Object.entries<any>(readYaml(path.join(root, "Pulumi.yaml")).config ?? {})) {
        if (decl?.default !== undefined) values[fullKey(key)] = decl.default;
    }
    for (const [key, value] of Object.entries(readYaml(stackFile).config ?? {})) values[fullKey(key)] = value;
    for (const [key, value] of Object.entries(overrides)) values[fullKey(key)] = value;
    const config: Record<string, string> = {};
    const secretKeys: string[] = [];
    for (const [key, value] of Object.entries(values)) {
        if (value === undefined || value === null) continue;
        if (typeof value === "object" && "secure" in value) {
            config[key] = `<secret ${key}>`;
            secretKeys.push(key);
        } else {
            config[key] = asConfigString(value);
        }
    }
    return { config, secretKeys };
}

/** `key=value` → [key, value]; the value is JSON when it parses as JSON, else the plain string. */
export function parseSetting(setting: string): [string, unknown] {
    const eq = setting.indexOf("=");
    if (eq <= 0) throw new Error(`--set ${JSON.stringify(setting)}: expected <key>=<value>`);
    const raw = setting.slice(eq + 1);
    try {
        return [setting.slice(0, eq), JSON.parse(raw)];
    } catch {
        return [setting.slice(0, eq), raw];
    }
}
