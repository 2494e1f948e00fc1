/**
 * Stack config → one validated, typed object, before any resource exists.
 *
 * Pulumi hands the program every `gpu-serverless:*` value as a string (structured values as JSON). `parseStackConfig`
 * decodes them, validates all keys at once with zod (platform keys from `./schema.ts`, model keys from `./models.ts`)
 * and throws one `StackConfigError` listing every problem as `gpu-serverless:<path>: <what is wrong; what is allowed>`.
 * Unknown keys are problems too, except the secret keys the config names: a model's `hfTokenSecret`, the activator's
 * `apiKeySecrets`.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { alertStackKeys } from "./alerts";
import { goDurationSeconds } from "./coldStart";
import { withPathBudgets } from "./coldStartPath";
import { checkModels, modelStackKeys } from "./models";
import { checkPlatform, platformKeys } from "./schema";
import { registryCredentialProblem } from "./fastPath";

/** Namespace of our stack keys (the Pulumi project name). */
export const configNamespace = "gpu-serverless";

const stackKeys = { ...platformKeys, ...modelStackKeys, ...alertStackKeys };

const stackSchema = z
    .strictObject(stackKeys)
    .superRefine((config, ctx) => {
        checkPlatform(config, ctx);
        checkModels({ ...config, nodeProvisionSeconds: goDurationSeconds(config.clusterAutoscaler.maxNodeProvisionTime) }, ctx);
    })
    .transform((config) => {
        // A hold budget left to its default is the sum of the phases of the path this stack configures for the model
        // (config/coldStartPath.ts); under cluster-autoscaler it covers the node provisioning time the cluster allows.
        const nodeProvisionSeconds = goDurationSeconds(config.clusterAutoscaler.maxNodeProvisionTime);
        const models = config.models.map((m) => withPathBudgets(config, m, nodeProvisionSeconds));
        return { ...config, models };
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

/**
 * A raw config string as the value the schema expects: strings as they are, anything else decoded from JSON. Text
 * that is not JSON is kept as it is (zod then reports the type it expected), and `problem` names the JSON typo when it
 * was meant as a list or object (starts with `[` or `{`), quoting the text (at most 200 characters).
 */
function decode(key: string, raw: string): { value: unknown; problem?: string } {
    const schema = (stackKeys as Record<string, z.ZodType>)[key];
    if (schema === undefined || holdsString(schema)) return { value: raw };
    try {
        return { value: JSON.parse(raw) };
    } catch (e) {
        if (!/^\s*[[{]/.test(raw)) return { value: raw };
        const text = raw.length > 200 ? `${raw.slice(0, 200)}...` : raw;
        return { value: raw, problem: `${keyPath([key])}: is not valid JSON (${(e as Error).message}) in the text ${text}` };
    }
}

/** A secret config key the config names: where it is named, and how to set it. */
interface SecretReference {
    /** The config field that names it, e.g. `["models", 0, "hfTokenSecret"]`. */
    path: (string | number)[];
    /** The command that sets it: `pulumi config set --secret <name> <token>`, or with an API key generated on the spot. */
    set: (name: string) => string;
    /** Why the value cannot serve, or undefined. */
    problem?: (value: string) => string | undefined;
}

// Clients send an API key in an HTTP header: visible ASCII, no spaces; long enough not to be guessed.
const API_KEY = /^[\x21-\x7e]{16,}$/;
const apiKeyReference = (j: number): SecretReference => ({
    path: ["activator", "apiKeySecrets", j],
    set: (name) => `openssl rand -hex 32 | pulumi config set --secret ${name}`,
    problem: (value) =>
        API_KEY.test(value)
            ? undefined
            : "must be at least 16 visible ASCII characters without spaces (clients send it in a header); create one with openssl rand -hex 32",
});

/** Why `value` is not a GCP service-account key file, or undefined (never quoting it: it is a secret). */
function gcsKeyProblem(value: string): string | undefined {
    try {
        const key = JSON.parse(value) as { type?: unknown; private_key?: unknown };
        if (key.type === "service_account" && typeof key.private_key === "string") return undefined;
    } catch {
        // reported below
    }
    return 'must be a GCP service-account key file (JSON with "type": "service_account"), as gcloud iam service-accounts keys create writes it';
}

/** Secret key names the config references (`models[i].hfTokenSecret`, `activator.apiKeySecrets[j]`), read leniently before validation. */
function referencedSecrets(values: Record<string, unknown>): Map<string, SecretReference> {
    const refs = new Map<string, SecretReference>();
    const add = (name: unknown, ref: SecretReference) => {
        if (typeof name === "string" && !refs.has(name)) refs.set(name, ref);
    };
    if (Array.isArray(values.models)) {
        values.models.forEach((m, i) => {
            add((m as { hfTokenSecret?: unknown } | null)?.hfTokenSecret, {
                path: ["models", i, "hfTokenSecret"],
                set: (name) => `pulumi config set --secret ${name} <token>`,
            });
            add((m as { gcsCredentialsSecret?: unknown } | null)?.gcsCredentialsSecret, {
                path: ["models", i, "gcsCredentialsSecret"],
                set: (name) => `pulumi config set --secret ${name} < key.json`,
                problem: gcsKeyProblem,
            });
        });
    }
    const imageCache = values.imageCache as Record<string, unknown> | null | undefined;
    for (const key of ["dockerHubCredentialsSecret", "githubCredentialsSecret"]) {
        add(imageCache?.[key], {
            path: ["imageCache", key],
            set: (name) => `pulumi config set --secret ${name} '{"username": "<user>", "accessToken": "<token>"}'`,
            problem: registryCredentialProblem,
        });
    }
    const apiKeySecrets = (values.activator as { apiKeySecrets?: unknown } | null | undefined)?.apiKeySecrets;
    if (Array.isArray(apiKeySecrets)) apiKeySecrets.forEach((name, j) => add(name, apiKeyReference(j)));
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
    const problems: string[] = [];
    const undecodable = new Set<PropertyKey>();
    for (const [fullKey, text] of Object.entries(raw)) {
        if (!fullKey.startsWith(prefix)) continue;
        const key = fullKey.slice(prefix.length);
        if (!(key in stackKeys)) {
            unknown.push(key);
            continue;
        }
        const decoded = decode(key, text);
        values[key] = decoded.value;
        if (decoded.problem !== undefined) {
            problems.push(decoded.problem);
            undecodable.add(key);
        }
    }

    const secrets = referencedSecrets(values);
    for (const key of unknown) {
        if (!secrets.has(key)) problems.push(`${keyPath([key])}: unknown key; known keys: ${stackKeyNames.join(", ")}`);
    }
    for (const [name, ref] of secrets) {
        const value = raw[prefix + name];
        // Never the value in a message: it is a secret.
        const problem = value === undefined ? `is not set; run ${ref.set(name)}` : ref.problem?.(value);
        if (problem !== undefined) problems.push(`${keyPath(ref.path)}: ${prefix}${name} ${problem}`);
    }

    const result = stackSchema.safeParse(values);
    if (!result.success) {
        for (const issue of result.error.issues) {
            if (undecodable.has(issue.path[0]!)) continue; // reported as a JSON typo above
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
