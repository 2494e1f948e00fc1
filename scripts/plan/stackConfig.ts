/**
 * Stack config as the Pulumi CLI hands it to the program, read from the repository's files: the defaults declared in
 * `Pulumi.yaml`, overlaid with `Pulumi.<stack>.yaml`, then the `--set` settings in order; every value a string
 * (structured values as JSON), as `pulumi up -s <stack>` passes them.
 *
 * A setting is `key=value` or `key.path=value` (see {@link parseSetting}), as `pulumi config set [--path] key value`
 * writes them:
 *   - `key=value` sets the whole key to the text as typed (`kubernetesVersion=1.30` stays "1.30"); the program decodes
 *     JSON where the key holds a structure. A JSON object given for a key that holds an object merges into it (nested
 *     objects merge, anything else replaces), so the siblings the stack file sets are kept.
 *   - `key.a.b[0]["c.d"]=value` (Pulumi's `--path` syntax) sets one field inside the key's value, keeping the rest;
 *     missing objects and lists on the way are created. The value is `true`/`false` as a boolean, an integer as a
 *     number (as `pulumi config set --path` stores them), `[...]`/`{...}` as JSON, any other text as the string typed.
 *
 * Encrypted values (`secure: ...`) cannot be decrypted without the stack's secrets provider: they become the string
 * `<secret gpu-serverless:key>` and the program sees them as secrets, so they render redacted.
 *
 * Mistakes (no such stack, a setting without `=`, a path through a scalar, a JSON typo in a path value) throw
 * `PlanConfigError`, one line naming the setting or file.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { configNamespace } from "../../components/config/stack";
import { isPlainObject, mergeValues } from "../../components/domain/mergeValues";

/** A mistake in how plan was asked for the config; its message is one line that names the file or setting. */
export class PlanConfigError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "PlanConfigError";
    }
}

/** Config key with its namespace, `models` → `gpu-serverless:models`. */
export const fullKey = (key: string): string => (key.includes(":") ? key : `${configNamespace}:${key}`);

const asConfigString = (value: unknown): string => (typeof value === "string" ? value : JSON.stringify(value));

function readYaml(file: string): any {
    try {
        return YAML.parse(fs.readFileSync(file, "utf8")) ?? {};
    } catch (e) {
        throw new PlanConfigError(`${file}: ${(e as Error).message.split("\n")[0]}`);
    }
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

/** One `--set`: the key, the path inside its value (empty: the whole key) and the value text as typed. */
export interface Setting {
    readonly key: string;
    readonly path: readonly (string | number)[];
    readonly text: string;
    /** The setting as typed, for messages. */
    readonly typed: string;
}

/**
 * `key=value`, `key.a.b=value`, `key[0].c=value`, `key["a.b"]=value` → a {@link Setting}. Throws `PlanConfigError`
 * for a setting without `=` or a path that does not parse.
 */
export function parseSetting(setting: string): Setting {
    const bad = (why: string) => new PlanConfigError(`--set ${setting}: ${why}`);
    const eq = setting.indexOf("=");
    if (eq <= 0) throw bad("expected <key>=<value> or <key>.<field>=<value>, e.g. region=us-west-2 or apiEndpoint.access=public");
    const spec = setting.slice(0, eq);
    const head = /^[^.[\]]+/.exec(spec);
    if (!head) throw bad(`${JSON.stringify(spec)} does not start with a config key`);
    const segments: (string | number)[] = [];
    let rest = spec.slice(head[0].length);
    while (rest !== "") {
        const m = /^\.([^.[\]"]+)/.exec(rest) ?? /^\[(\d+)\]/.exec(rest) ?? /^\["((?:[^"\\]|\\.)*)"\]/.exec(rest);
        if (!m) throw bad(`cannot read the path at ${JSON.stringify(rest)}; write fields as .name, list items as [0], keys with dots as ["a.b"]`);
        segments.push(m[0].startsWith("[") && !m[0].startsWith('["') ? Number(m[1]) : m[0].startsWith('["') ? (JSON.parse(`"${m[1]}"`) as string) : m[1]!);
        rest = rest.slice(m[0].length);
    }
    return { key: head[0], path: segments, text: setting.slice(eq + 1), typed: setting };
}

/** A path value as `pulumi config set --path` stores it: booleans and integers typed, JSON lists and objects decoded. */
function pathValue(s: Setting): unknown {
    const t = s.text;
    if (t === "true" || t === "false") return t === "true";
    if (/^-?\d+$/.test(t) && String(Number(t)) === t) return Number(t);
    if (/^\s*[[{]/.test(t)) {
        try {
            return JSON.parse(t);
        } catch (e) {
            throw new PlanConfigError(`--set ${s.typed}: ${fullKey(s.key)}${s.typed.slice(s.key.length, s.typed.indexOf("="))} is not valid JSON: ${(e as Error).message} in the text ${JSON.stringify(t)}`);
        }
    }
    return t;
}

/** `current` (the key's value so far) with `s` applied. */
function applySetting(current: unknown, s: Setting): unknown {
    if (s.path.length === 0) {
        if (isPlainObject(current) && /^\s*\{/.test(s.text)) {
            try {
                return mergeValues(current, JSON.parse(s.text));
            } catch {
                // not JSON: the program reports it, naming the key and quoting the text
            }
        }
        return s.text;
    }
    let root = current;
    if (typeof root === "string") {
        try {
            root = JSON.parse(root);
        } catch {
            throw new PlanConfigError(`--set ${s.typed}: ${fullKey(s.key)} holds the text ${JSON.stringify(root)}, which has no fields; set the whole key instead`);
        }
    }
    if (isPlainObject(root) && "secure" in root) throw new PlanConfigError(`--set ${s.typed}: ${fullKey(s.key)} is a secret; set it with pulumi config set --secret`);
    const container = (segment: string | number) => (typeof segment === "number" ? [] : {});
    root = root === undefined || root === null ? container(s.path[0]!) : structuredClone(root);
    let node: any = root;
    let where = fullKey(s.key);
    s.path.forEach((segment, i) => {
        const fits = typeof segment === "number" ? Array.isArray(node) : isPlainObject(node);
        if (!fits) {
            throw new PlanConfigError(`--set ${s.typed}: ${where} is ${Array.isArray(node) ? "a list" : isPlainObject(node) ? "an object" : JSON.stringify(node)}, so it has no ${typeof segment === "number" ? `item [${segment}]` : `field ${JSON.stringify(segment)}`}`);
        }
        if (typeof segment === "number" && segment > node.length) {
            throw new PlanConfigError(`--set ${s.typed}: ${where} has ${node.length} item(s); set [${node.length}] to add one`);
        }
        where += typeof segment === "number" ? `[${segment}]` : `.${segment}`;
        if (i === s.path.length - 1) node[segment] = pathValue(s);
        else {
            if (node[segment] === undefined || node[segment] === null) node[segment] = container(s.path[i + 1]!);
            node = node[segment];
        }
    });
    return root;
}

/**
 * The config of `stack` in `root`, with `settings` (`key=value` / `key.path=value` strings, as `--set` takes them)
 * applied in order. Throws `PlanConfigError` naming the existing stacks when the stack file does not exist, or naming
 * a setting that cannot apply.
 */
export function planConfig(root: string, stack: string, settings: readonly string[] = []): PlanConfig {
    const stackFile = path.join(root, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(stackFile)) {
        throw new PlanConfigError(
            `no stack "${stack}": ${stackFile} does not exist (stacks here: ${stacksIn(root).join(", ") || "none"}); create it with pulumi stack init ${stack}, or pass --stack with one of those`,
        );
    }
    const values: Record<string, unknown> = {};
    for (const [key, decl] of Object.entries<any>(readYaml(path.join(root, "Pulumi.yaml")).config ?? {})) {
        if (decl?.default !== undefined) values[fullKey(key)] = decl.default;
    }
    for (const [key, value] of Object.entries(readYaml(stackFile).config ?? {})) values[fullKey(key)] = value;
    for (const s of settings.map(parseSetting)) values[fullKey(s.key)] = applySetting(values[fullKey(s.key)], s);
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
