/**
 * `pulumi destroy` leaves nothing billable: every resource the prod and dev programs register, and every AWS resource
 * the cluster creates on their behalf, is accounted for. A new resource type fails here until someone says how it
 * goes away (docs/destroy.md lists what cannot be checked without AWS).
 */
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { allResources, dependsOn, kubernetesObjects, resetRecorded, resourcesOfType, setupMocks, settled } from "./support/mocks";
import { stackConfig } from "./components/config/stackFiles";

/**
 * How each AWS resource type the program registers leaves on destroy. `pulumi` = Pulumi deletes it and AWS bills
 * nothing after; the others name the setting that makes deletion complete.
 */
const awsDestroy: Record<string, string> = {
    "aws:cloudwatch/logGroup:LogGroup": "pulumi (ours, so EKS does not create one that outlives the cluster)",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "pulumi (forgotten; AWS deletes it with the VPC)",
    "aws:ec2/eip:Eip": "pulumi",
    "aws:ec2/internetGateway:InternetGateway": "pulumi",
    "aws:ec2/launchTemplate:LaunchTemplate": "pulumi",
    "aws:ec2/natGateway:NatGateway": "pulumi",
    "aws:ec2/route:Route": "pulumi",
    "aws:ec2/routeTable:RouteTable": "pulumi",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "pulumi",
    "aws:ec2/subnet:Subnet": "pulumi",
    "aws:ec2/vpc:Vpc": "pulumi",
    "aws:ec2/tag:Tag": "pulumi",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "pulumi",
    "aws:ecr/repository:Repository": "forceDelete (images pushed by the build are deleted with it)",
    "aws:eks/addon:Addon": "pulumi",
    "aws:eks/nodeGroup:NodeGroup": "pulumi (root volumes deleteOnTermination)",
    "aws:eks/cluster:Cluster": "pulumi (deletionProtection only with protect)",
    "aws:eks/accessEntry:AccessEntry": "pulumi",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": "pulumi",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "pulumi",
    "aws:iam/role:Role": "pulumi",
    "aws:iam/rolePolicy:RolePolicy": "pulumi",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "pulumi",
    "aws:autoscaling/tag:Tag": "pulumi",
    "aws:kms/key:Key": "pulumi (scheduled for deletion after deletionWindowInDays)",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "pulumi",
    "aws:ec2/securityGroup:SecurityGroup": "pulumi",
    "aws:ec2/securityGroupRule:SecurityGroupRule": "pulumi",
    "aws:iam/instanceProfile:InstanceProfile": "pulumi (Karpenter's nodes; its EC2NodeClasses, deleted first, name it)",
    "aws:sqs/queue:Queue": "pulumi",
    "aws:sqs/queuePolicy:QueuePolicy": "pulumi",
    "aws:cloudwatch/eventRule:EventRule": "pulumi",
    "aws:cloudwatch/eventTarget:EventTarget": "pulumi",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "pulumi (interface endpoints' network interfaces go with them)",
    "aws:ecr/pullThroughCacheRule:PullThroughCacheRule":
        "pulumi; the repositories ECR creates on first pull through a rule are not Pulumi's and stay (billed per GB): delete them with aws ecr delete-repository --force (README)",
    "aws:secretsmanager/secret:Secret": "pulumi (recoveryWindowInDays 0: deleted at once, so a new stack can reuse the ecr-pullthroughcache/ name)",
    "aws:secretsmanager/secretVersion:SecretVersion": "pulumi",
};

/**
 * Rows that are documentation, not checked here: `eks.Cluster` creates these inside itself, and under mocks it is one
 * opaque resource (`eks:index:Cluster`), so the program never registers them where a test can see them. What they
 * say is checked on the cluster's inputs instead (deletionProtection below) or holds for EKS itself.
 */
const insideEksCluster = new Set([
    "aws:eks/cluster:Cluster",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:ec2/securityGroupRule:SecurityGroupRule",
]);

/** Rows checked by another suite: subnet tags exist only with an existing VPC (tests/components/resources/network.test.ts). */
const checkedElsewhere = new Set(["aws:ec2/tag:Tag"]);

/** AWS types the dev and prod runs below registered: every other row of awsDestroy must be among them. */
const registered = new Set<string>();

function run(stack: string, overrides: Record<string, unknown> = {}) {
    setupMocks({ project: "gpu-serverless", stack, config: stackConfig(stack, overrides) });
    resetRecorded();
    // Fresh load of the program per stack.
    delete require.cache[require.resolve("../index")];
    require("../index");
}

for (const [stack, overrides] of [
    ["dev", {}],
    // prod with a model from S3, so its IAM role is registered too, every image cache resource, and a second GPU pool
    // on cluster-autoscaler (a managed node group with its Auto Scaling group tags) beside the Karpenter one.
    [
        "prod",
        {
            gpuNodeGroups: [
                { name: "a100-80gb", provisioner: "karpenter", instanceType: "p4de.24xlarge", minSize: 0, maxSize: 4, rootVolumeSizeGiB: 1000 },
                { name: "a100-ca", provisioner: "cluster-autoscaler", instanceType: "p4d.24xlarge", minSize: 0, maxSize: 1 },
            ],
            models: [{ name: "fraud", format: "xgboost", storageUri: "s3://ml-models/fraud/v3" }],
            protect: false,
            imageCache: { pullThroughCache: true, dockerHubCredentialsSecret: "dockerHubPull", githubCredentialsSecret: "githubPull", nvcrMirror: true },
            dockerHubPull: '{"username":"u","accessToken":"t"}',
            githubPull: '{"username":"u","accessToken":"t"}',
        },
    ],
] as const) {
    describe(`pulumi destroy, ${stack} stack (mocks)`, () => {
        before(async () => {
            run(stack, overrides);
            await settled();
        });
        after(() => {
            pulumi.runtime.setAllConfig({});
            // Other suites load the program themselves.
            delete require.cache[require.resolve("../index")];
        });

        it("knows how every AWS resource type it registers goes away", () => {
            const types = [...new Set(allResources().filter((r) => r.custom && r.type.startsWith("aws:")).map((r) => r.type))].sort();
            const unaccounted = types.filter((t) => !(t in awsDestroy));
            assert.deepEqual(unaccounted, [], "add each to awsDestroy with how destroy removes it");
            for (const t of types) registered.add(t);
            assert.deepEqual(types.filter((t) => insideEksCluster.has(t)), [], "registered now: move it out of insideEksCluster, it is checked");
        });

        it("empties and deletes the ECR repository, lets the cluster go, schedules the key for deletion", () => {
            for (const repo of resourcesOfType("aws:ecr/repository:Repository")) assert.equal(repo.inputs.forceDelete, true, repo.name);
            for (const cluster of resourcesOfType("eks:index:Cluster")) assert.equal(cluster.inputs.deletionProtection, false);
            for (const key of resourcesOfType("aws:kms/key:Key")) assert.ok(key.inputs.deletionWindowInDays <= 30);
            assert.equal(resourcesOfType("aws:cloudwatch/logGroup:LogGroup").length, 1, "the control-plane log group is ours");
        });

        it("deletes the EBS volumes the cluster creates for claims, with their claims", () => {
            // Every StorageClass we create deletes its volumes; no claim outlives the StatefulSet that made it.
            for (const sc of kubernetesObjects().filter((r) => r.inputs.kind === "StorageClass")) {
                assert.equal(sc.inputs.reclaimPolicy, "Delete", sc.name);
            }
            const monitoring = resourcesOfType("kubernetes:helm.sh/v3:Release").find((r) => r.inputs.chart === "kube-prometheus-stack")!;
            assert.deepEqual(monitoring.inputs.values.prometheus.prometheusSpec.persistentVolumeClaimRetentionPolicy, { whenDeleted: "Delete", whenScaled: "Retain" });
            for (const release of resourcesOfType("kubernetes:helm.sh/v3:Release")) {
                const text = JSON.stringify(release.inputs.values ?? {});
                if (release.inputs.chart !== "kube-prometheus-stack") assert.ok(!/"persistence":\{"enabled":true/.test(text), `${release.name} asks for no volume`);
            }
        });

        it("terminates Karpenter's instances before Karpenter goes: NodePool, then EC2NodeClass, then the release", () => {
            // Instances Karpenter launched are no Pulumi resources. Deleting a NodePool deletes its NodeClaims, whose
            // finalizer terminates the instance; the EC2NodeClass's finalizer holds its deletion until no NodeClaim
            // uses it (aws/karpenter-provider-aws v1.14.1 pkg/controllers/nodeclass/controller.go L219-L225, finalize). Pulumi
            // deletes in reverse dependency order, so the controller is still running while they go.
            const release = resourcesOfType("kubernetes:helm.sh/v3:Release").find((r) => r.inputs.chart === "oci://public.ecr.aws/karpenter/karpenter");
            const nodePools = resourcesOfType("kubernetes:karpenter.sh/v1:NodePool");
            assert.ok(release && nodePools.length > 0, "the stack's GPU pools are Karpenter's");
            for (const nodePool of nodePools) {
                const nodeClass = resourcesOfType("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass").find((c) => c.inputs.metadata.name === nodePool.inputs.spec.template.spec.nodeClassRef.name)!;
                assert.ok(dependsOn(nodePool, nodeClass), `${nodePool.name} goes before its EC2NodeClass`);
                assert.ok(dependsOn(nodeClass, release), `${nodeClass.name} goes before the controller`);
            }
        });

        it("makes load balancers only through Services, whose deletion Pulumi waits for (the cloud provider's finalizer)", () => {
            // The only AWS load balancer comes from a Service of type LoadBalancer, a Pulumi resource: deleting it
            // waits until the Service is gone, which its load-balancer-cleanup finalizer holds until the NLB is.
            const balancers = kubernetesObjects().filter((r) => r.inputs.kind === "Service" && r.inputs.spec?.type === "LoadBalancer");
            assert.deepEqual(balancers.map((r) => r.inputs.metadata.name), ["activator-proxy"]);
            const ingresses = kubernetesObjects().filter((r) => r.inputs.kind === "Ingress");
            assert.deepEqual(ingresses, []);
        });
    });
}

describe("pulumi destroy: which rows of the table are checked", () => {
    it("registers, in the dev or prod stack, every AWS type the table lists except the documented ones", () => {
        const unchecked = Object.keys(awsDestroy).filter((t) => !registered.has(t) && !insideEksCluster.has(t) && !checkedElsewhere.has(t));
        assert.deepEqual(unchecked, [], "no stack registers these: remove the row, or say where it is created");
    });
});
