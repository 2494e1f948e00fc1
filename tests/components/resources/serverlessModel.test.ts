import * as assert from "node:assert/strict";
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { MODEL_METADATA_KEY } from "../../../activator/src/index";
import { Activator } from "../../../components/resources/activator";
import type { ModelConfig } from "../../../components/config/models";
import { gcsCredentialFileName, ServerlessModel } from "../../../components/resources/serverlessModel";
import { crdErrors, isCustomKind } from "../../support/crds";
import { inferenceServiceConfigData } from "../../support/upstreamFacts";
import { allResources, dependsOn, kubernetesObjects, RecordedResource, registrationRequestedAt, resetRecorded, resourceNamed, resourcesOfType, settled, setupMocks } from "../../support/mocks";
import { a100Scheduling, cpuModel, llmModel, stackWith } from "../manifests/model/fixtures";
import { kedaRelayAddress } from "../../../components/manifests/charts/keda";

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
    function deploy(prefix: string, rawModels: object[], extra: { hfToken?: string; gcsKey?: string; firstReplicaPolicy?: boolean; admissionSettleMs?: number } = {}) {
        const stack = stackWith(rawModels);
        const awsProvider = new aws.Provider(`${prefix}-aws`, { region: "us-west-2" });
        const release = (chart: string) => new k8s.helm.v3.Release(`${prefix}-${chart}`, { chart, namespace: "x" }, { provider });
        const releases = {
            kserve: release("kserve-crd"),
            keda: release("keda"),
            monitoring: release("kube-prometheus-stack"),
            ...(extra.firstReplicaPolicy
                ? { firstReplicaPolicy: new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(`${prefix}-first-replica-policy`, {}, { provider }) }
                : {}),
        };
        const activator = new Activator(`${prefix}-activator`, {
            config: { ...stack.activator, image: "example.com/activator:1.0.0" },
            models: stack.models,
            provider,
            systemNodeSelector: { "gpu-serverless/node-group": "system" },
            kedaNamespace: "keda",
            monitoringNamespace: "monitoring",
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
                    gcsCredentials: model.gcsCredentialsSecret ? extra.gcsKey : undefined,
                    s3Access: {
                        awsProvider,
                        oidcProviderArn: "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE",
                        oidcIssuer: "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE",
                        region: "us-west-2",
                    },
                    dependencies: { ...releases, namespace: activator.modelNamespaces[model.namespace] },
                    admissionSettleMs: extra.admissionSettleMs,
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

    it("binds a GPU model to the first-replica policy before its InferenceService exists; a CPU model not", async () => {
        deploy("sm-fr", [llmModel, cpuModel], { firstReplicaPolicy: true });
        await settled();
        const Binding = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding";
        const bindings = resourcesOfType(Binding).filter((r) => r.name.startsWith("sm-fr-"));
        assert.deepEqual(bindings.map((b) => b.name), ["sm-fr-qwen-first-replica-binding"]);
        const [binding] = bindings;
        assert.equal(binding.inputs.spec.paramRef.name, resourceNamed("kubernetes:keda.sh/v1alpha1:ScaledObject", "sm-fr-qwen-scaled-object").inputs.metadata.name);
        assert.ok(dependsOn(resourceNamed("kubernetes:serving.kserve.io/v1beta1:InferenceService", "sm-fr-qwen-inference-service"), binding));
        assert.ok(dependsOn(binding, resourceNamed("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy", "sm-fr-first-replica-policy")));
    });

    it("asks for a GPU model's InferenceService only admissionSettleMs after its binding was created (kube-apiserver enforces a binding up to 1 s later)", async () => {
        const settleMs = 600;
        deploy("sm-fs", [llmModel, cpuModel], { firstReplicaPolicy: true, admissionSettleMs: settleMs });
        await settled();
        const at = (type: string, name: string) => registrationRequestedAt(resourceNamed(type, name).urn)!;
        const binding = at("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding", "sm-fs-qwen-first-replica-binding");
        const isvc = at("kubernetes:serving.kserve.io/v1beta1:InferenceService", "sm-fs-qwen-inference-service");
        assert.ok(isvc - binding >= settleMs, `InferenceService asked for ${(isvc - binding).toFixed(0)} ms after its binding (at least ${settleMs})`);
    });

    it("points the one external-push trigger at the KEDA relay (which dials the activator's scaler Service), under the key the activator reads", async () => {
        deploy("sm-c", [llmModel, cpuModel]);
        await settled();
        const scaler = resourceNamed(Service, "sm-c-activator-scaler");
        const statefulSet = resourceNamed(StatefulSet, "sm-c-activator-stateful-set").inputs;
        assert.deepEqual(scaler.inputs.spec.selector, statefulSet.spec.template.metadata.labels);
        const address = kedaRelayAddress;
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

    // A new model must not buy a GPU node: KServe creates the predictor Deployment with one replica (autoscaler class
    // external), KEDA takes it to zero at its first check once the ScaledObject exists; cluster-autoscaler must not
    // act on the pod before that.
    it("starts a new GPU model without a GPU node: ScaledObject right after the InferenceService, pod ignored by cluster-autoscaler meanwhile", async () => {
        deploy("sm-z", [llmModel, cpuModel]);
        await settled();
        const isvc = resourceNamed(ISVC, "sm-z-qwen-inference-service");
        const so = resourceNamed(ScaledObject, "sm-z-qwen-scaled-object");
        // Ordering: the ScaledObject targets the Deployment the InferenceService makes, and follows it at once.
        assert.ok(dependsOn(so, isvc));
        assert.equal(dependsOn(isvc, so), false);
        // KEDA scales an inactive target with no initialCooldownPeriod to zero at its first check.
        assert.ok([undefined, 0].includes(so.inputs.spec.initialCooldownPeriod));
        assert.equal(so.inputs.spec.minReplicaCount, 0);
        const delay = isvc.inputs.spec.predictor.annotations["cluster-autoscaler.kubernetes.io/pod-scale-up-delay"];
        const [, seconds] = /^(\d+)s$/.exec(delay) ?? [];
        assert.ok(+seconds >= so.inputs.spec.pollingInterval + 15, `${delay} covers a first KEDA check plus one polling interval`);
        // CPU models land on system nodes; no delay for them.
        assert.equal(resourceNamed(ISVC, "sm-z-iris-inference-service").inputs.spec.predictor.annotations, undefined);
    });

    /** KServe's `credentials` settings in its inferenceservice-config ConfigMap (v0.20.0). */
    const kserveCredentials = () => inferenceServiceConfigData().credentials;

    it("gives an s3:// model an IRSA role that may only list and read its prefix, on the predictor's ServiceAccount", async () => {
        deploy("sm-s3", [{ ...cpuModel, name: "fraud", namespace: "risk", storageUri: "s3://ml-models/fraud/v3" }]);
        await settled();
        const role = resourceNamed("aws:iam/role:Role", "sm-s3-fraud-storage-role");
        const trust = JSON.parse(role.inputs.assumeRolePolicy);
        assert.deepEqual(trust.Statement[0].Condition.StringEquals, {
            "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE:sub": "system:serviceaccount:risk:fraud-model",
            "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE:aud": "sts.amazonaws.com",
        });
        const policy = resourceNamed("aws:iam/rolePolicy:RolePolicy", "sm-s3-fraud-storage-policy");
        assert.deepEqual(JSON.parse(policy.inputs.policy).Statement, [
            { Effect: "Allow", Action: "s3:ListBucket", Resource: "arn:aws:s3:::ml-models" },
            { Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::ml-models/fraud/v3*" },
        ]);
        const account = resourceNamed("kubernetes:core/v1:ServiceAccount", "sm-s3-fraud-service-account");
        // KServe sets no region of its own (s3Region is empty upstream): the annotation gives boto3 the bucket's.
        assert.equal(kserveCredentials().s3.s3Region, "");
        assert.deepEqual(account.inputs.metadata.annotations, {
            "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/sm-s3-fraud-storage-role",
            "serving.kserve.io/s3-region": "us-west-2",
        });
        assert.ok(dependsOn(account, policy), "the role can read before the ServiceAccount exists");
        assert.equal(resourceNamed(ISVC, "sm-s3-fraud-inference-service").inputs.spec.predictor.serviceAccountName, "fraud-model");
        // Other models get no role.
        deploy("sm-s3b", [cpuModel]);
        await settled();
        assert.equal(resourcesOfType("aws:iam/role:Role").filter((r) => r.name.startsWith("sm-s3b")).length, 0);
    });

    it("mounts a private gs:// bucket's service-account key under the name KServe reads", async () => {
        const key = JSON.stringify({ type: "service_account", private_key: "-----BEGIN PRIVATE KEY-----" });
        deploy("sm-gs", [{ ...cpuModel, gcsCredentialsSecret: "gcsModelReader" }], { gcsKey: key });
        await settled();
        assert.equal(kserveCredentials().gcs.gcsCredentialFileName, gcsCredentialFileName);
        const secret = resourceNamed("kubernetes:core/v1:Secret", "sm-gs-iris-gcs-credentials");
        assert.deepEqual(secret.inputs.stringData, { [specialSigKey]: specialSecretSig, value: { [gcsCredentialFileName]: key } });
        const account = resourceNamed("kubernetes:core/v1:ServiceAccount", "sm-gs-iris-service-account");
        assert.deepEqual(account.inputs.secrets, [{ name: "iris-gcs-credentials" }]);
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
