/**
 * Helm releases of a written plan (`helm/<release>.yaml`, scripts/plan/render.ts) rendered by the real charts: the
 * chart packages in `../shared/upstream/chart-packages/` (../shared/upstream/SOURCES.md, "Chart packages") and the Helm
 * binary tests/e2e/build.sh builds (v4.3.2, the Helm those packages were made with).
 *
 * What `helm template` is given, as the Pulumi Kubernetes provider's `helm.sh/v3:Release` installs into the cluster:
 * the release name, `--namespace` the plan's namespace, the plan's values as a values file, `--include-crds` (the
 * Release installs a chart's `crds/` unless `skipCrds`), `--kube-version` the stack's `kubernetesVersion`, and
 * `--api-versions` the group/versions (and group/version/Kind) of every CustomResourceDefinition the plan's releases
 * install — what the cluster's discovery answers once they are installed, so templates gated on
 * `.Capabilities.APIVersions.Has "monitoring.coreos.com/v1"` (Karpenter's ServiceMonitor) render as they would there.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import { planConfig } from "../../scripts/plan/stackConfig";
import { planSettings, repoRoot } from "./plan";

/** The chart packages: `$E2E_CHART_PACKAGES`, default `../shared/upstream/chart-packages` beside the repository. */
export const chartPackages = path.resolve(repoRoot, process.env.E2E_CHART_PACKAGES ?? "../shared/upstream/chart-packages");

/** One `helm/<release>.yaml` of the plan: what `helm install` would receive. */
export interface PlannedRelease {
    /** The plan file's stem (the Pulumi resource name), e.g. `gpu-keda-release`. */
    readonly file: string;
    readonly release: string;
    readonly namespace: string;
    /** Chart name or OCI reference (`oci://ghcr.io/kserve/charts/kserve-resources`). */
    readonly chart: string;
    readonly version: string;
    readonly skipCrds?: boolean;
    readonly values: Record<string, unknown>;
}

/** The Helm releases a plan written to `planDir` installs, by file name order. */
export function plannedReleases(planDir: string): PlannedRelease[] {
    const dir = path.join(planDir, "helm");
    return fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".yaml"))
        .sort()
        .map((f) => ({ file: f.replace(/\.yaml$/, ""), ...YAML.parse(fs.readFileSync(path.join(dir, f), "utf8")) }));
}

/** The chart's name: the last path segment of an OCI reference, else the chart as written. */
export const chartName = (r: PlannedRelease): string => r.chart.split("/").pop()!;

/** `<chart-packages>/<chart name>-<version>.tgz`, the name `helm package` gives (whether it exists or not). */
export const chartPackage = (r: PlannedRelease, dir = chartPackages): string => path.join(dir, `${chartName(r)}-${r.version}.tgz`);

/** A release `helm template` refused; the message starts with the release, chart and version. */
export class HelmRenderError extends Error {
    constructor(r: PlannedRelease, stderr: string) {
        super(`helm release ${r.release} (${chartName(r)} ${r.version}, namespace ${r.namespace}, plan file helm/${r.file}.yaml) does not render: ${stderr.trim()}`);
        this.name = "HelmRenderError";
    }
}

export interface RenderOptions {
    /** The helm binary. */
    readonly helm: string;
    /** `--kube-version`, e.g. "1.35". */
    readonly kubeVersion: string;
    /** `--api-versions`, e.g. ["monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor"]. */
    readonly apiVersions?: readonly string[];
    /** The chart package (default {@link chartPackage}). */
    readonly chartPackage?: string;
}

/**
 * `helm template` of one release from its chart package: the objects, in Helm's output order (CRDs first). Throws a
 * {@link HelmRenderError} naming the release on any render error (a `required` or `fail` in the chart, a value of the
 * wrong type, a missing package).
 */
export function helmTemplate(r: PlannedRelease, options: RenderOptions): any[] {
    const pkg = options.chartPackage ?? chartPackage(r);
    if (!fs.existsSync(pkg)) throw new HelmRenderError(r, `no chart package ${pkg}`);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "helm-values-"));
    try {
        const valuesFile = path.join(tmp, "values.yaml");
        fs.writeFileSync(valuesFile, YAML.stringify(r.values ?? {}));
        const args = ["template", r.release, pkg, "--namespace", r.namespace, "--values", valuesFile, "--kube-version", options.kubeVersion];
        if (!r.skipCrds) args.push("--include-crds");
        for (const v of options.apiVersions ?? []) args.push("--api-versions", v);
        // HOME and the Helm folders point at the empty temporary folder: nothing of the machine's Helm config is read.
        const env = { PATH: process.env.PATH ?? "", HOME: tmp, HELM_CACHE_HOME: tmp, HELM_CONFIG_HOME: tmp, HELM_DATA_HOME: tmp };
        const res = spawnSync(options.helm, args, { encoding: "utf8", env, maxBuffer: 256 * 1024 * 1024 });
        if (res.error) throw new HelmRenderError(r, `${options.helm}: ${res.error.message}`);
        if (res.status !== 0) throw new HelmRenderError(r, res.stderr);
        return YAML.parseAllDocuments(res.stdout)
            .map((d) => d.toJS({ maxAliasCount: -1 }))
            .filter((o) => o && typeof o === "object" && o.kind);
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

/** `group/version` and `group/version/Kind` of each served version of the CustomResourceDefinitions among `objects`. */
export function crdApiVersions(objects: readonly any[]): string[] {
    const out = new Set<string>();
    for (const crd of objects.filter((o) => o.kind === "CustomResourceDefinition")) {
        for (const v of crd.spec?.versions ?? []) {
            if (v.served === false) continue;
            out.add(`${crd.spec.group}/${v.name}`);
            out.add(`${crd.spec.group}/${v.name}/${crd.spec.names.kind}`);
        }
    }
    return [...out].sort();
}

/** One object by kind and name (and namespace when given), or an error naming what was looked for. */
export function findObject(objects: readonly any[], kind: string, name: string, namespace?: string): any {
    const found = objects.find((o) => o.kind === kind && o.metadata?.name === name && (namespace === undefined || o.metadata?.namespace === namespace));
    if (!found) {
        const same = objects.filter((o) => o.kind === kind).map((o) => `${o.metadata?.namespace ?? ""}/${o.metadata?.name}`);
        throw new Error(`no ${kind} ${namespace ? `${namespace}/` : ""}${name} rendered (${kind}s: ${same.join(", ") || "none"})`);
    }
    return found;
}

/** The stack's `kubernetesVersion` ("1.35") with the plan's settings, as the program reads it (Pulumi.yaml default overlaid). */
export function stackKubernetesVersion(stack: string, settings: Record<string, unknown>): string {
    const version = planConfig(repoRoot, stack, planSettings(settings)).config["gpu-serverless:kubernetesVersion"];
    if (!version) throw new Error(`stack ${stack} has no gpu-serverless:kubernetesVersion (Pulumi.yaml declares a default)`);
    return version;
}
