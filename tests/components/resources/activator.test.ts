import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { activatorConfigSchema, buildRouteTable, modelKey, parseActivatorConfig, parseApiKeyDigests } from "../../../activator/src/index";
import { Activator } from "../../../components/resources/activator";
import { configFileName } from "../../../components/manifests/activator/names";
import { crdErrors } from "../../support/crds";
import { allResources, dependsOn, mockArnOf, isSecret, resetRecorded, resourceNamed, resourcesOfType, reveal, settled, setupMocks, unwrap } from "../../support/mocks";
import { cpuModel, llmModel, stackWith, testApiKey } from "../manifests/model/fixtures";
import { kedaRelayAddress } from "../../../components/manifests/charts/keda";

const Namespace = "kubernetes:core/v1:Namespace";
const StatefulSet = "kubernetes:apps/v1:StatefulSet";
const Service = "kubernetes:core/v1:Service";
const Secret = "kubernetes:core/v1:Secret";
const ConfigMap = "kubernetes:core/v1:ConfigMap";
const image = "example.com/activator:1.0.0";
const publicWithKeys = { image, exposure: "public", allowedCidrs: ["203.0.113.0/24"], apiKeySecrets: ["activatorApiKey", "ciApiKey"] };
const systemNodeSelector = { "gpu-serverless/node-group": "system" };
const namespaces = { kedaNamespace: "keda", monitoringNamespace: "monitoring" };

describe("Activator (mocks)", () => {
    let provider: k8s.Provider;
    let awsProvider: aws.Provider;
    let monitoring: k8s.helm.v3.Release;
    before(() => {
        setupMocks();
        provider = new k8s.Provider("act-test-k8s", { kubeconfig: "{}" });
        awsProvider = new aws.Provider("act-test-aws", { region: "us-west-2" });
    });
    beforeEach(() => {
        resetRecorded();
        monitoring = new k8s.helm.v3.Release("act-test-monitoring", { chart: "kube-prometheus-stack" }, { provider });
    });

    const twoNamespaces = [llmModel, cpuModel, { ...cpuModel, name: "fraud", format: "xgboost", namespace: "risk", storageUri: "s3://models/fraud/v3" }];

    /** The component for this stack config; API keys as index.ts passes them: Pulumi secrets, one per name. */
    function activator(name: string, rawModels: object[], settings: object = { image }) {
        const stack = stackWith(rawModels, settings);
        const apiKeys = stack.activator.apiKeySecrets.map((key) => pulumi.secret(testApiKey(key)));
        const component = new Activator(name, { config: stack.activator, models: stack.models, apiKeys, provider, awsProvider, systemNodeSelector, ...namespaces, dependencies: { monitoring } });
        return { stack, component };
    }

    describe("queue load scaling: the activator's own IRSA role", () => {
        const queueAccess = {
            oidcProviderArn: "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE",
            oidcIssuer: "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE",
        };
        const jobs = "arn:aws:sqs:us-west-2:123456789012:jobs";
        const nightly = "arn:aws:sqs:us-west-2:123456789012:nightly";
        function withQueues(name: string, rawModels: object[], access = true) {
            const stack = stackWith(rawModels, { image });
            return new Activator(name, {
                config: stack.activator,
                models: stack.models,
                provider,
                awsProvider,
                systemNodeSelector,
                ...namespaces,
                dependencies: { monitoring },
                ...(access ? { awsAccess: { awsProvider, ...queueAccess } } : {}),
            });
        }

        it("may read exactly the configured queues' attributes, trusted by the activator's ServiceAccount alone", async () => {
            withQueues("act-q", [
                { ...cpuModel, queueScaling: { sqsQueueArns: [jobs, nightly], messagesPerReplica: 20 } },
                { ...llmModel, queueScaling: { sqsQueueArns: [jobs] } },
            ]);
            await settled();
            const role = resourceNamed("aws:iam/role:Role", "act-q-aws-role");
            assert.deepEqual(JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Condition.StringEquals, {
                "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE:sub": "system:serviceaccount:activator:activator",
                "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE:aud": "sts.amazonaws.com",
            });
            const policy = resourceNamed("aws:iam/rolePolicy:RolePolicy", "act-q-queue-policy");
            assert.deepEqual(JSON.parse(policy.inputs.policy).Statement, [{ Effect: "Allow", Action: "sqs:GetQueueAttributes", Resource: [jobs, nightly] }]);
            const account = resourceNamed("kubernetes:core/v1:ServiceAccount", "act-q-service-account");
            const roleArn = mockArnOf(role.type, role.name, role.inputs, "us-west-2"); // the role's ARN as the runtime gives it
            assert.equal(account.inputs.metadata.annotations["eks.amazonaws.com/role-arn"], roleArn);
            const statefulSet = resourceNamed(StatefulSet, "act-q-stateful-set");
            assert.equal(statefulSet.inputs.spec.template.metadata.annotations["eks.amazonaws.com/role-arn"], roleArn, "pods are replaced when the role appears");
            assert.ok(dependsOn(statefulSet, policy), "pods start with the permission in place");
            const config = JSON.parse(resourceNamed(ConfigMap, "act-q-config").inputs.data[configFileName]);
            assert.deepEqual(config.models[0].queueScaling, { sqsQueueArns: [jobs, nightly], activationMessages: 1, messagesPerReplica: 20 });
            assert.deepEqual(config.queueReads, { intervalSeconds: 5, timeoutSeconds: 3, maxStalenessSeconds: 15 });
        });

        it("makes no role, no policy and no annotation when no model lists a queue", async () => {
            withQueues("act-nq", [cpuModel]);
            await settled();
            assert.deepEqual(allResources().filter((r) => r.name.startsWith("act-nq-") && r.type.startsWith("aws:iam")), []);
            assert.equal(resourceNamed("kubernetes:core/v1:ServiceAccount", "act-nq-service-account").inputs.metadata.annotations, undefined);
            assert.equal(resourceNamed(StatefulSet, "act-nq-stateful-set").inputs.spec.template.metadata.annotations, undefined);
        });

        it("refuses queues without awsAccess, naming the argument", () => {
            assert.throws(() => withQueues("act-qx", [{ ...cpuModel, queueScaling: { sqsQueueArns: [jobs] } }], false), /awsAccess.*required when a model has queueScaling/);
        });
    });

    it("mounts a config that the activator's own schema accepts and that routes every model", async () => {
        const { stack } = activator("act-a", twoNamespaces);
        await settled();
        const configMap = resourceNamed(ConfigMap, "act-a-config");
        const parsed = parseActivatorConfig(JSON.parse(configMap.inputs.data[configFileName]));
        assert.ok(parsed.ok, parsed.ok ? "" : parsed.errors.join("\n"));
        const table = buildRouteTable(parsed.config.models.map((m) => ({ keys: m, target: modelKey(m) })));
        const routed = new Set([...table.openai.values(), ...table.anyHost.map((r) => r.target)]);
        assert.deepEqual([...routed].sort(), stack.models.map(modelKey).sort());

        const statefulSet = resourceNamed(StatefulSet, "act-a-stateful-set");
        const volume = statefulSet.inputs.spec.template.spec.volumes.find((v: any) => v.configMap);
        assert.equal(volume.configMap.name, configMap.inputs.metadata.name);
        assert.ok(dependsOn(statefulSet, configMap));
    });

    it("creates its namespace and each model namespace once, and may only read (namespaced, plus Nodes and NodeClaims cluster-wide)", async () => {
        activator("act-b", twoNamespaces);
        await settled();
        const namespaces = resourcesOfType(Namespace).filter((n) => n.name.startsWith("act-b-"));
        assert.deepEqual(namespaces.map((n) => n.inputs.metadata.name).sort(), ["activator", "models", "risk"]);
        assert.equal(resourceNamed(Namespace, "act-b-namespace").inputs.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");

        const roles = resourcesOfType("kubernetes:rbac.authorization.k8s.io/v1:Role").filter((r) => r.name.startsWith("act-b-"));
        assert.deepEqual(roles.map((r) => r.inputs.metadata.namespace).sort(), ["activator", "models", "risk"]);
        for (const role of roles) {
            for (const rule of role.inputs.rules) assert.deepEqual(rule.verbs, ["get", "list", "watch"], JSON.stringify(rule));
        }
        // Cluster-wide only what the cold-start timeline reads: one Node by name, Karpenter's NodeClaims; nothing written.
        const clusterRoles = resourcesOfType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").filter((r) => r.name.startsWith("act-b-"));
        assert.deepEqual(
            clusterRoles.map((r) => r.inputs.rules),
            [[{ apiGroups: [""], resources: ["nodes"], verbs: ["get"] }, { apiGroups: ["karpenter.sh"], resources: ["nodeclaims"], verbs: ["list"] }]],
        );
        const clusterBinding = resourceNamed("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "act-b-nodes-binding");
        assert.deepEqual(clusterBinding.inputs.subjects, [{ kind: "ServiceAccount", name: "activator", namespace: "activator" }]);
        assert.equal(clusterBinding.inputs.roleRef.name, clusterRoles[0]!.inputs.metadata.name);
        const binding = resourceNamed("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "act-b-reader-binding-risk");
        assert.deepEqual(binding.inputs.subjects, [{ kind: "ServiceAccount", name: "activator", namespace: "activator" }]);
        assert.ok(dependsOn(binding, resourceNamed(Namespace, "act-b-model-namespace-risk")));
    });

    it("runs the configured image on system nodes with the configured replicas and a disruption budget", async () => {
        const { component } = activator("act-c", [cpuModel], { image, replicas: 3 });
        await settled();
        const spec = resourceNamed(StatefulSet, "act-c-stateful-set").inputs.spec;
        assert.equal(spec.replicas, 3);
        assert.equal(spec.template.spec.containers[0].image, "example.com/activator:1.0.0");
        assert.deepEqual(spec.template.spec.nodeSelector, systemNodeSelector);
        assert.equal(resourceNamed("kubernetes:policy/v1:PodDisruptionBudget", "act-c-disruption-budget").inputs.spec.maxUnavailable, 1);
        assert.equal(await unwrap(component.image), "example.com/activator:1.0.0");
        assert.equal(resourcesOfType("aws:ecr/repository:Repository").length, 0, "a prebuilt image needs no repository");
        assert.equal(resourcesOfType("docker-build:index:Image").length, 0);
    });

    it("exposes an internal NLB, a scaler address per replica's pod DNS name, an admin Service and a ServiceMonitor", async () => {
        const { component } = activator("act-d", [cpuModel], { image, replicas: 3 });
        await settled();
        const proxy = resourceNamed(Service, "act-d-proxy");
        assert.equal(proxy.inputs.spec.type, "LoadBalancer");
        assert.equal(proxy.inputs.metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"], "internal");
        // The StatefulSet's governing headless Service (peer discovery) and the scaler Service KEDA dials.
        const statefulSet = resourceNamed(StatefulSet, "act-d-stateful-set").inputs;
        const pods = resourcesOfType(Service).find((s) => s.name.startsWith("act-d-") && s.inputs.metadata.name === statefulSet.spec.serviceName)!;
        assert.ok(pods, "the StatefulSet's serviceName is a Service the component creates");
        assert.equal(pods.inputs.spec.clusterIP, "None");
        const scaler = resourceNamed(Service, "act-d-scaler").inputs;
        assert.deepEqual(scaler.spec.selector, statefulSet.spec.template.metadata.labels);
        const grpc = statefulSet.spec.template.spec.containers[0].ports.find((p: any) => p.name === "grpc");
        assert.equal(scaler.spec.ports[0].targetPort, grpc.name);
        assert.equal(await unwrap(component.scalerServiceAddress), `${scaler.metadata.name}.${scaler.metadata.namespace}.svc.cluster.local:${scaler.spec.ports[0].port}`);
        assert.equal(await unwrap(component.scalerAddress), kedaRelayAddress, "ScaledObjects name the KEDA relay, which dials the Service");
        assert.equal(statefulSet.spec.replicas, 3);
        assert.deepEqual(resourcesOfType("kubernetes:apps/v1:Deployment").filter((r) => r.name.startsWith("act-d-")), []);
        assert.equal(resourceNamed(Service, "act-d-admin").inputs.spec.type, "ClusterIP");
        const monitor = resourceNamed("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "act-d-service-monitor");
        assert.deepEqual(crdErrors(monitor.inputs as any), []);
        assert.ok(dependsOn(monitor, resourceNamed("kubernetes:helm.sh/v3:Release", "act-test-monitoring")), "the ServiceMonitor waits for the monitoring CRDs");
        // No load balancer address under mocks: the endpoint falls back to the in-cluster name.
        assert.equal(await unwrap(component.endpoint), "http://activator-proxy.activator.svc.cluster.local:80");
    });

    it("opens a public NLB only to the allowed CIDRs", async () => {
        activator("act-e", [cpuModel], publicWithKeys);
        await settled();
        const proxy = resourceNamed(Service, "act-e-proxy");
        assert.equal(proxy.inputs.metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"], "internet-facing");
        assert.deepEqual(proxy.inputs.spec.loadBalancerSourceRanges, ["203.0.113.0/24"]);
    });

    it("with API keys, mounts a secret Secret of their digests where the generated config reads them", async () => {
        activator("act-k", [cpuModel], publicWithKeys);
        await settled();
        const secret = resourceNamed(Secret, "act-k-api-keys");
        assert.equal(secret.inputs.metadata.namespace, "activator");
        assert.ok(isSecret(secret.inputs.stringData), "a Pulumi secret: not in clear in the state");
        const files = reveal<Record<string, string>>(secret.inputs.stringData);
        assert.equal(Object.keys(files).length, 1);
        const [[fileName, text]] = Object.entries(files);
        const keys = publicWithKeys.apiKeySecrets.map(testApiKey);
        const read = parseApiKeyDigests(text);
        assert.ok(read.ok, read.ok ? "" : read.errors.join("\n"));
        assert.deepEqual([...read.digests], keys.map((k) => createHash("sha256").update(k).digest("hex")), "the digests of the keys, in order");
        for (const key of keys) assert.ok(!text.includes(key), "never a key itself");

        // The generated config passes the activator's schema and points at the file where the Secret is mounted.
        const config = activatorConfigSchema.parse(JSON.parse(resourceNamed(ConfigMap, "act-k-config").inputs.data[configFileName]));
        const statefulSet = resourceNamed(StatefulSet, "act-k-stateful-set");
        const pod = statefulSet.inputs.spec.template.spec;
        const volume = pod.volumes.find((v: any) => v.secret?.secretName === secret.inputs.metadata.name);
        assert.ok(volume, "the Secret is a volume of the pod");
        const mount = pod.containers[0].volumeMounts.find((m: any) => m.name === volume.name);
        assert.equal(mount.readOnly, true);
        assert.equal(config.auth?.apiKeysFile, `${mount.mountPath}/${fileName}`);
        assert.ok(dependsOn(statefulSet, secret), "pods start once the Secret exists");
    });

    it("without API keys creates no API keys Secret and leaves authentication off; the peers' token is generated", async () => {
        activator("act-l", [cpuModel]);
        await settled();
        const secrets = resourcesOfType(Secret).filter((r) => r.name.startsWith("act-l-"));
        assert.deepEqual(secrets.map((r) => r.inputs.metadata.name), ["activator-peer-token"]);
        assert.ok(resourceNamed("random:index/randomPassword:RandomPassword", "act-l-peer-token"), "a generated token");
        const config = activatorConfigSchema.parse(JSON.parse(resourceNamed(ConfigMap, "act-l-config").inputs.data[configFileName]));
        assert.equal(config.auth, undefined);
        const volumes = resourceNamed(StatefulSet, "act-l-stateful-set").inputs.spec.template.spec.volumes;
        assert.deepEqual(volumes.filter((v: any) => v.secret).map((v: any) => v.secret.secretName), ["activator-peer-token"]);
    });

    it("without an image, builds ./activator and pushes it to an ECR repository with immutable tags and scan on push", async () => {
        activator("act-f", [cpuModel], {});
        await settled();
        const repository = resourceNamed("aws:ecr/repository:Repository", "act-f-repository");
        assert.equal(repository.inputs.imageTagMutability, "IMMUTABLE");
        assert.deepEqual(repository.inputs.imageScanningConfiguration, { scanOnPush: true });
        const image = resourceNamed("docker-build:index:Image", "act-f-image");
        assert.equal(image.inputs.push, true);
        assert.deepEqual(image.inputs.platforms, ["linux/amd64"]);
        // The repository root is the context: the build installs from the workspace's one lock file.
        assert.ok(fs.existsSync(path.join(image.inputs.context.location, "package-lock.json")));
        assert.match(image.inputs.dockerfile.location, /\/activator\/Dockerfile$/);
        // The repository's URL as ECR computes it (account and region of the mock runtime), tagged by content.
        const url = "123456789012.dkr.ecr.us-west-2.amazonaws.com/act-f-repository";
        assert.match(image.inputs.tags[0], /^123456789012\.dkr\.ecr\.us-west-2\.amazonaws\.com\/act-f-repository:src-[0-9a-f]{16}$/, "one content, one tag: the repository refuses to move a tag");
        assert.deepEqual(
            image.inputs.registries.map((r: any) => ({ address: r.address, username: r.username })),
            [{ address: url, username: "AWS" }],
            "pushes with ECR's docker login",
        );
        assert.ok(dependsOn(image, repository));
        const statefulSet = resourceNamed(StatefulSet, "act-f-stateful-set");
        assert.ok(dependsOn(statefulSet, image), "the StatefulSet runs the image just pushed");
        assert.equal(statefulSet.inputs.spec.template.spec.containers[0].image, `${url}@sha256:${"0".repeat(64)}`, "by the digest just pushed");
    });

    it("lets no port of any activator Service go without a NetworkPolicy rule: scaler only from KEDA's operator, admin only from peers, Prometheus and the batch runner", async () => {
        activator("act-np", [cpuModel]);
        await settled();
        const policies = resourcesOfType("kubernetes:networking.k8s.io/v1:NetworkPolicy").filter((p) => p.name.startsWith("act-np-"));
        assert.equal(policies.length, 1);
        const policy = policies[0].inputs;
        assert.equal(policy.metadata.namespace, "activator");
        const statefulSet = resourceNamed(StatefulSet, "act-np-stateful-set").inputs;
        assert.deepEqual(policy.spec.podSelector.matchLabels, statefulSet.spec.template.metadata.labels);
        const containerPorts = statefulSet.spec.template.spec.containers.flatMap((c: any) => c.ports);
        const ruleFor = (port: number) => policy.spec.ingress.filter((rule: any) => rule.ports.some((p: any) => p.port === port && p.protocol === "TCP"));

        // Every Service this component creates, whatever its name: a new port without a rule fails here.
        const services = resourcesOfType(Service).filter((s) => s.name.startsWith("act-np-"));
        assert.ok(services.length >= 4);
        for (const service of services) {
            for (const port of service.inputs.spec.ports) {
                const target = containerPorts.find((c: any) => c.name === port.targetPort || c.containerPort === port.targetPort);
                assert.ok(target, `${service.name} port ${port.name} targets no container port`);
                assert.equal(ruleFor(target.containerPort).length, 1, `${service.name} port ${port.name} (${target.containerPort}) needs exactly one NetworkPolicy rule`);
            }
        }
        const byName = (name: string) => ruleFor(containerPorts.find((c: any) => c.name === name).containerPort)[0];
        assert.equal(byName("proxy").from, undefined, "clients come through the NLB from anywhere; allowedCidrs filter them");
        const peerOf = (namespace: string, labels: object) => ({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } }, podSelector: { matchLabels: labels } });
        assert.deepEqual(byName("grpc").from, [peerOf("keda", { "app.kubernetes.io/name": "keda-operator" })]);
        assert.deepEqual(byName("admin").from, [
            peerOf("activator", statefulSet.spec.template.metadata.labels),
            peerOf("monitoring", { "app.kubernetes.io/name": "prometheus" }),
            peerOf("activator", { "app.kubernetes.io/name": "batch-runner", "app.kubernetes.io/part-of": "gpu-serverless" }),
        ]);
    });

    it("refuses bad arguments before creating anything", async () => {
        const stack = stackWith([cpuModel]);
        const base = { config: stack.activator, models: stack.models, provider, systemNodeSelector, ...namespaces, dependencies: { monitoring } };
        assert.throws(() => new Activator("act-bad-aws", base), { message: /^Activator "act-bad-aws" args\.awsProvider: required to create the ECR repository/ });
        const inActivatorNamespace = [{ ...stack.models[0], namespace: "activator" }];
        assert.throws(() => new Activator("act-bad-ns", { ...base, awsProvider, models: inActivatorNamespace }), {
            message: /^Activator "act-bad-ns" args\.models: a model uses the activator's namespace "activator"/,
        });
        assert.throws(() => new Activator("act-bad-keda", { ...base, awsProvider, kedaNamespace: "KEDA" }), { message: /^Activator "act-bad-keda" args\.kedaNamespace: / });
        assert.throws(() => new Activator("act-bad-nodes", { ...base, awsProvider, systemNodeSelector: {} }), { message: /args\.systemNodeSelector: must name at least one node label/ });
        const keyed = stackWith([cpuModel], { apiKeySecrets: ["activatorApiKey"] });
        assert.throws(() => new Activator("act-bad-keys", { ...base, awsProvider, config: keyed.activator }), {
            message: /^Activator "act-bad-keys" args\.apiKeys: 0 given for 1 config\.apiKeySecrets \(activatorApiKey\): pass one value per name/,
        });
        await settled();
        assert.deepEqual(allResources().filter((r) => r.name.startsWith("act-bad")).map((r) => r.name), []);
    });
});
