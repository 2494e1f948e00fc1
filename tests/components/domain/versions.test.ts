import * as assert from "node:assert/strict";
import { chartMetadata, chartNamesWithFacts, chartSources, chartVersion } from "../../support/chartValues";
import { ChartName, chartNames, charts, checkChartVersionOverrides, releaseSource, resolveChart, supportedKubernetesVersions } from "../../../components/domain/versions";

// SOURCES.md's release column for a chart's Chart.yaml, e.g. "chart 2.20.2 / app 2.20.2".
function sourcesRow(chart: ChartName): string {
    const source = chartSources(chart).find((s) => s.file === `charts/${chart}/Chart.yaml`);
    assert.ok(source, `SOURCES.md lists charts/${chart}/Chart.yaml`);
    return `${source.release} `;
}

describe("versions: pinned charts", () => {
    it("pins every chart we install, each with upstream data to check values against", () => {
        assert.deepEqual([...chartNames].sort(), [
            "cert-manager",
            "cluster-autoscaler",
            "dcgm-exporter",
            "karpenter",
            "keda",
            "kserve-crd",
            "kserve-resources",
            "kserve-runtime-configs",
            "kube-prometheus-stack",
            "nvidia-device-plugin",
        ]);
        for (const chart of chartNames) {
            assert.equal(charts[chart].name, chart);
            assert.ok(chartNamesWithFacts().includes(chart), chart);
        }
    });

    // cert-manager's Chart.yaml carries the release tool's placeholder (v0.0.0); SOURCES.md records the published version.
    for (const chart of chartNames) {
        it(`pins ${chart} to the upstream chart version`, () => {
            if (chart === "cert-manager") {
                assert.equal(chartVersion(chart), "v0.0.0");
                assert.match(sourcesRow(chart), new RegExp(`published chart ${charts[chart].version.replace(/\./g, "\\.")} `));
            } else if (chart === "karpenter") {
                // The tag's Chart.yaml still reads the previous release (Karpenter bumps it after tagging); SOURCES.md
                // records the published chart.
                assert.equal(chartVersion(chart), "1.13.0");
                assert.match(sourcesRow(chart), new RegExp(`= chart ${charts[chart].version.replace(/\./g, "\\.")} `));
            } else {
                assert.equal(charts[chart].version, chartVersion(chart));
                assert.match(sourcesRow(chart), new RegExp(`chart ${charts[chart].version.replace(/\./g, "\\.")} `));
            }
        });
    }

    it("names the repositories the charts are published in", () => {
        assert.deepEqual(
            Object.fromEntries(chartNames.map((c) => [c, charts[c].repository])),
            {
                keda: "https://kedacore.github.io/charts",
                "kube-prometheus-stack": "https://prometheus-community.github.io/helm-charts",
                "cert-manager": "https://charts.jetstack.io",
                "kserve-crd": "oci://ghcr.io/kserve/charts",
                "kserve-resources": "oci://ghcr.io/kserve/charts",
                "kserve-runtime-configs": "oci://ghcr.io/kserve/charts",
                "nvidia-device-plugin": "https://nvidia.github.io/k8s-device-plugin",
                "dcgm-exporter": "https://nvidia.github.io/dcgm-exporter/helm-charts",
                "cluster-autoscaler": "https://kubernetes.github.io/autoscaler",
                karpenter: "oci://public.ecr.aws/karpenter",
            },
        );
    });
});

describe("versions: release source", () => {
    it("addresses OCI charts by full reference, without a repository", () => {
        assert.deepEqual(releaseSource(charts["kserve-crd"]), { chart: "oci://ghcr.io/kserve/charts/kserve-crd", version: "v0.20.0" });
        assert.deepEqual(releaseSource(charts["kserve-resources"]), {
            chart: "oci://ghcr.io/kserve/charts/kserve-resources",
            version: "v0.20.0",
        });
    });

    it("addresses HTTP charts by name in their repository", () => {
        assert.deepEqual(releaseSource(charts.keda), {
            chart: "keda",
            version: "2.20.2",
            repositoryOpts: { repo: "https://kedacore.github.io/charts" },
        });
    });
});

describe("versions: overrides", () => {
    it("keeps the pinned version without an override and applies one per chart", () => {
        assert.equal(resolveChart("keda").version, "2.20.2");
        const overrides = { keda: "2.21.0", "cert-manager": "v1.22.0-alpha.1" };
        assert.deepEqual(resolveChart("keda", overrides), { ...charts.keda, version: "2.21.0" });
        assert.equal(resolveChart("cert-manager", overrides).version, "v1.22.0-alpha.1");
        assert.equal(resolveChart("dcgm-exporter", overrides).version, "4.8.2");
    });

    const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
        ["an unknown chart", { "aws-load-balancer-controller": "1.14.0" }, /^chartVersions\.aws-load-balancer-controller: unknown chart; known charts: keda, /],
        ["a range", { keda: "^2.20.0" }, /^chartVersions\.keda: "\^2\.20\.0" is not an exact chart version; use e\.g\. "2\.20\.2"/],
        ["a moving tag", { "kube-prometheus-stack": "latest" }, /^chartVersions\.kube-prometheus-stack: "latest" is not/],
        ["a partial version", { "kserve-crd": "v0.20" }, /^chartVersions\.kserve-crd: "v0\.20" is not/],
        ["a number", { "dcgm-exporter": 4.8 }, /^chartVersions\.dcgm-exporter: 4\.8 is not/],
    ];
    for (const [what, overrides, message] of invalid) {
        it(`refuses ${what}, naming the key`, () => {
            assert.throws(() => checkChartVersionOverrides(overrides), { message });
            assert.throws(() => resolveChart("keda", overrides as never), { message });
        });
    }
});

describe("versions: Kubernetes minors", () => {
    const chartYaml = chartMetadata;
    /** `>= 1.22.0-0`, `>=v1.23.0-0`: the lowest minor a chart's `kubeVersion` admits (all ours are lower bounds). */
    const lowestMinor = (constraint: string): number => {
        const m = /^>=\s*v?1\.(\d+)\.\d+(-0)?$/.exec(constraint.trim());
        assert.ok(m, `a lower-bound kubeVersion: ${constraint}`);
        return +m[1];
    };

    it("supports only minors every pinned chart admits (their Chart.yaml kubeVersion)", () => {
        for (const chart of chartNames) {
            const constraint = chartYaml(chart).kubeVersion as string | undefined;
            if (constraint === undefined) continue;
            for (const version of supportedKubernetesVersions) {
                assert.ok(+version.split(".")[1] >= lowestMinor(constraint), `${chart} (${constraint}) admits ${version}`);
            }
        }
    });

    it("goes no newer than the pinned cluster-autoscaler chart's app version", () => {
        const appMinor = +String(chartYaml("cluster-autoscaler").appVersion).split(".")[1];
        for (const version of supportedKubernetesVersions) assert.ok(+version.split(".")[1] <= appMinor, version);
    });

    it("stays within what KEDA 2.20 is tested on (keda.sh/docs/2.20/operate/cluster: v1.33 - v1.35)", () => {
        assert.equal(chartVersion("keda"), "2.20.2");
        assert.deepEqual([...supportedKubernetesVersions], ["1.33", "1.34", "1.35"]);
    });
});
