/**
 * Every Helm release of the dev and prod plans rendered by the real chart (tests/e2e/helm.ts): `helm template` of the
 * pinned chart package with the values and namespace the plan writes. A release that does not render fails its test
 * with Helm's error and the release's name; a release whose chart package is not in ../shared is skipped, saying which.
 * Then what the stack relies on in the output: the ClusterServingRuntimes our InferenceServices auto-select, the
 * `inferenceservice-config` KServe's controller reads, Karpenter's cluster name and the device plugin's namespace.
 *
 * Needs the Helm binary of tests/e2e/build.sh and ../shared/upstream/chart-packages; runs in `npm run e2e`, or alone:
 *   npx mocha tests/e2e/helm.e2e.ts
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { builtComponents } from "./cluster";
import { chartName, chartPackage, crdApiVersions, findObject, HelmRenderError, helmTemplate, plannedReleases, stackKubernetesVersion, type PlannedRelease } from "./helm";
import { devModels, renderPlan, type PlanObjects } from "./plan";

/**
 * The plan settings of each stack: its API network is a placeholder the program refuses, so a real-looking one here;
 * prod ships with no model, so it serves the dev stack's (the runtimes they select are checked against prod's charts).
 */
const stacks: Record<string, Record<string, unknown>> = {
    dev: { apiEndpoint: { access: "public", publicAccessCidrs: ["1.2.3.4/32"] } },
    prod: { apiEndpoint: { access: "private", privateAccessCidrs: ["10.20.0.0/16"] }, models: devModels() },
};

const planRoot = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-serverless-helm-"));
after(() => fs.rmSync(planRoot, { recursive: true, force: true }));

/** Parsed JSON of a `data` key of KServe's ConfigMap, naming the key when it is not JSON. */
function configKey(cm: any, key: string): any {
    assert.ok(typeof cm.data?.[key] === "string", `inferenceservice-config has no data.${key}`);
    try {
        return JSON.parse(cm.data[key]);
    } catch (e) {
        throw new Error(`inferenceservice-config data.${key} is not JSON: ${(e as Error).message}`);
    }
}

for (const [stack, settings] of Object.entries(stacks)) {
    // The plan is written when the file loads: mocha needs the releases to name one test per release.
    const planDir = path.join(planRoot, stack);
    const plan: PlanObjects = renderPlan(stack, planDir, settings);
    const releases = plannedReleases(planDir);
    const kubeVersion = stackKubernetesVersion(stack, settings);

    describe(`helm: the ${stack} plan's releases rendered by the real charts (kubernetesVersion ${kubeVersion})`, function () {
        this.timeout(120_000);
        let helm: string;
        /** What the cluster's discovery lists once the plan's releases have installed their CRDs. */
        let apiVersions: string[] = [];
        const rendered = new Map<string, any[]>();
        const missing = (r: PlannedRelease) => !fs.existsSync(chartPackage(r));

        before(function () {
            helm = path.join(builtComponents().helm, "helm");
            // First pass: the CRDs every release installs (a render error is reported by the release's own test).
            const crds = releases.filter((r) => !missing(r)).flatMap((r) => {
                try {
                    return helmTemplate(r, { helm, kubeVersion }).filter((o) => o.kind === "CustomResourceDefinition");
                } catch {
                    return [];
                }
            });
            apiVersions = crdApiVersions(crds);
        });

        /** The release of `chart` rendered (by its test below), or this test skipped when its package is missing. */
        function objectsOf(ctx: Mocha.Context, chart: string): { release: PlannedRelease; objects: any[] } {
            const release = releases.find((r) => chartName(r) === chart);
            assert.ok(release, `the ${stack} plan installs no ${chart} chart (releases: ${releases.map(chartName).join(", ")})`);
            if (missing(release)) {
                console.log(`      skipped: no chart package ${chartPackage(release)} for release ${release.release}`);
                ctx.skip();
            }
            return { release, objects: rendered.get(release.file) ?? helmTemplate(release, { helm, kubeVersion, apiVersions }) };
        }

        for (const r of releases) {
            it(`renders ${r.release} (${chartName(r)} ${r.version}) in namespace ${r.namespace}`, function () {
                if (missing(r)) {
                    console.log(`      skipped: no chart package ${chartPackage(r)} for release ${r.release} (../shared/upstream/SOURCES.md lists the packages)`);
                    this.skip();
                }
                const objects = helmTemplate(r, { helm, kubeVersion, apiVersions });
                assert.ok(objects.length > 0, `release ${r.release} rendered no object`);
                rendered.set(r.file, objects);
            });
        }

        it("renders an auto-selectable ClusterServingRuntime for each InferenceService's model format and protocol", function () {
            const { objects } = objectsOf(this, "kserve-runtime-configs");
            // The chart's runtimes, and any the plan creates itself (an InferenceService may name one of ours).
            const runtimes = [...objects, ...plan.all].filter((o) => o.kind === "ClusterServingRuntime");
            assert.ok(objects.some((o) => o.kind === "ClusterServingRuntime"), "kserve-runtime-configs rendered no ClusterServingRuntime");
            const services = plan.all.filter((o) => o.kind === "InferenceService");
            assert.ok(services.length > 0, `the ${stack} plan has no InferenceService`);
            for (const isvc of services) {
                const model = isvc.spec.predictor.model;
                // KServe's defaulter gives an InferenceService without protocolVersion the v1 protocol
                // (kserve/kserve pkg/apis/serving/v1beta1/predictor.go GetProtocol, v0.20.0).
                const protocol = model.protocolVersion ?? "v1";
                const fits = runtimes.filter(
                    (rt) =>
                        (model.runtime ? rt.metadata.name === model.runtime : true) &&
                        (rt.spec.protocolVersions ?? []).includes(protocol) &&
                        rt.spec.supportedModelFormats?.some(
                            (f: any) => f.name === model.modelFormat.name && (model.runtime || f.autoSelect) && (!model.modelFormat.version || f.version === model.modelFormat.version),
                        ),
                );
                assert.ok(
                    fits.length > 0,
                    `InferenceService ${isvc.metadata.namespace}/${isvc.metadata.name} (format ${model.modelFormat.name}, protocol ${protocol}) has no ClusterServingRuntime among ${runtimes.map((rt) => rt.metadata.name).join(", ") || "none"}`,
                );
            }
        });

        it("renders the inferenceservice-config KServe's controller reads: Standard deployments, no Ingress, in KServe's namespace", function () {
            const { release, objects } = objectsOf(this, "kserve-resources");
            const cm = findObject(objects, "ConfigMap", "inferenceservice-config", release.namespace);
            // Our InferenceServices become Deployments that KEDA scales (deploymentMode Standard) and get no Ingress.
            assert.equal(configKey(cm, "deploy").defaultDeploymentMode, "Standard");
            assert.equal(configKey(cm, "ingress").disableIngressCreation, true);
            // Our models' storageUri (hf://, s3://, gs://) is downloaded by the storage initializer it configures.
            assert.match(configKey(cm, "storageInitializer").image, /storage-initializer/);
            const controller = findObject(objects, "Deployment", "kserve-controller-manager", release.namespace);
            assert.deepEqual(controller.spec.template.spec.nodeSelector, (release.values as any).kserve.controller.nodeSelector);
        });

        it("renders Karpenter with the cluster name it requires (and refuses to render without it)", function () {
            const { release, objects } = objectsOf(this, "karpenter");
            const settings = (release.values as any).settings;
            assert.ok(settings?.clusterName, "the plan gives Karpenter no settings.clusterName");
            const controller = findObject(objects, "Deployment", "karpenter", release.namespace).spec.template.spec.containers[0];
            const env = (name: string) => controller.env.find((e: any) => e.name === name)?.value;
            assert.equal(env("CLUSTER_NAME"), settings.clusterName);
            assert.equal(env("INTERRUPTION_QUEUE"), settings.interruptionQueue);
            // The ServiceMonitor the stack's alerts scrape renders once kube-prometheus-stack's CRDs are installed.
            findObject(objects, "ServiceMonitor", "karpenter", release.namespace);
            const withoutName = { ...release, values: { ...release.values, settings: { ...settings, clusterName: "" } } };
            assert.throws(() => helmTemplate(withoutName, { helm, kubeVersion, apiVersions }), (e: unknown) => e instanceof HelmRenderError && /release karpenter .*settings\.clusterName/s.test(e.message));
        });

        it("renders the KEDA relay as a container of the KEDA operator's pod, with no ServiceAccount token in it", function () {
            const { objects } = objectsOf(this, "keda");
            const operator = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "keda-operator");
            assert.ok(operator, "the chart rendered the keda-operator Deployment");
            const pod = operator.spec.template.spec;
            const relay = pod.containers.find((c: any) => c.name === "keda-relay");
            assert.ok(relay, `containers: ${pod.containers.map((c: any) => c.name).join(", ")}`);
            assert.deepEqual(relay.args.slice(0, 3), ["activator/dist/kedaRelay/main.js", "--listen", "9095"]);
            const mount = relay.volumeMounts.find((m: any) => m.mountPath === "/var/run/secrets/kubernetes.io/serviceaccount");
            assert.ok(pod.volumes.some((v: any) => v.name === mount?.name && v.emptyDir), "an empty volume takes the token path");
        });

        it("renders the NVIDIA device plugin in its own namespace (the chart refuses `default`)", function () {
            const { release, objects } = objectsOf(this, "nvidia-device-plugin");
            assert.notEqual(release.namespace, "default");
            const daemonSets = objects.filter((o) => o.kind === "DaemonSet");
            assert.ok(daemonSets.length > 0, "the device plugin rendered no DaemonSet");
            for (const ds of daemonSets) assert.equal(ds.metadata.namespace, release.namespace, `DaemonSet ${ds.metadata.name}`);
            assert.throws(() => helmTemplate({ ...release, namespace: "default" }, { helm, kubeVersion, apiVersions }), /release nvidia-device-plugin .*'default' namespace is not recommended/s);
        });
    });
}
