/**
 * What `npm run plan` writes, computed from the recorded resources (pure; no Pulumi runtime needed):
 *
 * - `kubernetes/<component>.yaml`: every Kubernetes object the component creates directly, as the Kubernetes provider
 *   would apply it (multi-document YAML, registration order);
 * - `helm/<release>.yaml`: each Helm release with chart, repository, version, namespace and the values passed;
 * - `tree.txt`: every resource (AWS, EKS, Kubernetes, Helm, components) in its component tree; under each AWS resource
 *   and the EKS cluster, its settings (instance types and sizes, CIDRs, endpoint access, IAM policy documents parsed
 *   from their JSON, security group rules, tags); under `eks:index:Cluster`, the children pulumi-eks v4.3.0 creates for
 *   our arguments, from the model in ./eksModel.ts (marked `(modelled)`: the mock runtime never sees them).
 *
 * Secret values render as `[secret]`, leaf by leaf (a Secret's keys stay visible).
 */
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { eksClusterChildren, PULUMI_EKS_VERSION, type ModelledResource } from "./eksModel";
import type { PlannedResource } from "./runtime";

/** The text each secret value is replaced with. */
export const REDACTED = "[secret]";

export const HELM_RELEASE = "kubernetes:helm.sh/v3:Release";

/** Inputs with secrets replaced by {@link REDACTED} and Pulumi-internal keys dropped. */
export function plain(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(plain);
    if (value !== null && typeof value === "object") {
        const record = value as Record<string, unknown>;
        if (record[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig) return redacted(record.value);
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(record)) {
            if (k === "__defaults" || v === undefined) continue;
            out[k] = plain(v);
        }
        return out;
    }
    return value;
}

/** A secret value with its structure kept (map keys, list lengths are not secret) and every leaf replaced by {@link REDACTED}. */
function redacted(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(redacted);
    if (value !== null && typeof value === "object") {
        const record = value as Record<string, unknown>;
        if (record[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig) return redacted(record.value);
        return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined).map(([k, v]) => [k, redacted(v)]));
    }
    return REDACTED;
}

/** True for a Kubernetes object the provider applies (not a Helm release, not the provider itself). */
export function isKubernetesObject(r: PlannedResource): boolean {
    return r.custom && r.type.startsWith("kubernetes:") && r.type !== HELM_RELEASE && !!r.inputs.apiVersion && !!r.inputs.kind;
}

/** The Kubernetes object as applied: apiVersion, kind, metadata first, then the rest of the inputs. */
export function kubernetesObject(r: PlannedResource): Record<string, any> {
    const { apiVersion, kind, metadata, ...rest } = plain(r.inputs) as Record<string, any>;
    return { apiVersion, kind, metadata: metadata ?? {}, ...rest };
}

/** A Helm release's identity and values, as `helm install` would receive them. */
export function helmRelease(r: PlannedResource): Record<string, unknown> {
    const i = plain(r.inputs) as Record<string, any>;
    return {
        release: i.name ?? r.name,
        namespace: i.namespace,
        chart: i.chart,
        repository: i.repositoryOpts?.repo ?? (String(i.chart).startsWith("oci://") ? "(OCI, in chart)" : undefined),
        version: i.version,
        createNamespace: i.createNamespace,
        skipCrds: i.skipCrds,
        values: i.values ?? {},
    };
}

/** The nearest component (non-custom resource) above `r`, or undefined at the top of the stack. */
function componentOf(r: PlannedResource, byUrn: Map<string, PlannedResource>): PlannedResource | undefined {
    let parent = byUrn.get(r.parent);
    while (parent && parent.custom) parent = byUrn.get(parent.parent);
    return parent && parent.type !== "pulumi:pulumi:Stack" ? parent : undefined;
}

/** A short label for a resource in the tree: what a reviewer looks for. */
function describe(r: PlannedResource): string {
    if (isKubernetesObject(r)) {
        const m = r.inputs.metadata ?? {};
        return `${r.inputs.kind} ${m.namespace ? `${m.namespace}/` : ""}${m.name ?? "(auto-named)"}`;
    }
    if (r.type === HELM_RELEASE) {
        const h = helmRelease(r);
        return `helm ${h.chart}@${h.version} → ${h.namespace}/${h.release}`;
    }
    return "";
}

/** File name for a component: its name, with the type's last part when two components share a name. */
function fileStem(c: PlannedResource, all: PlannedResource[]): string {
    const sameName = all.filter((o) => !o.custom && o.name === c.name).length > 1;
    const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, "_");
    return sameName ? safe(`${c.name}.${c.type.split(":").pop()}`) : safe(c.name);
}

/** An input that holds an IAM policy (or other JSON document) as a string, parsed so the tree shows its statements. */
function parsedJson(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(parsedJson);
    if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, parsedJson(v)]));
    if (typeof value === "string" && /^\s*[{[]/.test(value)) {
        try {
            return JSON.parse(value);
        } catch {
            return value;
        }
    }
    return value;
}

/** True for a resource whose settings the tree shows: AWS resources and the EKS cluster component. */
export const showsSettings = (type: string): boolean => type.startsWith("aws:") || type === "eks:index:Cluster";

/** The settings of a resource as tree lines (YAML, JSON documents parsed), each prefixed with `indent` and `· `. */
export function settingsLines(inputs: Record<string, unknown>, indent: string): string[] {
    const settings = parsedJson(plain(inputs)) as Record<string, unknown>;
    if (Object.keys(settings).length === 0) return [];
    return YAML.stringify(settings, { lineWidth: 0, flowCollectionPadding: false })
        .trimEnd()
        .split("\n")
        .map((l) => `${indent}· ${l}`);
}

/** Every file of the plan, path (relative to the output folder) → content. `region` places the modelled OIDC issuer. */
export function renderPlan(resources: PlannedResource[], header: string, region = "us-west-2"): Map<string, string> {
    const files = new Map<string, string>();
    const byUrn = new Map(resources.map((r) => [r.urn, r]));

    const perComponent = new Map<string, Record<string, any>[]>();
    for (const r of resources.filter(isKubernetesObject)) {
        const component = componentOf(r, byUrn);
        const stem = component ? fileStem(component, resources) : "stack";
        perComponent.set(stem, [...(perComponent.get(stem) ?? []), kubernetesObject(r)]);
    }
    for (const [stem, objects] of perComponent) {
        files.set(`kubernetes/${stem}.yaml`, objects.map((o) => YAML.stringify(o, { lineWidth: 0 })).join("---\n"));
    }
    for (const r of resources.filter((x) => x.type === HELM_RELEASE)) {
        files.set(`helm/${r.name}.yaml`, YAML.stringify(helmRelease(r), { lineWidth: 0 }));
    }

    // Top-level resources (parent not recorded: the stack itself is not registered under mocks) hang from "".
    const children = new Map<string, PlannedResource[]>();
    for (const r of resources) {
        const parent = byUrn.has(r.parent) ? r.parent : "";
        children.set(parent, [...(children.get(parent) ?? []), r]);
    }
    const lines = [header, ""];
    const modelled: ModelledResource[] = [];
    const walkModel = (items: ModelledResource[], depth: number) => {
        for (const m of items) {
            modelled.push(m);
            lines.push(`${"  ".repeat(depth)}${m.type} ${m.name}  (modelled: pulumi-eks ${PULUMI_EKS_VERSION})`);
            lines.push(...settingsLines(m.inputs, "  ".repeat(depth + 1)));
            walkModel(m.children ?? [], depth + 1);
        }
    };
    const walk = (urn: string, depth: number) => {
        for (const r of children.get(urn) ?? []) {
            const label = describe(r);
            lines.push(`${"  ".repeat(depth)}${r.custom ? "" : "▸ "}${r.type} ${r.name}${label ? `  [${label}]` : ""}`);
            if (showsSettings(r.type)) lines.push(...settingsLines(r.inputs, "  ".repeat(depth + 1)));
            if (r.type === "eks:index:Cluster") walkModel(eksClusterChildren({ name: r.name, inputs: plain(r.inputs) as Record<string, any> }, region), depth + 1);
            walk(r.urn, depth + 1);
        }
    };
    walk("", 0);
    const counts = new Map<string, number>();
    for (const r of [...resources, ...modelled]) counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
    lines.push("", `${resources.length + modelled.length} resources by type (${resources.length} registered by the program, ${modelled.length} modelled children of eks.Cluster):`);
    for (const [type, n] of [...counts].sort(([a], [b]) => a.localeCompare(b))) lines.push(`  ${String(n).padStart(4)}  ${type}`);
    files.set("tree.txt", lines.join("\n") + "\n");
    return files;
}
