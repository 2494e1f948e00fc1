/**
 * Validate custom resources against the real upstream CRDs in `../shared/upstream/crds/` (see its SOURCES.md).
 *
 * The API server prunes unknown fields silently, which hides typos until a model misbehaves in production; here a
 * field the CRD does not declare is an error (as with `kubectl apply --validate=strict`), except under
 * `x-kubernetes-preserve-unknown-fields`. CEL rules (`x-kubernetes-validations`) are not evaluated.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import Ajv, { ValidateFunction } from "ajv";
import * as YAML from "yaml";

export const upstreamDir = path.resolve(__dirname, "../../../shared/upstream");
const crdDir = path.join(upstreamDir, "crds");

interface CrdVersion {
    name: string;
    schema: { openAPIV3Schema: Record<string, unknown> };
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

let schemas: Map<string, Record<string, unknown>> | undefined;
const validators = new Map<string, ValidateFunction>();

function load(): Map<string, Record<string, unknown>> {
    const map = new Map<string, Record<string, unknown>>();
    for (const file of fs.readdirSync(crdDir).filter((f) => f.endsWith(".yaml"))) {
        for (const doc of YAML.parseAllDocuments(fs.readFileSync(path.join(crdDir, file), "utf8"))) {
            const crd = doc.toJS();
            if (!crd || crd.kind !== "CustomResourceDefinition") continue;
            for (const v of crd.spec.versions as CrdVersion[]) {
                map.set(`${crd.spec.group}/${v.name}/${crd.spec.names.kind}`, v.schema.openAPIV3Schema);
            }
        }
    }
    return map;
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
    const schema = schemas.get(key);
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
