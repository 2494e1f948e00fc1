/**
 * GpuCluster: the EKS control plane (API authentication, secrets encrypted with our KMS key, control-plane logs on),
 * a CPU system node group for controllers, one managed node group per A100 group (NVIDIA AMI, GPU taint, 0..N nodes
 * with the size left to cluster-autoscaler), the EBS CSI driver for persistent volumes, and the Kubernetes provider
 * every Kubernetes resource of the stack goes through.
 *
 * Node groups are plain `aws.eks.NodeGroup`s with our own launch templates (IMDSv2 only, hop limit 1, encrypted gp3
 * root volumes); the data they are built from lives in `nodeGroups.ts`, the IAM documents in `iamPolicies.ts`.
 */
import { createHash } from "node:crypto";
import * as aws from "@pulumi/aws";
import * as eks from "@pulumi/eks";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ApiEndpointConfig, GpuNodeGroupConfig, SystemNodeGroupConfig } from "../config/schema";
import {
    ebsCsiManagedPolicy,
    ec2TrustPolicy,
    managedPolicyArn,
    nodeManagedPolicies,
    serviceAccountTrustPolicy,
} from "../domain/iamPolicies";
import { adminsBesideCreator, creatorPrincipalArn, creatorSkippedMessage } from "../domain/clusterAdmins";
import { childName } from "../domain/naming";
import { eksGpuTaint, gpuLaunchTemplateData, gpuNodeLabels, systemLaunchTemplateData, systemNodeLabels } from "../domain/nodeGroups";
import { gpuNodeRepairConfig, gpuPoolTaints, nodeMonitoringAgentConfiguration } from "../manifests/nodeMonitoring/agent";

export interface GpuClusterArgs {
    /** Physical EKS cluster name (also in subnet and Auto Scaling group tags). Required. */
    clusterName: string;
    /** Kubernetes version, `1.<minor>`. Required. */
    kubernetesVersion: string;
    /** Provider of every AWS resource (its region is the cluster's). Required. */
    awsProvider: aws.Provider;
    vpcId: pulumi.Input<string>;
    /** Subnets for nodes (and internal load balancers), in at least two zones. */
    privateSubnetIds: pulumi.Input<string[]>;
    /** Subnets for internet-facing load balancers; may be empty. */
    publicSubnetIds: pulumi.Input<string[]>;
    /** Private subnets by zone, for GPU groups pinned to a zone (`availabilityZone`). */
    privateSubnetsByZone: pulumi.Input<Record<string, string[]>>;
    /** Who can reach the API server. Required. */
    apiEndpoint: ApiEndpointConfig;
    /** The CPU node group for controllers. Required. */
    systemNodeGroup: SystemNodeGroupConfig;
    /**
     * Every GPU pool; may be empty. Those with provisioner `cluster-autoscaler` become managed node groups here; all
     * of them count for the node monitoring agent's tolerations.
     */
    gpuNodeGroups: readonly GpuNodeGroupConfig[];
    /** Protect the EKS cluster and its secrets key from deletion. Default false. */
    protect?: boolean;
    /** What nodes need before they can join (NAT routes of a new VPC); node groups wait for it. Default none. */
    networkReady?: pulumi.Resource[];
    /**
     * IAM role/user ARNs that get cluster-admin through EKS access entries. The cluster's creator, which EKS makes
     * admin itself, is skipped with a warning if listed. Default none.
     */
    adminPrincipalArns?: readonly string[];
}

/** Control-plane log types sent to CloudWatch: all of them. */
export const controlPlaneLogTypes = ["api", "audit", "authenticator", "controllerManager", "scheduler"];

/** Days CloudWatch keeps control-plane logs (EKS would otherwise create the group itself, kept forever). */
export const controlPlaneLogRetentionDays = 90;

/** The CloudWatch log group EKS writes control-plane logs to (fixed by EKS). */
export function controlPlaneLogGroupName(clusterName: string): string {
    return `/aws/eks/${clusterName}/cluster`;
}

/** Tag on the control-plane log group naming the IAM principal that created the cluster (written once). */
export const clusterCreatorTag = "gpu-serverless:cluster-creator";

/** EKS access policy giving cluster-admin (arn:<partition>:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy). */
export function clusterAdminAccessEntries(principalArns: readonly string[]) {
    return Object.fromEntries(
        principalArns.map((principalArn) => {
            const partition = principalArn.split(":")[1];
            // Keyed by the principal, so reordering the list replaces nothing.
            const key = `admin-${createHash("sha256").update(principalArn).digest("hex").slice(0, 10)}`;
            return [
                key,
                {
                    principalArn,
                    accessPolicies: {
                        clusterAdmin: {
                            policyArn: `arn:${partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy`,
                            accessScope: { type: "cluster" },
                        },
                    },
                },
            ];
        }),
    );
}

/** Ingress to the API server's private endpoint: 443/TCP from each network and security group, as rule arguments. */
export function privateEndpointIngress(apiEndpoint: Pick<ApiEndpointConfig, "privateAccessCidrs" | "privateAccessSecurityGroupIds">) {
    const rule = { ipProtocol: "tcp", fromPort: 443, toPort: 443 };
    return [
        ...apiEndpoint.privateAccessCidrs.map((cidr) => ({
            key: `cidr-${cidr.replace(/[./]/g, "-")}`,
            args: { ...rule, cidrIpv4: cidr, description: `Kubernetes API from ${cidr}` },
        })),
        ...apiEndpoint.privateAccessSecurityGroupIds.map((sg) => ({
            key: sg,
            args: { ...rule, referencedSecurityGroupId: sg, description: `Kubernetes API from ${sg}` },
        })),
    ];
}

function checkArgs(name: string, args: GpuClusterArgs): void {
    const owner = `GpuCluster "${name}"`;
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,99}$/.test(args.clusterName ?? "")) {
        throw new Error(`${owner} args.clusterName: ${JSON.stringify(args.clusterName)} is not an EKS cluster name (letter, then letters, digits, - or _, at most 100)`);
    }
    if (!args.awsProvider) throw new Error(`${owner} args.awsProvider: required`);
    const names = args.gpuNodeGroups.map((g) => g.name);
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate !== undefined) throw new Error(`${owner} args.gpuNodeGroups: the name ${JSON.stringify(duplicate)} is used twice`);
}

export class GpuCluster extends pulumi.ComponentResource {
    public readonly cluster: eks.Cluster;
    /** EKS cluster name (known once the cluster exists). */
    public readonly clusterName: pulumi.Output<string>;
    /** Kubeconfig (secret): it names the cluster and how to get a token, never a credential, but stays private all the same. */
    public readonly kubeconfig: pulumi.Output<string>;
    /** Provider for every Kubernetes resource; it waits for the system nodes and the EBS CSI driver. */
    public readonly provider: k8s.Provider;
    public readonly oidcProviderArn: pulumi.Output<string>;
    /** OIDC issuer without `https://`, for IRSA trust policies. */
    public readonly oidcIssuer: pulumi.Output<string>;
    public readonly systemNodeGroup: aws.eks.NodeGroup;
    /** The A100 node groups by their config name. */
    public readonly gpuNodeGroups: Record<string, aws.eks.NodeGroup>;
    /** EKS names of the A100 node groups, in config order. */
    public readonly gpuNodeGroupNames: pulumi.Output<string[]>;
    /** Auto Scaling group behind each A100 node group, by config name. */
    public readonly gpuAutoScalingGroupNames: Record<string, pulumi.Output<string>>;
    /** The security group EKS created for the cluster (nodes of managed node groups are in it; Karpenter's too). */
    public readonly clusterSecurityGroupId: pulumi.Output<string>;
    /** Name of the nodes' IAM role (the image cache adds its pull-through permissions to it). */
    public readonly nodeRoleName: pulumi.Output<string>;

    constructor(name: string, args: GpuClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        checkArgs(name, args);
        super("gpu-serverless:cluster:GpuCluster", name, {}, opts);
        const awsOpts = { parent: this, provider: args.awsProvider };
        const partition = aws.getPartitionOutput({}, awsOpts).partition;

        const secretsKey = new aws.kms.Key(
            childName(name, "secrets-key"),
            { description: `Envelope encryption of Kubernetes secrets in EKS cluster ${args.clusterName}`, enableKeyRotation: true, deletionWindowInDays: 30 },
            { ...awsOpts, protect: args.protect },
        );

        // Ours, so that it has a retention and goes with `pulumi destroy` (EKS creates it without either otherwise).
        // It also remembers who created the cluster (the tag is written once, at creation, and never updated), so
        // that a later `pulumi up` by another identity still skips the creator's access entry.
        const caller = aws.getCallerIdentityOutput({}, awsOpts).arn;
        const logGroup = new aws.cloudwatch.LogGroup(
            childName(name, "control-plane-logs"),
            {
                name: controlPlaneLogGroupName(args.clusterName),
                retentionInDays: controlPlaneLogRetentionDays,
                tags: { [clusterCreatorTag]: caller.apply(creatorPrincipalArn) },
            },
            { ...awsOpts, ignoreChanges: [`tags["${clusterCreatorTag}"]`] },
        );
        const admins = args.adminPrincipalArns ?? [];
        const accessEntries = pulumi.output(logGroup.tags).apply((tags) => {
            const creator = tags?.[clusterCreatorTag];
            if (creator === undefined) return clusterAdminAccessEntries(admins);
            const { kept, skipped } = adminsBesideCreator(admins, creator);
            if (skipped.length > 0) pulumi.log.warn(creatorSkippedMessage(skipped, creator), this);
            return clusterAdminAccessEntries(kept);
        });

        const publicEndpoint = args.apiEndpoint.access === "public";
        this.cluster = new eks.Cluster(
            childName(name, "eks"),
            {
                name: args.clusterName,
                version: args.kubernetesVersion,
                authenticationMode: eks.AuthenticationMode.Api,
                vpcId: args.vpcId,
                privateSubnetIds: args.privateSubnetIds,
                publicSubnetIds: args.publicSubnetIds,
                // Nodes and controllers always reach the API inside the VPC; the public endpoint only for listed networks.
                endpointPrivateAccess: true,
                endpointPublicAccess: publicEndpoint,
                publicAccessCidrs: publicEndpoint ? args.apiEndpoint.publicAccessCidrs : undefined,
                encryptionConfigKeyArn: secretsKey.arn,
                enabledClusterLogTypes: controlPlaneLogTypes,
                createOidcProvider: true,
                // Node groups below are managed ones with launch templates; the EKS-created cluster security group
                // covers them, so pulumi-eks' self-managed-node security groups would go unused.
                skipDefaultNodeGroup: true,
                skipDefaultSecurityGroups: true,
                // The VPC CNI as an EKS add-on with its network policy agent on: without it, NetworkPolicies (the
                // models' "activator and Prometheus only") are stored but never enforced.
                useDefaultVpcCni: false,
                vpcCniOptions: { enableNetworkPolicy: true },
                deletionProtection: args.protect ?? false,
                // Explicit: STANDARD upgrades the cluster when its version's standard support ends, instead of
                // moving it into extended support, which bills six times the control-plane price.
                upgradePolicy: { supportType: "STANDARD" },
                // The creator keeps admin (pulumi-eks default); these principals get it too. The map is an Output
                // (the creator is known once AWS answers); pulumi serialises it like any input, the type says plain.
                accessEntries: accessEntries as unknown as ReturnType<typeof clusterAdminAccessEntries>,
            },
            { parent: this, providers: { aws: args.awsProvider }, protect: args.protect, dependsOn: [logGroup] },
        );

        // The private endpoint admits only the cluster security group unless told otherwise; the machines that run
        // pulumi and kubectl are never in it.
        const clusterSecurityGroupId = this.cluster.eksCluster.vpcConfig.clusterSecurityGroupId;
        this.clusterSecurityGroupId = clusterSecurityGroupId;
        const apiIngress = privateEndpointIngress(args.apiEndpoint).map(
            ({ key, args: rule }) =>
                new aws.vpc.SecurityGroupIngressRule(childName(name, `api-from-${key}`), { ...rule, securityGroupId: clusterSecurityGroupId }, awsOpts),
        );
        this.clusterName = this.cluster.eksCluster.name;
        this.oidcProviderArn = this.cluster.oidcProviderArn;
        this.oidcIssuer = this.cluster.oidcIssuer;

        const nodeRole = new aws.iam.Role(childName(name, "node-role"), { assumeRolePolicy: JSON.stringify(ec2TrustPolicy()) }, awsOpts);
        this.nodeRoleName = nodeRole.name;
        const nodePolicies = nodeManagedPolicies.map(
            (policy) =>
                new aws.iam.RolePolicyAttachment(
                    childName(name, `node-${policy}`),
                    { role: nodeRole.name, policyArn: partition.apply((p) => managedPolicyArn(p, policy)) },
                    awsOpts,
                ),
        );
        const nodeGroupOpts = { ...awsOpts, dependsOn: [...nodePolicies, ...(args.networkReady ?? [])], ignoreChanges: ["scalingConfig.desiredSize"] };

        const launchTemplate = (role: string, data: aws.ec2.LaunchTemplateArgs) =>
            new aws.ec2.LaunchTemplate(
                childName(name, `${role}-launch-template`),
                {
                    ...data,
                    description: `${args.clusterName} ${role} nodes`,
                    tagSpecifications: ["instance", "volume"].map((resourceType) => ({ resourceType, tags: { Name: `${args.clusterName}-${role}` } })),
                },
                awsOpts,
            );
        const templateRef = (lt: aws.ec2.LaunchTemplate) => ({ id: lt.id, version: lt.latestVersion.apply(String) });

        const system = args.systemNodeGroup;
        this.systemNodeGroup = new aws.eks.NodeGroup(
            childName(name, "system-nodes"),
            {
                clusterName: this.clusterName,
                nodeGroupNamePrefix: "system-",
                version: args.kubernetesVersion,
                nodeRoleArn: nodeRole.arn,
                subnetIds: args.privateSubnetIds,
                amiType: "AL2023_x86_64_STANDARD",
                capacityType: "ON_DEMAND",
                scalingConfig: { minSize: system.minSize, maxSize: system.maxSize, desiredSize: system.minSize },
                launchTemplate: templateRef(launchTemplate("system", systemLaunchTemplateData(system))),
                labels: systemNodeLabels,
                updateConfig: { maxUnavailable: 1 },
            },
            nodeGroupOpts,
        );

        this.gpuNodeGroups = {};
        this.gpuAutoScalingGroupNames = {};
        for (const group of args.gpuNodeGroups.filter((g) => g.provisioner === "cluster-autoscaler")) {
            const nodeGroup = new aws.eks.NodeGroup(
                childName(name, `gpu-${group.name}`),
                {
                    clusterName: this.clusterName,
                    nodeGroupNamePrefix: `${group.name}-`,
                    version: args.kubernetesVersion,
                    nodeRoleArn: nodeRole.arn,
                    subnetIds: subnetsFor(group, args),
                    // Set explicitly: EKS would otherwise pick the AMI from the instance type, and only this one ships
                    // the NVIDIA driver and container toolkit the device plugin needs.
                    amiType: "AL2023_x86_64_NVIDIA",
                    capacityType: group.capacityType,
                    // Cluster-autoscaler sets the desired size (ignored below); new groups start at their minimum.
                    scalingConfig: { minSize: group.minSize, maxSize: group.maxSize, desiredSize: group.minSize },
                    launchTemplate: templateRef(launchTemplate(`gpu-${group.name}`, gpuLaunchTemplateData(group))),
                    labels: gpuNodeLabels(group),
                    taints: [eksGpuTaint],
                    updateConfig: { maxUnavailable: 1 },
                    // Replace nodes EKS finds unhealthy. Beyond NotReady nodes, that takes the node monitoring agent
                    // add-on below, which reports GPU faults (XID errors, NVLink, DCGM health) as node conditions;
                    // its own DCGM connection failing (DCGMError) is a monitoring fault and repairs nothing.
                    nodeRepairConfig: gpuNodeRepairConfig(),
                },
                nodeGroupOpts,
            );
            this.gpuNodeGroups[group.name] = nodeGroup;
            this.gpuAutoScalingGroupNames[group.name] = nodeGroup.resources.apply((r) => r[0].autoscalingGroups[0].name);
        }
        this.gpuNodeGroupNames = pulumi.all(Object.values(this.gpuNodeGroups).map((g) => g.nodeGroupName));

        // The EBS CSI driver provisions persistent volumes (Prometheus'); it calls EC2 through its own IRSA role.
        const ebsCsiRole = new aws.iam.Role(
            childName(name, "ebs-csi-role"),
            {
                assumeRolePolicy: pulumi
                    .all([this.oidcProviderArn, this.oidcIssuer])
                    .apply(([oidcProviderArn, oidcIssuer]) =>
                        JSON.stringify(serviceAccountTrustPolicy({ oidcProviderArn, oidcIssuer, namespace: "kube-system", serviceAccount: "ebs-csi-controller-sa" })),
                    ),
            },
            awsOpts,
        );
        const ebsCsiPolicy = new aws.iam.RolePolicyAttachment(
            childName(name, "ebs-csi-policy"),
            { role: ebsCsiRole.name, policyArn: partition.apply((p) => managedPolicyArn(p, ebsCsiManagedPolicy)) },
            awsOpts,
        );
        const ebsCsiDriver = new aws.eks.Addon(
            childName(name, "ebs-csi-driver"),
            {
                clusterName: this.clusterName,
                addonName: "aws-ebs-csi-driver",
                serviceAccountRoleArn: ebsCsiRole.arn,
                // Volumes it creates (Prometheus') carry the cluster tag, so any left after a destroy can be found.
                configurationValues: JSON.stringify({ controller: { extraVolumeTags: { "gpu-serverless:cluster": args.clusterName } } }),
                resolveConflictsOnCreate: "OVERWRITE",
                resolveConflictsOnUpdate: "OVERWRITE",
            },
            // Its controller Deployment needs nodes to become active.
            { ...awsOpts, dependsOn: [this.systemNodeGroup, ebsCsiPolicy] },
        );

        // Reports kernel, container-runtime, storage, network and accelerated-hardware faults as node conditions;
        // node repair (on the managed A100 groups) replaces nodes on them. Its agent DaemonSet tolerates every taint and
        // parses the system logs (NVIDIA XID codes among them). GPU health from DCGM needs its `dcgm-server`
        // DaemonSet, which tolerates nothing by default (aws/eks-node-monitoring-agent v1.7.0 chart values
        // `dcgmAgent.tolerations: []`): it gets every GPU pool's taints (manifests/nodeMonitoring/agent.ts).
        const gpuTaints = gpuPoolTaints(args.gpuNodeGroups);
        new aws.eks.Addon(
            childName(name, "node-monitoring-agent"),
            {
                clusterName: this.clusterName,
                addonName: "eks-node-monitoring-agent",
                ...(gpuTaints.length > 0 ? { configurationValues: JSON.stringify(nodeMonitoringAgentConfiguration(gpuTaints)) } : {}),
                resolveConflictsOnCreate: "OVERWRITE",
                resolveConflictsOnUpdate: "OVERWRITE",
            },
            { ...awsOpts, dependsOn: [this.systemNodeGroup] },
        );

        this.kubeconfig = pulumi.secret(this.cluster.kubeconfigJson);
        // Every Kubernetes resource waits for this provider, and so for nodes to run on and volumes to bind.
        this.provider = new k8s.Provider(
            childName(name, "kubernetes"),
            { kubeconfig: this.kubeconfig, enableServerSideApply: true },
            { parent: this, dependsOn: [this.systemNodeGroup, ebsCsiDriver, ...apiIngress] },
        );

        this.registerOutputs({
            cluster: this.cluster,
            provider: this.provider,
            systemNodeGroup: this.systemNodeGroup,
            gpuNodeGroups: this.gpuNodeGroups,
            clusterName: this.clusterName,
            kubeconfig: this.kubeconfig,
            oidcProviderArn: this.oidcProviderArn,
            oidcIssuer: this.oidcIssuer,
            gpuNodeGroupNames: this.gpuNodeGroupNames,
            gpuAutoScalingGroupNames: this.gpuAutoScalingGroupNames,
        });
    }
}

/** A GPU group's subnets: every private subnet, or those of its zone when it is pinned to one. */
function subnetsFor(group: GpuNodeGroupConfig, args: GpuClusterArgs): pulumi.Input<string[]> {
    const zone = group.availabilityZone;
    if (zone === undefined) return args.privateSubnetIds;
    return pulumi.output(args.privateSubnetsByZone).apply((byZone) => zoneSubnets(byZone, zone, group.name));
}

/** The private subnets in `zone`; throws naming the group when there are none. */
export function zoneSubnets(byZone: Record<string, string[]>, zone: string, groupName: string): string[] {
    const ids = byZone[zone];
    if (!ids?.length) {
        throw new Error(
            `gpu-serverless:gpuNodeGroups: group ${groupName} is pinned to ${zone}, but no private subnet is in that zone (zones: ${Object.keys(byZone).join(", ")})`,
        );
    }
    return ids;
}
