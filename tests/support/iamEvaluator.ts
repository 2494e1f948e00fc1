/**
 * A small evaluator of identity-based IAM policies, enough to check ours against the API calls their consumers make.
 *
 * Rules encoded (AWS IAM User Guide, "Policy evaluation logic" and "IAM JSON policy elements: Condition operators"):
 * - an explicit `Deny` that matches wins; otherwise any matching `Allow` allows; otherwise the request is implicitly
 *   denied;
 * - a statement matches when its `Action` matches the request's action (case-insensitive, `*` any run of characters,
 *   `?` one character), its `Resource` matches the resource ARN (case-sensitive, same wildcards) and every condition
 *   holds;
 * - conditions: every operator must hold, within an operator every key must hold, and a key holds when the request's
 *   value matches any of the listed values; condition key names are case-insensitive; a key missing from the request
 *   makes the condition false, except for the `...IfExists` operators, where it makes it true.
 * Operators supported: `StringEquals`, `StringLike` and their `IfExists` forms. Any other operator, or `NotAction`,
 * `NotResource`, throws: a policy using them must not pass a check that does not understand them.
 */
import type { PolicyDocument, PolicyStatement } from "../../components/domain/iamPolicies";

/** One authorisation request: an IAM action (`s3:GetObject`), a resource ARN (or `*`) and the request's context keys. */
export interface IamRequest {
    action: string;
    resource: string;
    context?: Record<string, string>;
}

export type IamDecision = "allow" | "implicitDeny" | "explicitDeny";

/** `pattern` with IAM's `*` and `?` wildcards as a regular expression over the whole string. */
function wildcard(pattern: string, caseInsensitive: boolean): RegExp {
    const body = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
    return new RegExp(`^${body}$`, caseInsensitive ? "is" : "s");
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function conditionHolds(operator: string, key: string, values: string[], context: Record<string, string>): boolean {
    const ifExists = operator.endsWith("IfExists");
    const base = ifExists ? operator.slice(0, -"IfExists".length) : operator;
    const found = Object.keys(context).find((k) => k.toLowerCase() === key.toLowerCase());
    if (found === undefined) return ifExists;
    const actual = context[found]!;
    if (base === "StringEquals") return values.includes(actual);
    if (base === "StringLike") return values.some((v) => wildcard(v, false).test(actual));
    throw new Error(`condition operator ${operator} is not supported by this evaluator`);
}

/** Whether `statement` applies to `request` (its Effect aside). */
function statementMatches(statement: PolicyStatement, request: IamRequest): boolean {
    const raw = statement as unknown as Record<string, unknown>;
    for (const unsupported of ["NotAction", "NotResource", "NotPrincipal"]) {
        if (unsupported in raw) throw new Error(`${unsupported} is not supported by this evaluator`);
    }
    if (!list(statement.Action).some((a) => wildcard(a, true).test(request.action))) return false;
    if (!list(statement.Resource).some((r) => wildcard(r, false).test(request.resource))) return false;
    const context = request.context ?? {};
    return Object.entries(statement.Condition ?? {}).every(([operator, keys]) =>
        Object.entries(keys).every(([key, values]) => conditionHolds(operator, key, list(values), context)),
    );
}

/** The decision of `policy` on `request`. */
export function evaluate(policy: PolicyDocument, request: IamRequest): IamDecision {
    const matching = policy.Statement.filter((s) => statementMatches(s, request));
    if (matching.some((s) => s.Effect === "Deny")) return "explicitDeny";
    return matching.some((s) => s.Effect === "Allow") ? "allow" : "implicitDeny";
}

/** Every action an `Allow` statement of `policy` names, as written (wildcards kept). */
export function allowedActions(policy: PolicyDocument): string[] {
    return policy.Statement.filter((s) => s.Effect === "Allow").flatMap((s) => list(s.Action));
}
