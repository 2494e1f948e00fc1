/**
 * Stack config → one validated, typed object, before any resource exists.
 *
 * Pulumi hands the program every `gpu-serverless:*` value as a string (structured values as JSON). `parseStackConfig`
 * decodes them, validates all keys at once with zod (platform keys from `./schema.ts`, model keys from `./models.ts`)
 * and throws one `StackConfigError` listing every problem as `gpu-serverless:<path>: <what is wrong; what is allowed>`.
 * Unknown keys are problems too, except secret keys a model names as its `hfTokenSecret`.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { checkModels, modelStackKeys } from "./models";
import { checkPlatform, platformKeys } from "./schema";

/** Namespace of our stack keys (the Pulumi project name). */
export const configNamespace = "gpu-serverless";

const stackKeys = { ...platformKeys, ...modelStackKeys };

const stackSchema = z.strictObject(stackKeys).superRefine((config, ctx) => {
    checkPlatform(config, ctx);
    checkModels(config, ctx);
});

/** The whole stack config, validated, every default filled in. */
export type StackConfig = z.output<typeof stackSchema>;

/** Every key the program reads, without the namespace. */
export const stackKeyNames: readonly string[] = Object.keys(stackKeys);

/** Thrown for an invalid stack config; `problems` holds one line per problem. A RunError prints without a stack trace. */
export class StackConfigError extends pulumi.RunError {
    constructor(readonly problems: readonly string[]) {
        super(`invalid stack config (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n  ${problems.join("\n  ")}`);
        this.name = "StackConfigError";
    }
}

/** `gpu-serverless:gpuNodeGroups[0].labels["example.com/team"]` */
export function keyPath(path: readonly PropertyKey[]): string {
    let out = configNamespace + ":";
    path.forEach((segment, i) => {
        if (typeof segment === "number") out += `[${segment}]`;
        else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(String(segment))) out += i === 0 ? String(segment) : `.${String(segment)}`;
        else out += `[${JSON.stringify(String(segment))}]`;
    });
    return out;
}

/** The schema under defaults, optionals and transforms: is a plain string what the key holds? */
function holdsString(schema: z.ZodType): boolean {
    let def = schema.def as { type: string; innerType?: z.ZodType; in?: z.ZodType };
    while (def.innerType ?? def.in) {
        def = (def.innerType ?? def.in)!.def as typeof def;
    }
    return def.type === "string" || def.type === "enum";
}

/** A raw config string as the value the schema expects: strings as they are, anything else decoded from JSON. */
function decode(key: string, raw: string): unknown {
    const schema = (stackKeys as Record<string, z.ZodType>)[key];
    if (schema === undefined || holdsString(schema)) return raw;
    try {
        return JSON.parse(raw);
    } catch {
        return raw; // zod then reports the type it expected
    }
}

/** Secret key names the models reference (`models[i].hfTokenSecret`), read leniently before validation. */
function referencedSecrets(models: unknown): Map<string, number> {
    const refs = new Map<string, number>();
    if (Array.isArray(models)) {
        models.forEach((m, i) => {
            const name = (m as { hfTokenSecret?: unknown } | null)?.hfTokenSecret;
            if (typeof name === "string" && !refs.has(name)) refs.set(name, i);
        });
    }
    return refs;
}

/**
 * Validates the `gpu-serverless:*` entries of `raw` (keys of other namespaces, such as `aws:*`, are ignored).
 * Throws `StackConfigError` naming every problem.
 */
export function parseStackConfig(raw: Readonly<Record<string, string>>): StackConfig {
    const prefix = configNamespace + ":";
    const values: Record<string, unknown> = {};
    const unknown: string[] = [];
    for (const [fullKey, text] of Object.entries(raw)) {
        if (!fullKey.startsWith(prefix)) continue;
        const key = fullKey.slice(prefix.length);
        if (key in stackKeys) values[key] = decode(key, text);
        else unknown.push(key);
    }

    const problems: string[] = [];
    const secrets = referencedSecrets(values.models);
    for (const key of unknown) {
        if (!secrets.has(key)) problems.push(`${keyPath([key])}: unknown key; known keys: ${stackKeyNames.join(", ")}`);
    }
    for (const [name, model] of secrets) {
        if (!(prefix + name in raw)) {
            problems.push(`${keyPath(["models", model, "hfTokenSecret"])}: ${prefix}${name} is not set; run pulumi config set --secret ${name} <token>`);
        }
    }

    const result = stackSchema.safeParse(values);
    if (!result.success) {
        for (const issue of result.error.issues) {
            if (issue.code === "unrecognized_keys") {
                for (const key of issue.keys) problems.push(`${keyPath([...issue.path, key])}: ${issue.message}`);
            } else {
                problems.push(`${keyPath(issue.path)}: ${issue.message}`);
            }
        }
    }
    if (problems.length > 0 || !result.success) {
        throw new StackConfigError(problems);
    }
    return result.data;
}

/** The running stack's config, validated (see {@link parseStackConfig}). */
export function loadStackConfig(): StackConfig {
    return parseStackConfig(pulumi.runtime.allConfig());
}
