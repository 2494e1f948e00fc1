/**
 * Value checks shared by the stack config schema and the components' argument checks, written once.
 *
 * Each `*Problem` function says what is wrong with a value and what is allowed, or returns `undefined`: the stack
 * config (zod) reports it under the key's path, components throw it as `<owner> args.<field>: <problem>` (see
 * {@link check}) before creating any resource.
 */

/** Where an argument comes from, e.g. `Monitoring "platform-monitoring"`. */
export type ArgsOwner = string;

/** What is wrong with a value, or `undefined` when it is fine. */
export type Problem<T> = (value: T) => string | undefined;

/** The error every component argument check throws: `<owner> args.<field>: <detail>`. */
export function argsError(owner: ArgsOwner, field: string, detail: string): Error {
    return new Error(`${owner} args.${field}: ${detail}`);
}

/** Throws `<owner> args.<field>: <problem>` when `problem` finds one in `value`. */
export function check<T>(owner: ArgsOwner, field: string, value: T, problem: Problem<T>): void {
    const found = problem(value);
    if (found !== undefined) throw argsError(owner, field, found);
}

const quote = (value: unknown): string => JSON.stringify(value);

/**
 * A Pulumi config key name, the `<name>` of `gpu-serverless:<name>`, as the config names secret keys (a model's
 * `hfTokenSecret`, the activator's `apiKeySecrets`, the image cache's credential secrets).
 */
export const PULUMI_KEY = /^[A-Za-z][A-Za-z0-9_-]*$/;

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A Kubernetes object name that must be an RFC 1123 label (namespaces; we hold StorageClass names to it too). */
export const dnsLabelProblem: Problem<string> = (value) =>
    typeof value !== "string" || value.length > 63 || !dnsLabel.test(value)
        ? `${quote(value)} is not a valid name (lowercase letters, digits and "-", at most 63)`
        : undefined;

// Prometheus' own duration syntax (units in descending order, each at most once).
const promDuration = /^(0|(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?)$/;

/** A Prometheus duration such as `15d` or `12h`; `0` would disable retention, so it is refused. */
export const prometheusDurationProblem: Problem<string> = (value) =>
    typeof value !== "string" || value === "" || value === "0" || !promDuration.test(value)
        ? `${quote(value)} is not a Prometheus duration; use e.g. "15d" or "12h"`
        : undefined;

const binaryQuantity = /^[1-9]\d*(Mi|Gi|Ti)$/;

/** A storage size as a positive binary Kubernetes quantity (`50Gi`, `1Ti`). */
export const storageSizeProblem: Problem<string> = (value) =>
    typeof value !== "string" || !binaryQuantity.test(value) ? `${quote(value)} is not a storage size; use e.g. "50Gi" or "1Ti"` : undefined;

// Kubernetes label syntax: a name of at most 63 characters, optionally behind a DNS subdomain prefix and "/".
const labelName = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A label (or taint) key as Kubernetes accepts it: `[prefix/]name`. */
export const labelKeyProblem: Problem<string> = (key) => {
    if (typeof key === "string") {
        const slash = key.lastIndexOf("/");
        const prefix = slash < 0 ? undefined : key.slice(0, slash);
        if (labelName.test(key.slice(slash + 1)) && (prefix === undefined || (prefix.length <= 253 && dnsSubdomain.test(prefix)))) {
            return undefined;
        }
    }
    return "is not a valid label key ([dns-prefix/]name, name at most 63 characters)";
};

/** A label value as Kubernetes accepts it (empty included). */
export const labelValueProblem: Problem<string> = (value) =>
    typeof value === "string" && (value === "" || labelName.test(value))
        ? undefined
        : `${quote(value)} is not a valid label value (at most 63 of A-Z a-z 0-9 - _ ., letter or digit first and last)`;

export const checkDnsLabel = (owner: ArgsOwner, field: string, value: string): void => check(owner, field, value, dnsLabelProblem);
export const checkPrometheusDuration = (owner: ArgsOwner, field: string, value: string): void =>
    check(owner, field, value, prometheusDurationProblem);
export const checkStorageSize = (owner: ArgsOwner, field: string, value: string): void => check(owner, field, value, storageSizeProblem);
