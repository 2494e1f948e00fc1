/**
 * The pure parts of rendering the plan's Helm releases (tests/e2e/helm.ts; runs in `npm test`, needs no Helm).
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { chartPackage, crdApiVersions, findObject, HelmRenderError, helmTemplate, plannedReleases } from "./helm";

describe("e2e helm: the plan's releases and their chart packages", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "helm-plan-"));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("reads each helm/<release>.yaml and names its package <chart>-<version>.tgz, OCI path dropped", () => {
        fs.mkdirSync(path.join(dir, "helm"));
        fs.writeFileSync(path.join(dir, "helm", "gpu-kserve-controller.yaml"), "release: kserve\nnamespace: kserve\nchart: oci://ghcr.io/kserve/charts/kserve-resources\nversion: v0.20.0\nvalues: {}\n");
        const [r] = plannedReleases(dir);
        assert.equal(r.file, "gpu-kserve-controller");
        assert.equal(chartPackage(r, "/p"), path.join("/p", "kserve-resources-v0.20.0.tgz"));
    });

    it("fails naming the release, chart and plan file when the package is missing", () => {
        const r = { file: "gpu-keda-release", release: "keda", namespace: "keda", chart: "keda", version: "9.9.9", values: {} };
        assert.throws(
            () => helmTemplate(r, { helm: "/nonexistent/helm", kubeVersion: "1.35", chartPackage: path.join(dir, "keda-9.9.9.tgz") }),
            (e: unknown) => e instanceof HelmRenderError && /^helm release keda \(keda 9\.9\.9, namespace keda, plan file helm\/gpu-keda-release\.yaml\) does not render: no chart package/.test(e.message),
        );
    });

    it("lists group/version and group/version/Kind of each served CRD version", () => {
        const crd = (group: string, kind: string, versions: { name: string; served: boolean }[]) => ({ kind: "CustomResourceDefinition", spec: { group, names: { kind }, versions } });
        const apis = crdApiVersions([
            crd("monitoring.coreos.com", "ServiceMonitor", [{ name: "v1", served: true }]),
            crd("karpenter.sh", "NodePool", [{ name: "v1", served: true }, { name: "v1beta1", served: false }]),
            { kind: "ConfigMap" },
        ]);
        assert.deepEqual(apis, ["karpenter.sh/v1", "karpenter.sh/v1/NodePool", "monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor"]);
    });

    it("finds a rendered object by kind, name and namespace, or names what it found instead", () => {
        const objects = [{ kind: "ConfigMap", metadata: { name: "a", namespace: "x" } }];
        assert.equal(findObject(objects, "ConfigMap", "a", "x"), objects[0]);
        assert.throws(() => findObject(objects, "ConfigMap", "inferenceservice-config", "kserve"), /no ConfigMap kserve\/inferenceservice-config rendered \(ConfigMaps: x\/a\)/);
    });
});
