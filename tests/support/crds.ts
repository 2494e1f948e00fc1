/**
 * Validate custom resources against the real upstream CRDs: their served versions' `openAPIV3Schema`s, carried in
 * `tests/upstream-facts/crds/` (generated from `../shared/upstream/crds/`, see ./upstreamFacts.ts). Every CRD there is
 * known: KEDA (ScaledObject, ScaledJob, TriggerAuthentication, ClusterTriggerAuthentication), KServe
 * (InferenceService, ServingRuntime, ClusterServingRuntime, ClusterStorageContainer), prometheus-operator
 * (ServiceMonitor, PodMonitor, PrometheusRule), Karpenter (NodePool, NodeClaim, EC2NodeClass).
 *
 * The API server prunes unknown fields silently, which hides typos until a model misbehaves in production; here a
 * field the CRD does not declare is an error (as with `kubectl apply --validate=strict`), except under
 * `x-kubernetes-preserve-unknown-fields`. CEL rules (`x-kubernetes-validations`) are kept in the schema but not evaluated.
 *
 * API:
 * - `crdErrors({ apiVersion, kind, ... })`: `path: message` lines, empty when valid; throws for a kind with no CRD.
 * - `isCustomKind(apiVersion, kind)`, `knownCustomKinds()` (`group/version/Kind` keys, e.g. `karpenter.sh/v1/NodePool`).
 * - `crdSource(apiVersion, kind)`: the repository, path, tag and commit it came from.
 */
import Ajv, { ValidateFunction } from "ajv";
import { factFiles, readFacts, type FactSource, type Facts } from "./upstreamFacts";

interface CrdFacts extends Facts {
    group: string;
    kind: string;
    versions: Array<{ name: string; storage: boolean; openAPIV3Schema: Record<string, unknown> }>;
}

// CRD patterns are Go RE2: turn a leading inline `(?i)` (also after `^`, as in PrometheusRule's
// `queryOffset`/`partial_response_strategy`) into the JavaScript flag.
const goRegExp = (pattern: string, flags: string): RegExp => {
    const m = /^(\^?)\(\?i\)/.exec(pattern);
    return m ? new RegExp(m[1] + pattern.slice(m[0].length), flags + "i") : new RegExp(pattern, flags);
};
goRegExp.code = "goRegExp";
const ajv = new Ajv({ strict: false, allErrors: true, code: { regExp: goRegExp as any } });
ajv.addFormat("int32", { type: "number", validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isInteger(n) });
ajv.addFormat("date-time", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);

/** Close every object schema that lists its properties and does not preserve unknown fields. */
function strict(schema: any): any {
    if (Array.isArray(schema)) return schema.map(strict);
    if (schema === null || typeof schema !== "object") return schema;
    const out: any = {};
    for (const [k, v] of Object.entries(schema)) out[k] = strict(v);
    if (out.properties && out.additionalProperties === undefined && !out["x-kubernetes-preserve-unknown-fields"]) {
        out.additionalProperties = false;
    }
    return out;
}

let schemas: Map<string, { schema: Record<string, unknown>; source: FactSource }> | undefined;
const validators = new Map<string, ValidateFunction>();

function load(): Map<string, { schema: Record<string, unknown>; source: FactSource }> {
    const map = new Map<string, { schema: Record<string, unknown>; source: FactSource }>();
    for (const file of factFiles("crds")) {
        const crd = readFacts<CrdFacts>(`crds/${file}`);
        for (const v of crd.versions) map.set(`${crd.group}/${v.name}/${crd.kind}`, { schema: v.openAPIV3Schema, source: crd.sources[0] });
    }
    return map;
}

function entry(apiVersion: string, kind: string) {
    schemas ??= load();
    const found = schemas.get(`${apiVersion}/${kind}`);
    if (!found) throw new Error(`no upstream CRD for ${apiVersion} ${kind}; known: ${knownCustomKinds().join(", ")}`);
    return found;
}

/** Where the CRD of `apiVersion`/`kind` came from (repository, path, tag, commit); throws for unknown kinds. */
export function crdSource(apiVersion: string, kind: string): FactSource {
    return entry(apiVersion, kind).source;
}

/** `apiVersion`/`kind` pairs that have an upstream CRD, e.g. `keda.sh/v1alpha1/ScaledObject`. */
export function knownCustomKinds(): string[] {
    schemas ??= load();
    return [...schemas.keys()];
}

/** True when this apiVersion/kind is a CRD-defined kind we hold a schema for. */
export function isCustomKind(apiVersion: string, kind: string): boolean {
    schemas ??= load();
    return schemas.has(`${apiVersion}/${kind}`);
}

/** Compiled lazily: the InferenceService schema alone takes seconds to compile. */
function validatorFor(key: string): ValidateFunction | undefined {
    schemas ??= load();
    const schema = schemas.get(key)?.schema;
    if (!schema) return undefined;
    let validate = validators.get(key);
    if (!validate) {
        validate = ajv.compile(strict(schema));
        validators.set(key, validate);
    }
    return validate;
}

/** Errors of `object` against its CRD schema, as `path: message` lines; empty when valid. Throws for unknown kinds. */
export function crdErrors(object: { apiVersion: string; kind: string }): string[] {
    const validate = validatorFor(`${object.apiVersion}/${object.kind}`);
    if (!validate) {
        throw new Error(`no upstream CRD for ${object.apiVersion} ${object.kind}; known: ${knownCustomKinds().join(", ")}`);
    }
    if (validate(object)) return [];
    return (validate.errors ?? []).map((e) => `${e.instancePath || "/"}: ${e.message}${e.params ? " " + JSON.stringify(e.params) : ""}`);
}
