/**
 * The one deep merge of the project: Helm's rule for user values over chart defaults (helm/helm v3
 * `pkg/chartutil/coalesce.go`: maps merge key by key; a list or scalar replaces), used for chart values, the plan's
 * `--set key={...}` over the stack file and the tests' placement checks.
 */

/** A JSON/YAML object (not null, not a list). */
export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * `over` merged into `base`, as a new value (neither is changed): two objects merge key by key, recursively; anything
 * else in `over` (a list, a scalar, null) replaces what `base` has; an `undefined` in `over` (a key that is not
 * there) keeps `base`.
 */
export function mergeValues<T extends Record<string, unknown>>(base: T, over: Record<string, unknown>): T;
export function mergeValues(base: unknown, over: unknown): unknown;
export function mergeValues(base: unknown, over: unknown): unknown {
    if (over === undefined) return base;
    if (!isPlainObject(base) || !isPlainObject(over)) return over;
    const out: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(over)) out[key] = mergeValues(base[key], value);
    return out;
}
