/**
 * The upstream facts the unit tests need, computed from the upstream reference files (`../shared/upstream`, listed in
 * its SOURCES.md): the data, not upstream's prose. Pure: reads the upstream folder, returns file contents.
 *
 * Output, relative to `tests/upstream-facts/` (JSON, indented eight levels deep, one trailing newline):
 * - `crds/<name>.json`: `{ generatedBy, sources, group, kind, plural, scope, versions: [{ name, storage,
 *   openAPIV3Schema }] }` for each CRD in `crds/<name>.yaml`; served versions only, `description`s stripped.
 * - `charts/<chart>.json`: `{ generatedBy, sources, chart: { apiVersion, name, version, appVersion?, kubeVersion?,
 *   type?, dependencies? }, values, valuesSchema?, valuesSchemaFile? }`: Chart.yaml's fields, values.yaml parsed (comments
 *   gone; an empty file gives `{}`), and the chart's JSON schema if it ships one (cert-manager's `values.schema.json`,
 *   the EKS node monitoring agent's `configuration.schema.json`), `description`s stripped.
 * - `manifests/<name>.json`: `{ generatedBy, sources, objects }`, the Kubernetes objects of `manifests/<name>.y(a)ml`;
 *   the KServe `inferenceservice-config` ConfigMap has its `data` values parsed from JSON and its `_example` (prose)
 *   dropped, plus `documentedDeploymentModes`, the modes its `_example` names as supported.
 * `sources`: one `{ file, repository, path, tag, commit, release }` per upstream file read, as SOURCES.md lists it
 * (`release`: its "chart version / app version" column). Throws naming the file when an upstream file has no
 * SOURCES.md row or does not parse.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";

export const generatedBy = "scripts/upstream/generate.ts (npm run upstream:generate) from ../shared/upstream; do not edit";

export interface Source {
    /** Local path under `../shared/upstream`, e.g. `crds/keda-scaledobjects.yaml`. */
    file: string;
    repository: string;
    path: string;
    tag: string;
    /** Abbreviated commit of the tag, as SOURCES.md gives it. */
    commit: string;
    release: string;
}

/** SOURCES.md's first table: local path → source. Rows look like `| crds/x.yaml | owner/repo | path | tag (commit) | release |`. */
export function parseSources(markdown: string): Map<string, Source> {
    const rows = new Map<string, Source>();
    for (const line of markdown.split("\n")) {
        const cells = line.split("|").map((c) => c.trim());
        // ["", file, repository, path, "tag (commit)", release, ...]
        if (cells.length < 7 || !/^(crds|charts|manifests)\//.test(cells[1])) continue;
        const m = /^(\S+) \(([0-9a-f]{7,40})\)$/.exec(cells[4]);
        if (!m) throw new Error(`SOURCES.md row ${cells[1]}: "${cells[4]}" is not "TAG (COMMIT)"`);
        rows.set(cells[1], { file: cells[1], repository: cells[2], path: cells[3], tag: m[1], commit: m[2], release: cells[5] });
    }
    return rows;
}

/** Keywords whose value is a map of name → schema (the names are data: a property may be called `description`). */
const schemaMaps = new Set(["properties", "patternProperties", "definitions", "$defs", "dependentSchemas"]);
/** Keywords whose value is a schema or a list of schemas. */
const subSchemas = new Set(["items", "additionalProperties", "additionalItems", "not", "if", "then", "else", "contains", "propertyNames", "allOf", "anyOf", "oneOf", "prefixItems", "unevaluatedProperties", "unevaluatedItems"]);

/** A JSON schema (or CRD openAPIV3Schema) without its `description` keywords; everything else, defaults included, kept. */
export function stripDescriptions(schema: unknown): unknown {
    if (Array.isArray(schema)) return schema.map(stripDescriptions);
    if (schema === null || typeof schema !== "object") return schema;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(schema)) {
        if (key === "description") continue;
        if (schemaMaps.has(key) && value !== null && typeof value === "object" && !Array.isArray(value)) {
            out[key] = Object.fromEntries(Object.entries(value).map(([name, s]) => [name, stripDescriptions(s)]));
        } else if (subSchemas.has(key)) {
            out[key] = stripDescriptions(value);
        } else {
            out[key] = value;
        }
    }
    return out;
}

function yamlDocuments(file: string): any[] {
    const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
    for (const d of docs) if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0].message}`);
    return docs.map((d) => d.toJS()).filter((o) => o !== null && o !== undefined);
}

/**
 * JSON indented by two spaces down to `depth` levels, each value below that on one line: a CRD's fields one per line
 * (`versions[].openAPIV3Schema.properties.spec.properties.<field>`), the file about 1/3 the size of full indentation.
 */
function layout(value: unknown, depth = 8, indent = ""): string {
    if (depth === 0 || value === null || typeof value !== "object" || Object.keys(value).length === 0) return JSON.stringify(value);
    const inner = indent + "  ";
    if (Array.isArray(value)) return `[\n${value.map((v) => inner + layout(v, depth - 1, inner)).join(",\n")}\n${indent}]`;
    const entries = Object.entries(value).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${layout(v, depth - 1, inner)}`);
    return `{\n${entries.join(",\n")}\n${indent}}`;
}

function json(value: unknown): string {
    return layout(value) + "\n";
}

function crdFacts(file: string, source: Source): unknown {
    const crds = yamlDocuments(file).filter((o) => o.kind === "CustomResourceDefinition");
    if (crds.length !== 1) throw new Error(`${file}: expected one CustomResourceDefinition, found ${crds.length}`);
    const { spec } = crds[0];
    return {
        generatedBy,
        sources: [source],
        group: spec.group,
        kind: spec.names.kind,
        plural: spec.names.plural,
        scope: spec.scope,
        versions: (spec.versions as any[])
            .filter((v) => v.served !== false)
            .map((v) => ({ name: v.name, storage: v.storage === true, openAPIV3Schema: stripDescriptions(v.schema?.openAPIV3Schema ?? {}) })),
    };
}

const chartFields = ["apiVersion", "name", "version", "appVersion", "kubeVersion", "type"] as const;
const schemaFiles = ["values.schema.json", "configuration.schema.json"];

function chartFacts(upstream: string, chart: string, sourceOf: (file: string) => Source): unknown {
    const dir = path.join(upstream, "charts", chart);
    const chartYaml = YAML.parse(fs.readFileSync(path.join(dir, "Chart.yaml"), "utf8"));
    const meta: Record<string, unknown> = {};
    for (const k of chartFields) if (chartYaml[k] !== undefined) meta[k] = chartYaml[k];
    if (chartYaml.dependencies) {
        meta.dependencies = (chartYaml.dependencies as any[]).map((d) =>
            Object.fromEntries(["name", "version", "repository", "alias", "condition"].filter((k) => d[k] !== undefined).map((k) => [k, d[k]])),
        );
    }
    const sources = [sourceOf(`charts/${chart}/Chart.yaml`), sourceOf(`charts/${chart}/values.yaml`)];
    const facts: Record<string, unknown> = { generatedBy, sources, chart: meta, values: YAML.parse(fs.readFileSync(path.join(dir, "values.yaml"), "utf8")) ?? {} };
    const schemaFile = schemaFiles.find((f) => fs.existsSync(path.join(dir, f)));
    if (schemaFile) {
        sources.push(sourceOf(`charts/${chart}/${schemaFile}`));
        facts.valuesSchemaFile = schemaFile;
        facts.valuesSchema = stripDescriptions(JSON.parse(fs.readFileSync(path.join(dir, schemaFile), "utf8")));
    }
    const unread = fs.readdirSync(dir).filter((f) => !["Chart.yaml", "values.yaml", ...schemaFiles].includes(f));
    if (unread.length > 0) throw new Error(`charts/${chart}: files the generator does not read: ${unread.join(", ")}`);
    return facts;
}

/** `inferenceservice-config`: data parsed from JSON, `_example` (upstream's commented example) reduced to the modes it names. */
function inferenceServiceConfigFacts(objects: any[], file: string): Record<string, unknown> {
    const [cm] = objects;
    const example: string = cm.data._example ?? "";
    const m = /The supported values are\s+#\s+(\w+) and (\w+)\./.exec(example);
    if (!m) throw new Error(`${file}: _example no longer says "The supported values are X and Y." for defaultDeploymentMode`);
    const data: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(cm.data as Record<string, string>)) {
        if (key === "_example") continue;
        try {
            data[key] = JSON.parse(value);
        } catch (e) {
            throw new Error(`${file}: data.${key} is not JSON (${(e as Error).message})`);
        }
    }
    return { objects: [{ apiVersion: cm.apiVersion, kind: cm.kind, metadata: cm.metadata, data }], documentedDeploymentModes: [m[1], m[2]] };
}

/** Every generated file, path relative to `tests/upstream-facts/` → content. */
export function generateFacts(upstream: string): Map<string, string> {
    const sources = parseSources(fs.readFileSync(path.join(upstream, "SOURCES.md"), "utf8"));
    const sourceOf = (file: string): Source => {
        const s = sources.get(file);
        if (!s) throw new Error(`${file}: no row in ${path.join(upstream, "SOURCES.md")}`);
        return s;
    };
    const out = new Map<string, string>();
    for (const f of fs.readdirSync(path.join(upstream, "crds")).sort()) {
        if (!/\.ya?ml$/.test(f)) continue;
        out.set(`crds/${f.replace(/\.ya?ml$/, ".json")}`, json(crdFacts(path.join(upstream, "crds", f), sourceOf(`crds/${f}`))));
    }
    for (const chart of fs.readdirSync(path.join(upstream, "charts")).sort()) {
        out.set(`charts/${chart}.json`, json(chartFacts(upstream, chart, sourceOf)));
    }
    for (const f of fs.readdirSync(path.join(upstream, "manifests")).sort()) {
        if (!/\.ya?ml$/.test(f)) continue;
        const file = path.join(upstream, "manifests", f);
        const objects = yamlDocuments(file);
        const body = f === "kserve-inferenceservice-config-configmap.yaml" ? inferenceServiceConfigFacts(objects, file) : { objects };
        out.set(`manifests/${f.replace(/\.ya?ml$/, ".json")}`, json({ generatedBy, sources: [sourceOf(`manifests/${f}`)], ...body }));
    }
    return out;
}
