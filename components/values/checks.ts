/**
 * Argument checks shared by the add-on components. Each throws before any resource is created, with a message that
 * names the component, the argument and what is allowed.
 */

/** Where an argument comes from, e.g. `Monitoring "platform-monitoring"`. */
export type ArgsOwner = string;

/** The error every check throws: `<owner> args.<field>: <detail>`. */
export function argsError(owner: ArgsOwner, field: string, detail: string): Error {
    return new Error(`${owner} args.${field}: ${detail}`);
}

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A Kubernetes object name that must be an RFC 1123 label (namespaces; we hold StorageClass names to it too). */
export function checkDnsLabel(owner: ArgsOwner, field: string, value: string): void {
    if (typeof value !== "string" || value.length > 63 || !dnsLabel.test(value)) {
        throw argsError(owner, field, `${JSON.stringify(value)} is not a valid name (lowercase letters, digits and "-", at most 63)`);
    }
}

// Prometheus' own duration syntax (units in descending order, each at most once).
const promDuration = /^(0|(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?)$/;

/** A Prometheus duration such as `15d` or `12h`; `0` would disable retention, so it is refused. */
export function checkPrometheusDuration(owner: ArgsOwner, field: string, value: string): void {
    if (value === "" || value === "0" || !promDuration.test(value)) {
        throw argsError(owner, field, `${JSON.stringify(value)} is not a Prometheus duration; use e.g. "15d" or "12h"`);
    }
}

const binaryQuantity = /^[1-9]\d*(Mi|Gi|Ti)$/;

/** A storage size as a positive binary Kubernetes quantity (`50Gi`, `1Ti`). */
export function checkStorageSize(owner: ArgsOwner, field: string, value: string): void {
    if (!binaryQuantity.test(value)) {
        throw argsError(owner, field, `${JSON.stringify(value)} is not a storage size; use e.g. "50Gi" or "1Ti"`);
    }
}
