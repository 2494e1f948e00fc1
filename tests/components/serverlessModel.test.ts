import * as assert from "node:assert/strict";
import * as k8s from "@pulumi/kubernetes";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { MODEL_METADATA_KEY } from "../../activator/src/scaler/activity";
import { Activator } from "../../components/activator";
import type { ModelConfig } from "../../components/config/models";
import { ServerlessModel } from "../../components/serverlessModel";
import { crdErrors, isCustomKind } from "../support/crds";
import { allResources, dependsOn, kubernetesObjects, RecordedResource, resetRecorded, resourceNamed, settled, setupMocks } from "../support/mocks";
import { a100Scheduling, cpuModel, llmModel, stackWith } from "./models/fixtures";

const Release = "kubernetes:helm.sh/v3:Release";
const ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService";
const ScaledObject = "kubernetes:keda.sh/v1alpha1:ScaledObject";
const ServiceMonitor = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor";
const Service = "kubernetes:core/v1:Service";
const StatefulSet = "kubernetes:apps/v1:StatefulSet";

describe("ServerlessModel (mocks)", () => {
    let provider: k8s.Provider;
    before(() => {
        setupMocks();
        provider = new k8s.Provider("sm-test-k8s", { kubeconfig: "{}" });
    });
    beforeEach(() => resetRecorded());

    /** The platform's CRD releases (stand-ins with the platform's chart names), an Activator, and one ServerlessModel per model. */
    function deploy(prefix: string, rawModels: object[], extra: { hfToken?: string } = {}) {
        const stack = stackWith(rawModels);
        const release = (chart: string) => new k8s.helm.v3.Release(`${prefix}-${chart}`, { chart, namespace: "x" }, { provider });
        const releases = { kserve: release("kserve-crd"), keda: release("keda"), monitoring: release("kube-prometheus-stack") };
        const activator = new Activator(`${prefix}-activator`, {
            config: { ...stack.activator, image: "example.com/activator:1.0.0" },
            models: stack.models,
            provider,
            systemNodeSelector: { "gpu-serverless/node-group": "system" },
            dependencies: { monitoring: releases.monitoring },
        });
        const models = stack.models.map(
            (model: ModelConfig) =>
                new ServerlessModel(`${prefix}-${model.name}`, {
                    model,
                    provider,
                    scalerAddress: activator.scalerAddress,
                    activator: { namespace: activator.namespace, podLabels: activator.podLabels },
                    monitoringNamespace: "monitoring",
                    gpuScheduling: model.gpus > 0 ? a100Scheduling : undefined,
                    hfToken: model.hfTokenSecret ? extra.hfToken : undefined,
                    dependencies: { ...releases, namespace: activator.modelNamespaces[model.namespace] },
                }),
        );
        return { stack, releases, activator, models };
    }

    /** Resources whose parent is the ServerlessModel component named `name`. */
    const childrenOf = (name: string): RecordedResource[] => {
        const component = resourceNamed("gpu-serverless:models:ServerlessModel", name);
        return allResources().filter((r) => r.parent === component.urn);
    };
    const countByType = (resources: RecordedResource[]) =>
        resources.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.type]: (acc[r.type] ?? 0) + 1 }), {});

    it("creates an InferenceService, ScaledObject, ServiceMonitor, NetworkPolicy and ServiceAccount per model", async () => {
        deploy("sm-a", [llmModel, cpuModel]);
        await settled();
        const perModel = { qwen: countByType(childrenOf("sm-a-qwen")), iris: countByType(childrenOf("sm-a-iris")) };
        console.log("      resources per model by type:", JSON.stringify(perModel, null, 2).replace(/\n/g, "\n      "));
        const expected = {
            [ISVC]: 1,
            [ScaledObject]: 1,
            [ServiceMonitor]: 1,
            "kubernetes:networking.k8s.io/v1:NetworkPolicy": 1,
            "kubernetes:core/v1:ServiceAccount": 1,
        };
        assert.deepEqual(perModel, { qwen: expected, iris: expected });
    });

    it("creates only custom resources that validate against the upstream CRDs", async () => {
        deploy("sm-b", [llmModel, cpuModel]);
        await settled();
        const custom = kubernetesObjects().filter((r) => isCustomKind(r.inputs.apiVersion, r.inputs.kind));
        assert.equal(custom.filter((r) => r.type === ISVC || r.type === ScaledObject).length, 4);
        for (const r of custom) assert.deepEqual(crdErrors(r.inputs as any), [], `${r.type} ${r.name}`);
    });

    it("points the one external-push trigger at the activator's scaler Service, under the key the activator reads", async () => {
        deploy("sm-c", [llmModel, cpuModel]);
        await settled();
        const scaler = resourceNamed(Service, "sm-c-activator-scaler");
        const statefulSet = resourceNamed(StatefulSet, "sm-c-activator-stateful-set").inputs;
        assert.deepEqual(scaler.inputs.spec.selector, statefulSet.spec.template.metadata.labels);
        const address = `${scaler.inputs.metadata.name}.${scaler.inputs.metadata.namespace}.svc.cluster.local:${scaler.inputs.spec.ports[0].port}`;
        for (const [name, key] of [["sm-c-qwen-scaled-object", "models/qwen"], ["sm-c-iris-scaled-object", "models/iris"]]) {
            const so = resourceNamed(ScaledObject, name);
            assert.deepEqual(so.inputs.spec.triggers.map((t: any) => [t.type, t.metadata]), [["external-push", { scalerAddress: address, [MODEL_METADATA_KEY]: key }]]);
            assert.deepEqual(crdErrors(so.inputs as any), [], name);
            assert.ok(dependsOn(so, scaler), `${name} waits for the scaler Service`);
        }
    });

    it("schedules the GPU model on the A100 group, the CPU model off it; both with the one activator trigger", async () => {
        deploy("sm-d", [llmModel, cpuModel]);
        await settled();
        const gpu = resourceNamed(ISVC, "sm-d-qwen-inference-service").inputs.spec.predictor;
        const cpu = resourceNamed(ISVC, "sm-d-iris-inference-service").inputs.spec.predictor;
        assert.equal(gpu.model.resources.limits["nvidia.com/gpu"], "1");
        assert.deepEqual(gpu.tolerations, a100Scheduling.tolerations);
        assert.deepEqual(gpu.nodeSelector, a100Scheduling.nodeSelector);
        assert.equal(cpu.model.resources.limits["nvidia.com/gpu"], undefined);
        assert.equal(cpu.tolerations, undefined);
        const triggers = (name: string) => resourceNamed(ScaledObject, name).inputs.spec.triggers.map((t: any) => t.type);
        assert.deepEqual(triggers("sm-d-qwen-scaled-object"), ["external-push"], "vLLM's gauges travel through the activator, not Prometheus");
        assert.deepEqual(triggers("sm-d-iris-scaled-object"), ["external-push"]);
    });

    it("creates every resource after the CRD release of its kind and after the model's namespace", async () => {
        const { releases } = deploy("sm-e", [cpuModel]);
        await settled();
        const release = (name: string) => resourceNamed(Release, name);
        const namespace = resourceNamed("kubernetes:core/v1:Namespace", "sm-e-activator-model-namespace-models");
        const isvc = resourceNamed(ISVC, "sm-e-iris-inference-service");
        const so = resourceNamed(ScaledObject, "sm-e-iris-scaled-object");
        assert.ok(dependsOn(isvc, release("sm-e-kserve-crd")));
        assert.ok(dependsOn(so, release("sm-e-keda")));
        assert.ok(dependsOn(so, isvc), "the ScaledObject's target Deployment comes from the InferenceService");
        assert.ok(dependsOn(resourceNamed(ServiceMonitor, "sm-e-iris-service-monitor"), release("sm-e-kube-prometheus-stack")));
        for (const r of childrenOf("sm-e-iris")) assert.ok(dependsOn(r, namespace), `${r.type} ${r.name}`);
        assert.ok(releases.kserve);
    });

    it("turns the Pulumi secret into a Kubernetes Secret the predictor's ServiceAccount and container reference", async () => {
        deploy("sm-f", [{ ...llmModel, hfTokenSecret: "hfToken" }], { hfToken: "hf_test_token" });
        await settled();
        const secret = resourceNamed("kubernetes:core/v1:Secret", "sm-f-qwen-hf-token");
        // Recorded as the engine receives it: a secret, so the token never lands in state or logs in clear.
        assert.deepEqual(secret.inputs.stringData, { [specialSigKey]: specialSecretSig, value: { HF_TOKEN: "hf_test_token" } });
        assert.equal(secret.inputs.metadata.name, "qwen-hf-token");
        const account = resourceNamed("kubernetes:core/v1:ServiceAccount", "sm-f-qwen-service-account");
        assert.deepEqual(account.inputs.secrets, [{ name: "qwen-hf-token" }]);
        assert.equal(account.inputs.automountServiceAccountToken, false);
        const predictor = resourceNamed(ISVC, "sm-f-qwen-inference-service").inputs.spec.predictor;
        assert.equal(predictor.serviceAccountName, account.inputs.metadata.name);
        assert.deepEqual(predictor.model.env.find((e: any) => e.name === "HF_TOKEN").valueFrom, { secretKeyRef: { name: "qwen-hf-token", key: "HF_TOKEN" } });
    });

    it("refuses a GPU model without GPU scheduling, and a token key without its value, before creating anything", async () => {
        const [gpuModel] = stackWith([llmModel]).models;
        const [gatedModel] = stackWith([{ ...cpuModel, hfTokenSecret: "hfToken" }]).models;
        const namespace = new k8s.core.v1.Namespace("sm-g-ns", {}, { provider });
        const base = {
            provider,
            scalerAddress: "a:9090",
            activator: { namespace: "activator", podLabels: {} },
            monitoringNamespace: "monitoring",
            dependencies: { kserve: namespace, keda: namespace, monitoring: namespace, namespace },
        };
        assert.throws(() => new ServerlessModel("sm-g-gpu", { ...base, model: gpuModel }), {
            message: /^ServerlessModel "sm-g-gpu" args\.gpuScheduling: model "qwen" asks for 1 GPU\(s\)/,
        });
        assert.throws(() => new ServerlessModel("sm-g-gated", { ...base, model: gatedModel }), {
            message: /^ServerlessModel "sm-g-gated" args\.hfToken: model "iris" names hfTokenSecret "hfToken"/,
        });
        await settled();
        assert.deepEqual(allResources().filter((r) => r.name.startsWith("sm-g-gpu") || r.name.startsWith("sm-g-gated")).map((r) => r.name), []);
    });
});
