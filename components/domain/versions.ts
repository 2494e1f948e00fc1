/**
 * Every Helm chart the program installs, pinned in one place.
 *
 * Versions match the upstream data the tests check our values against (`tests/upstream-facts/charts/`, generated from
 * `../shared/upstream` by `npm run upstream:generate`), so a bump here is a bump there too. Stack config may override a version per chart (`gpu-serverless:chartVersions`); overrides go
 * through {@link resolveChart}, which refuses unknown charts and malformed versions before any resource exists.
 */

/** A chart as Helm fetches it: from an HTTP repository (`https://...`) or an OCI registry path (`oci://...`). */
export interface PinnedChart {
    /** Chart name as the repository lists it, e.g. `keda`. */
    readonly name: string;
    /** HTTP repository URL, or the OCI registry path that holds the chart (without the chart name). */
    readonly repository: string;
    /** Exact chart version (never a range: a range would let `pulumi up` drift between runs). */
    readonly version: string;
}

export const charts = {
    keda: { name: "keda", repository: "https://kedacore.github.io/charts", version: "2.20.2" },
    "kube-prometheus-stack": {
        name: "kube-prometheus-stack",
        repository: "https://prometheus-community.github.io/helm-charts",
        version: "88.5.3",
    },
    "cert-manager": { name: "cert-manager", repository: "https://charts.jetstack.io", version: "v1.21.1" },
    "kserve-crd": { name: "kserve-crd", repository: "oci://ghcr.io/kserve/charts", version: "v0.20.0" },
    "kserve-resources": { name: "kserve-resources", repository: "oci://ghcr.io/kserve/charts", version: "v0.20.0" },
    // The ClusterServingRuntimes (sklearn, huggingface, triton...). Since KServe v0.20 they ship in this chart, not in
    // kserve-resources; keep it at the controller's version.
    "kserve-runtime-configs": { name: "kserve-runtime-configs", repository: "oci://ghcr.io/kserve/charts", version: "v0.20.0" },
    "nvidia-device-plugin": {
        name: "nvidia-device-plugin",
        repository: "https://nvidia.github.io/k8s-device-plugin",
        version: "0.20.0",
    },
    "dcgm-exporter": { name: "dcgm-exporter", repository: "https://nvidia.github.io/dcgm-exporter/helm-charts", version: "4.8.2" },
    "cluster-autoscaler": { name: "cluster-autoscaler", repository: "https://kubernetes.github.io/autoscaler", version: "9.59.0" },
    // Karpenter's chart (controller image of the same version; CRDs in its crds/, installed with the release).
    karpenter: { name: "karpenter", repository: "oci://public.ecr.aws/karpenter", version: "1.14.1" },
} as const satisfies Record<string, PinnedChart>;

/** Key of a chart we install, e.g. `"keda"`. */
export type ChartName = keyof typeof charts;

/** Every chart key, for config schemas (`z.enum(chartNames)`). */
export const chartNames = Object.keys(charts) as ChartName[];

/** Per-chart version overrides from stack config; charts not listed keep their pinned version. */
export type ChartVersionOverrides = Partial<Record<ChartName, string>>;

// Helm chart versions are SemVer 2; some projects prefix a `v` (cert-manager, KServe).
const exactVersion = /^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

/** What is wrong with overriding `chart` to `version` (a chart we do not install, not an exact version), if anything. */
export function chartVersionOverrideProblem(chart: string, version: unknown): string | undefined {
    if (!(chart in charts)) return `unknown chart; known charts: ${chartNames.join(", ")}`;
    if (typeof version !== "string" || !exactVersion.test(version)) {
        return `${JSON.stringify(version)} is not an exact chart version; use e.g. ${JSON.stringify(charts[chart as ChartName].version)}`;
    }
    return undefined;
}

/** Throws `chartVersions.<chart>: <problem>` for the first override that has one. */
export function checkChartVersionOverrides(overrides: Record<string, unknown> | undefined): void {
    for (const [chart, version] of Object.entries(overrides ?? {})) {
        const problem = chartVersionOverrideProblem(chart, version);
        if (problem !== undefined) throw new Error(`chartVersions.${chart}: ${problem}`);
    }
}

/** The chart to install: the pinned one, or the pinned one at the overriding version. */
export function resolveChart(chart: ChartName, overrides?: ChartVersionOverrides): PinnedChart {
    checkChartVersionOverrides(overrides);
    const version = overrides?.[chart];
    return version === undefined ? charts[chart] : { ...charts[chart], version };
}

/** The `chart`/`version`/`repositoryOpts` arguments of a `helm.v3.Release` for a pinned chart. */
export function releaseSource(chart: PinnedChart): { chart: string; version: string; repositoryOpts?: { repo: string } } {
    // Helm addresses OCI charts by full reference and has no repository index for them.
    if (chart.repository.startsWith("oci://")) {
        return { chart: `${chart.repository}/${chart.name}`, version: chart.version };
    }
    return { chart: chart.name, version: chart.version, repositoryOpts: { repo: chart.repository } };
}

/**
 * Kubernetes minors we deploy, each with the cluster-autoscaler image for it (cluster-autoscaler's minor must match
 * the cluster's): the newest patch release of that minor, from the `cluster-autoscaler-1.<minor>.<patch>` tags of
 * kubernetes/autoscaler (checked 2026-08; images at registry.k8s.io/autoscaling/cluster-autoscaler).
 * The minors are those KEDA 2.20 is tested on (keda.sh/docs/2.20/operate/cluster: v1.33 - v1.35), which the pinned
 * cluster-autoscaler chart 9.59.0 (app 1.35.0) and the other charts' `kubeVersion` ranges all cover.
 */
export const clusterAutoscalerImageTags: Readonly<Record<string, string>> = {
    "1.33": "v1.33.6",
    "1.34": "v1.34.5",
    "1.35": "v1.35.2",
};

/** `1.<minor>` versions the stack accepts. */
export const supportedKubernetesVersions: readonly string[] = Object.keys(clusterAutoscalerImageTags);

/**
 * The one rule for `kubernetesVersion`: a minor we pin a cluster-autoscaler image for (its minor must match the
 * cluster's), which is also what KEDA 2.20 is tested on. The stack schema and ClusterAutoscaler's args both apply it.
 */
export function kubernetesVersionProblem(version: string): string | undefined {
    if (supportedKubernetesVersions.includes(version)) return undefined;
    return `${JSON.stringify(version)} is not a supported Kubernetes version; use one of ${supportedKubernetesVersions.map((v) => `"${v}"`).join(", ")} (KEDA 2.20 is tested on 1.33 to 1.35)`;
}
