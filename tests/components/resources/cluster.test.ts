import * as assert from "node:assert/strict";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { clusterCreatorTag, GpuCluster, GpuClusterArgs, zoneSubnets } from "../../../components/resources/cluster";
import { parseStackConfig } from "../../../components/config/stack";
import { dependsOn, resetRecorded, resourceNamed, resourcesOfType, setupMocks, settled, unwrap } from "../../support/mocks";
import { stackConfig, stackFileValues } from "../config/stackFiles";

const NodeGroup = "aws:eks/nodeGroup:NodeGroup";
const LaunchTemplate = "aws:ec2/launchTemplate:LaunchTemplate";

describe("GpuCluster (mocks)", () => {
    let awsProvider: aws.Provider;
    before(() => {
        setupMocks();
        awsProvider = new aws.Provider("cluster-test-aws", { region: "us-west-2" });
    });
    beforeEach(() => resetRecorded());

    // These tests are about managed node groups: every GPU pool here is a cluster-autoscaler one unless it says otherwise.
    const managed = (groups: unknown, force: boolean) =>
        (groups as Record<string, unknown>[]).map((g) => (force ? { ...g, provisioner: "cluster-autoscaler" } : { provisioner: "cluster-autoscaler", ...g }));
    const argsFor = (overrides: Record<string, unknown> = {}, stack = "dev"): GpuClusterArgs => {
        const groups = overrides.gpuNodeGroups !== undefined ? managed(overrides.gpuNodeGroups, false) : managed(stackFileValues(stack)["gpu-serverless:gpuNodeGroups"], true);
        const config = parseStackConfig(stackConfig(stack, { ...overrides, gpuNodeGroups: groups }));
        return {
            clusterName: "gpu-test",
            kubernetesVersion: config.kubernetesVersion,
            awsProvider,
            vpcId: "vpc-0123456789abcdef0",
            privateSubnetIds: ["subnet-a", "subnet-b", "subnet-c"],
            publicSubnetIds: ["subnet-pa", "subnet-pb"],
            privateSubnetsByZone: { "us-west-2a": ["subnet-a"], "us-west-2b": ["subnet-b"], "us-west-2c": ["subnet-c"] },
            apiEndpoint: config.apiEndpoint,
            systemNodeGroup: config.systemNodeGroup,
            gpuNodeGroups: config.gpuNodeGroups,
            protect: config.protect,
            adminPrincipalArns: config.adminPrincipalArns,
        };
    };

    it("creates an EKS cluster with API auth, no default node group, KMS-encrypted secrets, control-plane logs and enforced NetworkPolicies", async () => {
        const cluster = new GpuCluster("cl-a", argsFor());
        await settled();
        const eks = resourceNamed("eks:index:Cluster", "cl-a-eks").inputs;
        const key = resourceNamed("aws:kms/key:Key", "cl-a-secrets-key");
        assert.ok(dependsOn(resourceNamed("eks:index:Cluster", "cl-a-eks"), key));
        assert.equal(eks.name, "gpu-test");
        assert.equal(eks.authenticationMode, "API");
        assert.equal(eks.skipDefaultNodeGroup, true);
        assert.equal(eks.version, "1.35");
        assert.deepEqual(eks.upgradePolicy, { supportType: "STANDARD" });
        assert.match(eks.encryptionConfigKeyArn, /^arn:aws:kms:us-west-2:123456789012:key\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        assert.equal(key.inputs.enableKeyRotation, true);
        assert.deepEqual(eks.enabledClusterLogTypes, ["api", "audit", "authenticator", "controllerManager", "scheduler"]);
        assert.equal(eks.createOidcProvider, true);
        // The models' NetworkPolicies only take effect with the VPC CNI's network policy agent on.
        assert.equal(eks.useDefaultVpcCni, false);
        assert.equal(eks.vpcCniOptions.enableNetworkPolicy, true);
        assert.deepEqual(eks.privateSubnetIds, ["subnet-a", "subnet-b", "subnet-c"]);
        // dev: public endpoint for the listed CIDRs only, private endpoint on for nodes.
        assert.equal(eks.endpointPublicAccess, true);
        assert.deepEqual(eks.publicAccessCidrs, ["100.20.30.0/24"]);
        assert.equal(eks.endpointPrivateAccess, true);
        assert.equal(await unwrap(cluster.clusterName), "gpu-test");
    });

    it("runs a private-only endpoint for prod", async () => {
        new GpuCluster("cl-b", argsFor({}, "prod"));
        await settled();
        const eks = resourceNamed("eks:index:Cluster", "cl-b-eks").inputs;
        assert.equal(eks.endpointPublicAccess, false);
        assert.equal(eks.endpointPrivateAccess, true);
        assert.equal(eks.publicAccessCidrs, undefined);
        assert.equal(eks.deletionProtection, true);
    });

    it("admits the listed networks and security groups to the private endpoint on 443, before any Kubernetes resource", async () => {
        const apiEndpoint = { access: "private", privateAccessCidrs: ["10.200.0.0/16"], privateAccessSecurityGroupIds: ["sg-0123456789abcdef0"] };
        new GpuCluster("cl-p", argsFor({ apiEndpoint }, "prod"));
        await settled();
        const rules = resourcesOfType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").map((r) => r.inputs);
        const rule = (extra: object) => ({ ipProtocol: "tcp", fromPort: 443, toPort: 443, securityGroupId: "sg-cluster", ...extra });
        assert.deepEqual(
            rules.map(({ description: _d, ...r }) => r),
            [rule({ cidrIpv4: "10.200.0.0/16" }), rule({ referencedSecurityGroupId: "sg-0123456789abcdef0" })],
        );
        const provider = resourceNamed("pulumi:providers:kubernetes", "cl-p-kubernetes");
        for (const r of resourcesOfType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")) assert.ok(dependsOn(provider, r));
    });

    it("gives the listed principals cluster-admin through EKS access entries", async () => {
        const admins = ["arn:aws:iam::123456789012:role/ci-deployer", "arn:aws:iam::123456789012:user/alice"];
        new GpuCluster("cl-x", argsFor({ adminPrincipalArns: admins }));
        await settled();
        const entries = Object.values(resourceNamed("eks:index:Cluster", "cl-x-eks").inputs.accessEntries as Record<string, any>);
        assert.deepEqual(entries.map((e) => e.principalArn), admins);
        for (const e of entries) {
            assert.deepEqual(Object.values(e.accessPolicies), [
                { policyArn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", accessScope: { type: "cluster" } },
            ]);
        }
    });

    it("skips, with one warning, the access entry of a listed principal that is the cluster's creator (EKS made it admin already)", async () => {
        // The mock runtime answers sts:GetCallerIdentity with arn:aws:iam::123456789012:user/plan.
        const warnings: string[] = [];
        const warn = pulumi.log.warn;
        (pulumi.log as any).warn = (message: string) => warnings.push(message);
        try {
            const alice = "arn:aws:iam::123456789012:user/alice";
            new GpuCluster("cl-y", argsFor({ adminPrincipalArns: ["arn:aws:iam::123456789012:user/plan", alice] }));
            await settled();
            const entries = Object.values(resourceNamed("eks:index:Cluster", "cl-y-eks").inputs.accessEntries as Record<string, any>);
            assert.deepEqual(entries.map((e) => e.principalArn), [alice]);
            assert.equal(resourceNamed("aws:cloudwatch/logGroup:LogGroup", "cl-y-control-plane-logs").inputs.tags[clusterCreatorTag], "arn:aws:iam::123456789012:user/plan");
            assert.deepEqual(warnings.filter((w) => w.includes("adminPrincipalArns")), [
                "adminPrincipalArns: arn:aws:iam::123456789012:user/plan is the identity that created the cluster (arn:aws:iam::123456789012:user/plan), which EKS already makes cluster admin; skipping its access entry (a second one would fail pulumi up)",
            ]);
        } finally {
            (pulumi.log as any).warn = warn;
        }
    });

    it("owns the control-plane log group (retention, deleted on destroy) and creates it before the cluster", async () => {
        new GpuCluster("cl-l", argsFor());
        await settled();
        const logGroup = resourceNamed("aws:cloudwatch/logGroup:LogGroup", "cl-l-control-plane-logs");
        assert.equal(logGroup.inputs.name, "/aws/eks/gpu-test/cluster");
        assert.equal(logGroup.inputs.retentionInDays, 90);
        assert.ok(dependsOn(resourceNamed("eks:index:Cluster", "cl-l-eks"), logGroup));
    });

    it("installs the node monitoring agent that node repair acts on, and tags the EBS volumes it creates", async () => {
        new GpuCluster("cl-m", argsFor());
        await settled();
        assert.equal(resourceNamed("aws:eks/addon:Addon", "cl-m-node-monitoring-agent").inputs.addonName, "eks-node-monitoring-agent");
        const repair = resourceNamed(NodeGroup, "cl-m-gpu-a100").inputs.nodeRepairConfig;
        assert.equal(repair.enabled, true);
        assert.deepEqual(
            repair.nodeRepairConfigOverrides.filter((o: any) => o.nodeUnhealthyReason === "DCGMError").map((o: any) => o.repairAction),
            ["NoAction"],
            "a monitoring fault never replaces a node",
        );
        const agent = JSON.parse(resourceNamed("aws:eks/addon:Addon", "cl-m-node-monitoring-agent").inputs.configurationValues);
        assert.deepEqual(agent.dcgmAgent.tolerations, [{ key: "nvidia.com/gpu", operator: "Equal", value: "true", effect: "NoSchedule" }]);
        const ebs = JSON.parse(resourceNamed("aws:eks/addon:Addon", "cl-m-ebs-csi-driver").inputs.configurationValues);
        assert.deepEqual(ebs.controller.extraVolumeTags, { "gpu-serverless:cluster": "gpu-test" });
    });

    it("creates an on-demand system node group of at least two nodes on the standard AMI", async () => {
        new GpuCluster("cl-c", argsFor());
        await settled();
        const system = resourceNamed(NodeGroup, "cl-c-system-nodes").inputs;
        assert.equal(system.amiType, "AL2023_x86_64_STANDARD");
        assert.equal(system.capacityType, "ON_DEMAND");
        assert.deepEqual(system.scalingConfig, { minSize: 2, maxSize: 3, desiredSize: 2 });
        assert.deepEqual(system.labels, { "gpu-serverless.io/node-group": "system" });
        assert.equal(system.taints, undefined);
        assert.equal(resourceNamed(LaunchTemplate, "cl-c-system-launch-template").inputs.instanceType, "m6i.large");
    });

    it("creates one A100 node group per config group: NVIDIA AMI, GPU taint, labels, 0..max with desired size left alone", async () => {
        const groups = [
            { name: "a100", instanceType: "p4d.24xlarge", maxSize: 2, labels: { team: "ml" } },
            { name: "big", instanceType: "p4de.24xlarge", minSize: 1, maxSize: 3, capacityType: "SPOT" },
        ];
        const cluster = new GpuCluster("cl-d", argsFor({ gpuNodeGroups: groups }));
        await settled();
        const a100 = resourceNamed(NodeGroup, "cl-d-gpu-a100");
        assert.equal(a100.inputs.amiType, "AL2023_x86_64_NVIDIA");
        assert.deepEqual(a100.inputs.taints, [{ key: "nvidia.com/gpu", value: "true", effect: "NO_SCHEDULE" }]);
        assert.deepEqual(a100.inputs.labels, {
            team: "ml",
            "gpu-serverless.io/node-group": "a100",
            "gpu-serverless.io/accelerator": "nvidia-a100",
            "nvidia.com/gpu.present": "true",
            "k8s.amazonaws.com/accelerator": "nvidia-tesla-a100",
        });
        assert.deepEqual(a100.inputs.scalingConfig, { minSize: 0, maxSize: 2, desiredSize: 0 });
        assert.equal(a100.inputs.capacityType, "ON_DEMAND");
        assert.deepEqual(a100.inputs.subnetIds, ["subnet-a", "subnet-b", "subnet-c"]);
        assert.equal(a100.inputs.launchTemplate.id, "cl-d-gpu-a100-launch-template-id");
        const big = resourceNamed(NodeGroup, "cl-d-gpu-big").inputs;
        assert.deepEqual([big.capacityType, big.scalingConfig.minSize, big.scalingConfig.maxSize], ["SPOT", 1, 3]);
        assert.deepEqual(await unwrap(cluster.gpuNodeGroupNames), ["cl-d-gpu-a100", "cl-d-gpu-big"]);
        assert.equal(await unwrap(cluster.gpuAutoScalingGroupNames.big), "eks-cl-d-gpu-big-asg");
    });

    it("leaves the desired size of every node group to cluster-autoscaler (ignoreChanges)", async () => {
        // The recorder does not see resource options; a transformation on the component sees every child's.
        const ignored: Record<string, unknown> = {};
        const capture: pulumi.ResourceTransformation = ({ type, name, opts }) => {
            if (type === NodeGroup) ignored[name] = opts.ignoreChanges;
            return undefined;
        };
        new GpuCluster("cl-e", argsFor(), { transformations: [capture] });
        await settled();
        assert.deepEqual(ignored, { "cl-e-system-nodes": ["scalingConfig.desiredSize"], "cl-e-gpu-a100": ["scalingConfig.desiredSize"] });
    });

    it("gives GPU launch templates IMDSv2 only with hop limit 1 and a large encrypted gp3 root volume", async () => {
        new GpuCluster("cl-f", argsFor({ gpuNodeGroups: [{ name: "a100", instanceType: "p4d.24xlarge", rootVolumeSizeGiB: 800 }] }));
        await settled();
        for (const lt of resourcesOfType(LaunchTemplate)) {
            assert.deepEqual(lt.inputs.metadataOptions, { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" }, lt.name);
            const [root] = lt.inputs.blockDeviceMappings;
            assert.equal(root.deviceName, "/dev/xvda");
            assert.equal(root.ebs.volumeType, "gp3");
            assert.equal(root.ebs.encrypted, "true");
        }
        const gpu = resourceNamed(LaunchTemplate, "cl-f-gpu-a100-launch-template").inputs;
        assert.equal(gpu.instanceType, "p4d.24xlarge");
        assert.equal(gpu.blockDeviceMappings[0].ebs.volumeSize, 800);
        assert.equal(gpu.instanceMarketOptions, undefined);
    });

    it("launches a capacity-block group into its reservation, in the reservation's zone", async () => {
        const group = { name: "block", instanceType: "p4de.24xlarge", capacityType: "CAPACITY_BLOCK", capacityReservationId: "cr-0123456789abcdef0", availabilityZone: "us-west-2b" };
        new GpuCluster("cl-g", argsFor({ gpuNodeGroups: [group] }));
        await settled();
        const lt = resourceNamed(LaunchTemplate, "cl-g-gpu-block-launch-template").inputs;
        assert.deepEqual(lt.instanceMarketOptions, { marketType: "capacity-block" });
        assert.deepEqual(lt.capacityReservationSpecification, { capacityReservationTarget: { capacityReservationId: "cr-0123456789abcdef0" } });
        const nodeGroup = resourceNamed(NodeGroup, "cl-g-gpu-block").inputs;
        assert.equal(nodeGroup.capacityType, "CAPACITY_BLOCK");
        assert.deepEqual(nodeGroup.subnetIds, ["subnet-b"]);
    });

    it("creates no managed node group for a Karpenter pool, but still gives dcgm-server its taint", async () => {
        const config = parseStackConfig(stackConfig("dev", { gpuNodeGroups: [{ name: "kp", instanceType: "p4d.24xlarge" }] }));
        const cluster = new GpuCluster("cl-k", { ...argsFor(), gpuNodeGroups: config.gpuNodeGroups });
        await settled();
        assert.deepEqual(resourcesOfType(NodeGroup).filter((g) => g.name.startsWith("cl-k-gpu")), []);
        assert.deepEqual(await unwrap(cluster.gpuNodeGroupNames), []);
        const agent = JSON.parse(resourceNamed("aws:eks/addon:Addon", "cl-k-node-monitoring-agent").inputs.configurationValues);
        assert.deepEqual(agent.dcgmAgent.tolerations, [{ key: "nvidia.com/gpu", operator: "Equal", value: "true", effect: "NoSchedule" }]);
    });

    it("gives nodes a least-privilege role: worker, CNI and ECR pull policies only", async () => {
        new GpuCluster("cl-h", argsFor());
        await settled();
        const role = resourceNamed("aws:iam/role:Role", "cl-h-node-role");
        assert.deepEqual(JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Principal, { Service: "ec2.amazonaws.com" });
        const attached = resourcesOfType("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
            .filter((a) => a.name.startsWith("cl-h-node-"))
            .map((a) => a.inputs.policyArn)
            .sort();
        assert.deepEqual(attached, [
            "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
            "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
            "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
        ]);
        for (const group of resourcesOfType(NodeGroup)) {
            assert.equal(group.inputs.nodeRoleArn, "arn:aws:iam::123456789012:role/cl-h-node-role");
        }
    });

    it("installs the EBS CSI driver with an IRSA role trusted by its service account only", async () => {
        new GpuCluster("cl-i", argsFor());
        await settled();
        const addon = resourceNamed("aws:eks/addon:Addon", "cl-i-ebs-csi-driver");
        assert.equal(addon.inputs.addonName, "aws-ebs-csi-driver");
        const trust = JSON.parse(resourceNamed("aws:iam/role:Role", "cl-i-ebs-csi-role").inputs.assumeRolePolicy).Statement[0];
        assert.equal(trust.Action, "sts:AssumeRoleWithWebIdentity");
        assert.equal(trust.Condition.StringEquals["oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE:sub"], "system:serviceaccount:kube-system:ebs-csi-controller-sa");
        assert.ok(dependsOn(addon, resourceNamed(NodeGroup, "cl-i-system-nodes")), "the addon waits for nodes to run on");
    });

    it("builds the Kubernetes provider from the kubeconfig, after the system nodes and the CSI driver", async () => {
        const cluster = new GpuCluster("cl-j", argsFor());
        await settled();
        const provider = resourceNamed("pulumi:providers:kubernetes", "cl-j-kubernetes");
        // The recorder keeps secrets in their wire form: { <secret signature>: ..., value }.
        assert.equal(JSON.parse(provider.inputs.kubeconfig.value).kind, "Config");
        assert.ok(dependsOn(provider, resourceNamed(NodeGroup, "cl-j-system-nodes")));
        assert.ok(dependsOn(provider, resourceNamed("aws:eks/addon:Addon", "cl-j-ebs-csi-driver")));
        assert.equal(await pulumi.isSecret(cluster.kubeconfig), true);
    });

    it("node groups wait for the network's egress routes", async () => {
        const route = new aws.ec2.Route("cl-k-route", { routeTableId: "rtb-1", destinationCidrBlock: "0.0.0.0/0", natGatewayId: "nat-1" });
        new GpuCluster("cl-k", { ...argsFor(), networkReady: [route] });
        await settled();
        for (const group of resourcesOfType(NodeGroup)) assert.ok(dependsOn(group, resourceNamed("aws:ec2/route:Route", "cl-k-route")), group.name);
    });

    it("refuses a GPU group pinned to a zone without a private subnet", () => {
        const byZone = { "us-west-2a": ["subnet-a"], "us-west-2b": ["subnet-b", "subnet-b2"] };
        assert.deepEqual(zoneSubnets(byZone, "us-west-2b", "a100"), ["subnet-b", "subnet-b2"]);
        assert.throws(() => zoneSubnets(byZone, "us-west-2d", "a100"), /group a100 is pinned to us-west-2d, but no private subnet is in that zone \(zones: us-west-2a, us-west-2b\)/);
    });

    it("refuses invalid arguments before creating anything", () => {
        assert.throws(() => new GpuCluster("cl-m", { ...argsFor(), clusterName: "9bad" }), /GpuCluster "cl-m" args.clusterName/);
    });
});

