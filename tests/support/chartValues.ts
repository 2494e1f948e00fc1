/**
 * Check the Helm values we set against the chart's real default values, carried in `tests/upstream-facts/charts/`
 * (generated from `../shared/upstream/charts/<chart>/`, see ./upstreamFacts.ts). Charts held: cert-manager,
 * cluster-autoscaler, dcgm-exporter, eks-node-monitoring-agent, karpenter, keda, kserve-crd, kserve-resources,
 * kserve-runtime-configs, kube-prometheus-stack, kube-state-metrics, nvidia-device-plugin.
 *
 * Helm silently ignores a misspelt key, so a value that does nothing passes `pulumi up`; every key path we set must
 * therefore exist in the chart's values.yaml. Free-form maps (labels, selectors, extra args...) are not descended,
 * nor is anything under a key whose default is an empty map or null (the chart passes it through as is). Where the
 * chart ships a JSON schema, the values are also validated against it: cert-manager's `values.schema.json`, and the
 * EKS node monitoring agent's `configuration.schema.json` (what the add-on's `configurationValues` accept).
 *
 * API (`chart` is the folder name above; an unknown one throws naming `npm run upstream:generate`):
 * - `chartDefaults(chart)`: values.yaml parsed (a fresh copy, `{}` for an empty file).
 * - `chartMetadata(chart)`: Chart.yaml's `{ apiVersion, name, version, appVersion?, kubeVersion?, type?, dependencies? }`;
 *   `chartVersion(chart)`, `subchartNames(chart)` from it. Karpenter's reads 1.13.0 at tag v1.14.1 (see its sources).
 * - `chartSources(chart)`: the repository, path, tag, commit and SOURCES.md release note of each file read.
 * - `unknownValuePaths(chart, values)`: key paths the chart does not declare; `chartSchemaErrors(chart, values)`.
 * - `chartNamesWithFacts()`: every chart held.
 */
import Ajv from "ajv";
import { factFiles, readFacts, type FactSource, type Facts } from "./upstreamFacts";

export interface ChartMetadata {
    apiVersion: string;
    name: string;
    version: string;
    appVersion?: string;
    kubeVersion?: string;
    type?: string;
    dependencies?: Array<{ name: string; version?: string; repository?: string; alias?: string; condition?: string }>;
}

interface ChartFacts extends Facts {
    chart: ChartMetadata;
    values: Record<string, unknown>;
    valuesSchema?: Record<string, unknown>;
    valuesSchemaFile?: string;
}

const chartFacts = (chart: string): ChartFacts => readFacts<ChartFacts>(`charts/${chart}.json`);

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
    return structuredClone(chartFacts(chart).values);
}

export function chartMetadata(chart: string): ChartMetadata {
    return chartFacts(chart).chart;
}

/** Version of the chart we hold upstream data for (Chart.yaml `version`). */
export function chartVersion(chart: string): string {
    return String(chartFacts(chart).chart.version);
}

/** Names of the subcharts a chart depends on (Chart.yaml `dependencies`): Helm hands `<name>.*` values to them. */
export function subchartNames(chart: string): string[] {
    return (chartFacts(chart).chart.dependencies ?? []).map((d) => d.name);
}

export function chartSources(chart: string): FactSource[] {
    return chartFacts(chart).sources;
}

export function chartNamesWithFacts(): string[] {
    return factFiles("charts").map((f) => f.replace(/\.json$/, ""));
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

/** Errors of `values` against the chart's JSON schema (see above), or `[]` when it ships none. */
export function chartSchemaErrors(chart: string, values: Record<string, unknown>): string[] {
    const schema = chartFacts(chart).valuesSchema;
    if (!schema) return [];
    const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
    if (validate(values)) return [];
    return (validate.errors ?? []).map((e) => `${e.instancePath || "/"}: ${e.message}`);
}
