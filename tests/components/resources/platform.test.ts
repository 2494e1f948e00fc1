import * as pulumi from "@pulumi/pulumi";
import * as assert from "node:assert/strict";
import { parseStackConfig } from "../../../components/config/stack";
import { ServerlessGpuPlatform } from "../../../components/resources/platform";
import { chartNames, charts } from "../../../components/domain/versions";
import { allResources, dependsOn, RecordedResource, resetRecorded, resourceNamed, resourcesOfType, setupMocks, settled, unwrap } from "../../support/mocks";
import { stackConfig } from "../config/stackFiles";

const Release = "kubernetes:helm.sh/v3:Release";
const release = (name: string): RecordedResource => resourceNamed(Release, name);

/** What index.ts hands the platform once the activator exists: its image and scaler Service, for the KEDA relay. */
const relayInputs = { image: pulumi.output("activator:test"), scalerServiceAddress: pulumi.output("activator-scaler.gpu-serverless.svc.cluster.local:9090") };

describe("ServerlessGpuPlatform (mocks)", () => {
    let platform: ServerlessGpuPlatform;
    before(async () => {
        setupMocks();
        resetRecorded();
        platform = new ServerlessGpuPlatform("pf", { config: parseStackConfig(stackConfig("dev")), clusterName: "gpu-dev" });
        platform.useActivator(relayInputs);
        await settled();
    });

    it("composes network, cluster, autoscaler and every add-on under itself", () => {
        const root = resourceNamed("gpu-serverless:index:ServerlessGpuPlatform", "pf").urn;
        const children = allResources().filter((r) => r.parent === root).map((r) => `${r.type} ${r.name}`).sort();
        assert.deepEqual(children, [
            "gpu-serverless:autoscaler:ClusterAutoscaler pf-autoscaler",
            "gpu-serverless:cluster:GpuCluster pf-cluster",
            "gpu-serverless:gpuSupport:GpuSupport pf-gpu-support",
            "gpu-serverless:karpenter:Karpenter pf-karpenter",
            "gpu-serverless:keda:Keda pf-keda",
            "gpu-serverless:kserve:KServe pf-kserve",
            "gpu-serverless:monitoring:Monitoring pf-monitoring",
            "gpu-serverless:network:Network pf-network",
            // The dev stack turns the endpoints on (docs/cold-start.md); the image cache and warm nodes stay off.
            "gpu-serverless:network:VpcEndpoints pf-vpc-endpoints",
            "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy pf-first-replica-policy",
            "pulumi:providers:aws pf-aws",
        ]);
    });

    it("attaches the S3 gateway endpoint to every private route table and the ECR endpoints to the private subnets", async () => {
        const endpoint = (n: string) => resourceNamed("aws:ec2/vpcEndpoint:VpcEndpoint", `pf-vpc-endpoints-${n}`).inputs;
        const privateTables = resourcesOfType("aws:ec2/routeTable:RouteTable").filter((r) => /private-\d-routes$/.test(r.name));
        assert.equal(endpoint("s3").serviceName, "com.amazonaws.us-west-2.s3");
        assert.equal(endpoint("s3").routeTableIds.length, privateTables.length);
        for (const n of ["ecr-api", "ecr-dkr"]) {
            assert.equal(endpoint(n).vpcEndpointType, "Interface");
            assert.equal(endpoint(n).privateDnsEnabled, true);
            assert.equal(endpoint(n).subnetIds.length, 3);
        }
        assert.deepEqual(resourcesOfType("aws:ecr/pullThroughCacheRule:PullThroughCacheRule"), []);
        assert.equal(release("pf-kserve-runtimes").inputs.values.kserve.servingruntime.huggingfaceserver, undefined, "no image rewrite without imageCache");
    });

    it("installs every pinned chart once, at its pinned version", () => {
        const installed = resourcesOfType(Release).map((r) => [r.inputs.chart.replace(/^oci:\/\/(ghcr\.io\/kserve\/charts|public\.ecr\.aws\/karpenter)\//, ""), r.inputs.version]);
        assert.deepEqual(installed.sort(), chartNames.map((c) => [c, charts[c].version]).sort());
    });

    it("uses the configured region for AWS", () => {
        assert.equal(resourceNamed("pulumi:providers:aws", "pf-aws").inputs.region, "us-west-2");
    });

    it("orders releases: ServiceMonitor users after monitoring, KServe after cert-manager and its CRDs", () => {
        const monitoring = release("pf-monitoring-kube-prometheus-stack");
        for (const name of ["pf-gpu-support-dcgm-exporter", "pf-keda-release", "pf-autoscaler-release"]) {
            assert.ok(dependsOn(release(name), monitoring), `${name} waits for the monitoring CRDs`);
        }
        const controller = release("pf-kserve-controller");
        assert.ok(dependsOn(controller, release("pf-kserve-cert-manager")));
        assert.ok(dependsOn(controller, release("pf-kserve-crds")));
    });

    it("puts the Kubernetes provider after the system nodes and the EBS CSI driver", () => {
        const provider = resourceNamed("pulumi:providers:kubernetes", "pf-cluster-kubernetes");
        assert.ok(dependsOn(provider, resourceNamed("aws:eks/nodeGroup:NodeGroup", "pf-cluster-system-nodes")));
        assert.ok(dependsOn(provider, resourceNamed("aws:eks/addon:Addon", "pf-cluster-ebs-csi-driver")));
    });

    it("places controllers on system nodes and GPU daemons on the A100 nodes", () => {
        const system = { "gpu-serverless.io/node-group": "system" };
        assert.deepEqual(release("pf-autoscaler-release").inputs.values.nodeSelector, system);
        assert.deepEqual(platform.systemNodeSelector, system);
        assert.deepEqual(platform.gpuScheduling, {
            a100: {
                nodeSelector: { "gpu-serverless.io/node-group": "a100" },
                tolerations: [{ key: "nvidia.com/gpu", operator: "Equal", value: "true", effect: "NoSchedule" }],
            },
        });
    });

    it("exposes what later components need", async () => {
        const crd = platform.crdReleases;
        assert.deepEqual(platform.namespaces, { monitoring: "monitoring", keda: "keda", kserve: "kserve", certManager: "cert-manager", gpu: "nvidia" });
        assert.equal(await unwrap(platform.prometheusUrl), "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090");
        assert.equal(await unwrap(platform.grafanaAdminPassword), "<generated at deploy time>");
        assert.equal(await unwrap(platform.clusterName), "gpu-dev");
        // The dev stack's pool is a Karpenter one: no managed node group.
        assert.deepEqual(await unwrap(platform.gpuNodeGroupNames), []);
        assert.equal(await unwrap(crd.firstReplicaPolicy.urn), resourceNamed("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy", "pf-first-replica-policy").urn);
        assert.ok(dependsOn(resourceNamed("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy", "pf-first-replica-policy"), release("pf-keda-release")));
        assert.equal(await unwrap(crd.keda.urn), release("pf-keda-release").urn);
        // The KEDA relay beside the operator runs the activator's image and dials its scaler Service.
        const [relay] = release("pf-keda-release").inputs.values.operator.extraContainers;
        assert.equal(relay.image, "activator:test");
        assert.deepEqual(relay.args.slice(-2), ["--upstream", "activator-scaler.gpu-serverless.svc.cluster.local:9090"]);
        assert.equal(await unwrap(crd.monitoring.urn), release("pf-monitoring-kube-prometheus-stack").urn);
        // Models wait for the runtimes, which wait for the controller: no InferenceService meets "no runtime found".
        // Our vLLM runtime, which comes after the chart's runtimes: models wait for both.
        assert.equal(await unwrap(crd.kserve.urn), resourceNamed("kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime", "pf-kserve-vllm-runtime").urn);
        assert.ok(dependsOn(resourceNamed("kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime", "pf-kserve-vllm-runtime"), release("pf-kserve-runtimes")));
        assert.ok(dependsOn(release("pf-kserve-runtimes"), release("pf-kserve-controller")));
        assert.equal(await unwrap(platform.awsProvider.urn), resourceNamed("pulumi:providers:aws", "pf-aws").urn);
    });
});

describe("ServerlessGpuPlatform with imageCache.pullThroughCache (mocks)", () => {
    before(async () => {
        setupMocks();
        resetRecorded();
        const credentials = '{"username":"u","accessToken":"t"}';
        const cache = { pullThroughCache: true, dockerHubCredentialsSecret: "dockerHubPullToken", githubCredentialsSecret: "githubPullToken" };
        const config = parseStackConfig(stackConfig("dev", { imageCache: cache, dockerHubPullToken: credentials, githubPullToken: credentials }));
        new ServerlessGpuPlatform("pc", { config, clusterName: "gpu-dev", registryCredentials: { "docker.io": credentials, "ghcr.io": credentials } }).useActivator(relayInputs);
        await settled();
    });

    it("gives the pull-through policy to every node role, Karpenter's included, so its GPU nodes may pull through the cache", () => {
        // The roles nodes run as: those EC2 may assume (the managed node groups' and Karpenter's).
        const nodeRoles = resourcesOfType("aws:iam/role:Role").filter((r) => JSON.parse(r.inputs.assumeRolePolicy).Statement[0].Principal.Service === "ec2.amazonaws.com");
        assert.deepEqual(nodeRoles.map((r) => r.name).sort(), ["pc-cluster-node-role", "pc-karpenter-node-role"]);
        // The mock runtime leaves role names to deploy time (the policies' role inputs are unknown here): one policy
        // per node role; ImageCache's own test checks each names its role.
        const policies = resourcesOfType("aws:iam/rolePolicy:RolePolicy").filter((p) => p.name.startsWith("pc-image-cache-node-pull-through"));
        assert.equal(policies.length, nodeRoles.length, policies.map((p) => p.name).join(", "));
        for (const p of policies) assert.deepEqual(JSON.parse(p.inputs.policy).Statement[0].Action, ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"]);
    });
});
