import * as assert from "node:assert/strict";
import * as k8s from "@pulumi/kubernetes";
import { allResources, dependsOn, resetRecorded, resourceNamed, setupMocks, settled, unwrap } from "../../support/mocks";
import { KServe } from "../../../components/resources/kserve";

const Release = "kubernetes:helm.sh/v3:Release";
const systemNodeSelector = { "gpu-serverless.io/node-group": "system" };

describe("KServe (mocks)", () => {
    let provider: k8s.Provider;
    before(() => {
        setupMocks();
        provider = new k8s.Provider("kserve-test-k8s", { kubeconfig: "{}" });
    });
    beforeEach(() => resetRecorded());

    it("installs cert-manager (with CRDs), kserve-crd and kserve-resources, pinned, in their namespaces", async () => {
        const kserve = new KServe("ks-a", { provider, systemNodeSelector });
        await settled();
        const certManager = resourceNamed(Release, "ks-a-cert-manager");
        const crds = resourceNamed(Release, "ks-a-crds");
        const controller = resourceNamed(Release, "ks-a-controller");
        const runtimes = resourceNamed(Release, "ks-a-runtimes");
        assert.deepEqual(
            [certManager, crds, controller, runtimes].map((r) => {
                const { name, chart, version, repositoryOpts, namespace } = r.inputs;
                return [name, chart, version, repositoryOpts, namespace];
            }),
            [
                ["cert-manager", "cert-manager", "v1.21.1", { repo: "https://charts.jetstack.io" }, "cert-manager"],
                ["kserve-crd", "oci://ghcr.io/kserve/charts/kserve-crd", "v0.20.0", undefined, "kserve"],
                ["kserve", "oci://ghcr.io/kserve/charts/kserve-resources", "v0.20.0", undefined, "kserve"],
                ["kserve-runtime-configs", "oci://ghcr.io/kserve/charts/kserve-runtime-configs", "v0.20.0", undefined, "kserve"],
            ],
        );
        assert.equal(certManager.inputs.values.crds.enabled, true);
        assert.deepEqual(certManager.inputs.values.global.nodeSelector, systemNodeSelector);
        assert.equal(await unwrap(kserve.namespace), "kserve");
        assert.equal(
            resourceNamed("kubernetes:core/v1:Namespace", "ks-a-cert-manager-namespace").inputs.metadata.name,
            "cert-manager",
        );
    });

    it("runs the controller in Standard mode without ingress, on the system nodes", async () => {
        new KServe("ks-b", { provider, systemNodeSelector });
        await settled();
        const controller = resourceNamed(Release, "ks-b-controller").inputs.values.kserve.controller;
        assert.equal(controller.deploymentMode, "Standard");
        assert.equal(controller.gateway.disableIngressCreation, true);
        assert.deepEqual(controller.nodeSelector, systemNodeSelector);
    });

    it("installs kserve-resources only after cert-manager and the KServe CRDs", async () => {
        new KServe("ks-c", { provider, systemNodeSelector });
        await settled();
        const certManager = resourceNamed(Release, "ks-c-cert-manager");
        const crds = resourceNamed(Release, "ks-c-crds");
        const controller = resourceNamed(Release, "ks-c-controller");
        assert.ok(dependsOn(controller, certManager));
        assert.ok(dependsOn(controller, crds));
        assert.equal(dependsOn(crds, controller), false);
        assert.equal(dependsOn(certManager, crds), false);
    });

    it("installs the serving runtimes after the controller, whose webhook validates them", async () => {
        new KServe("ks-r", { provider, systemNodeSelector });
        await settled();
        const runtimes = resourceNamed(Release, "ks-r-runtimes");
        assert.ok(dependsOn(runtimes, resourceNamed(Release, "ks-r-controller")));
        assert.equal(runtimes.inputs.values.kserve.servingruntime.enabled, true);
    });

    it("takes namespaces and chart version overrides", async () => {
        new KServe("ks-d", {
            provider,
            systemNodeSelector,
            namespace: "serving",
            certManagerNamespace: "certs",
            chartVersions: { "kserve-crd": "v0.20.1", "kserve-resources": "v0.20.1" },
        });
        await settled();
        assert.deepEqual(
            ["cert-manager", "crds", "controller"].map((role) => {
                const r = resourceNamed(Release, `ks-d-${role}`);
                return [r.inputs.namespace, r.inputs.version];
            }),
            [
                ["certs", "v1.21.1"],
                ["serving", "v0.20.1"],
                ["serving", "v0.20.1"],
            ],
        );
    });

    const invalid: Array<[string, object, RegExp]> = [
        ["namespace", { namespace: "kserve_system" }, /^KServe "ks-bad" args\.namespace: "kserve_system" is not a valid name/],
        [
            "shared namespace",
            { namespace: "infra", certManagerNamespace: "infra" },
            /^KServe "ks-bad" args\.namespace: must differ from certManagerNamespace/,
        ],
        [
            "node selector",
            { systemNodeSelector: { "bad key": "x" } },
            /^KServe "ks-bad" args\.systemNodeSelector\["bad key"\]: is not a valid label key/,
        ],
    ];
    for (const [what, override, message] of invalid) {
        it(`refuses a bad ${what} before creating anything`, async () => {
            assert.throws(() => new KServe("ks-bad", { provider, systemNodeSelector, ...override }), { message });
            await settled();
            assert.deepEqual(allResources().filter((r) => r.name.startsWith("ks-bad")), []);
        });
    }
});
