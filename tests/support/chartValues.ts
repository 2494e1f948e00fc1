/**
 * Check the Helm values we set against the chart's real default values (`../shared/upstream/charts/<chart>/`).
 *
 * Helm silently ignores a misspelt key, so a value that does nothing passes `pulumi up`; every key path we set must
 * therefore exist in the chart's values.yaml. Free-form maps (labels, selectors, extra args...) are not descended,
 * nor is anything under a key whose default is an empty map or null (the chart passes it through as is). Where the
 * chart ships a values.schema.json (cert-manager), the values are also validated against it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import Ajv from "ajv";
import * as YAML from "yaml";
import { upstreamDir } from "./crds";

/** Keys whose values are maps or lists the chart hands to Kubernetes as they are. */
export const freeFormKeys = new Set([
    "nodeSelector",
    "labels",
    "annotations",
    "extraArgs",
    "podAnnotations",
    "podLabels",
    "commonLabels",
    "additionalLabels",
    "tolerations",
    "affinity",
    "resources",
    "env",
    "extraEnv",
    "securityContext",
    "podSecurityContext",
    "containerSecurityContext",
]);

function isMap(v: unknown): v is Record<string, unknown> {
    return v !== null && typeof v === "object" && !Array.isArray(v);
}

export function chartDefaults(chart: string): Record<string, unknown> {
    const file = path.join(upstreamDir, "charts", chart, "values.yaml");
    return (YAML.parse(fs.readFileSync(file, "utf8")) ?? {}) as Record<string, unknown>;
}

/** Version of the chart we hold upstream data for (Chart.yaml `version`). */
export function chartVersion(chart: string): string {
    const file = path.join(upstreamDir, "charts", chart, "Chart.yaml");
    return String(YAML.parse(fs.readFileSync(file, "utf8")).version);
}

/** Names of the subcharts a chart depends on (Chart.yaml `dependencies`): Helm hands `<name>.*` values to them. */
export function subchartNames(chart: string): string[] {
    const file = path.join(upstreamDir, "charts", chart, "Chart.yaml");
    return ((YAML.parse(fs.readFileSync(file, "utf8")).dependencies ?? []) as Array<{ name: string }>).map((d) => d.name);
}

/** Key paths in `values` that the chart does not declare, e.g. `["controller.replicaCount"]`; empty when all exist. */
export function unknownValuePaths(chart: string, values: Record<string, unknown>): string[] {
    const unknown: string[] = [];
    const walk = (ours: Record<string, unknown>, theirs: Record<string, unknown>, prefix: string): void => {
        for (const [key, value] of Object.entries(ours)) {
            const keyPath = prefix ? `${prefix}.${key}` : key;
            if (!(key in theirs)) {
                unknown.push(keyPath);
                continue;
            }
            const upstream = theirs[key];
            if (freeFormKeys.has(key) || !isMap(value) || !isMap(upstream) || Object.keys(upstream).length === 0) {
                continue;
            }
            walk(value, upstream, keyPath);
        }
    };
    walk(values, chartDefaults(chart), "");
    return unknown;
}

/** Errors of `values` against the chart's values.schema.json, or `[]` when it ships none. */
export function chartSchemaErrors(chart: string, values: Record<string, unknown>): string[] {
    const file = path.join(upstreamDir, "charts", chart, "values.schema.json");
    if (!fs.existsSync(file)) return [];
    const validate = new Ajv({ strict: false, allErrors: true }).compile(JSON.parse(fs.readFileSync(file, "utf8")));
    if (validate(values)) return [];
    return (validate.errors ?? []).map((e) => `${e.instancePath || "/"}: ${e.message}`);
}
