/**
 * Karpenter: the provisioner of the GPU pools whose `provisioner` is `karpenter` (config `gpuNodeGroups[].provisioner`).
 *
 * Creates, in AWS: the node role (the managed node groups' policies) with an instance profile and an EC2_LINUX
 * access entry so its nodes can join; the controller's IRSA role, trusted by its one service account, with the
 * policy of domain/karpenterIam.ts; the SQS interruption queue and the EventBridge rules that feed it
 * (domain/karpenterInterruption.ts). In the cluster: the `karpenter` chart on the system nodes (its CRDs come with
 * it), then one EC2NodeClass and one NodePool per pool (manifests/karpenter/nodePool.ts).
 * Source of the AWS side: aws/karpenter-provider-aws v1.14.1 getting-started cloudformation.yaml.
 */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { GpuNodeGroupConfig } from "../config/schema";
import { interruptionQueuePolicy, karpenterControllerPolicy } from "../domain/karpenterIam";
import { interruptionQueueSettings, interruptionRules } from "../domain/karpenterInterruption";
import { ec2TrustPolicy, managedPolicyArn, nodeManagedPolicies, serviceAccountTrustPolicy } from "../domain/iamPolicies";
import { gpuEc2NodeClass, gpuNodePool, karpenterPoolName } from "../manifests/karpenter/nodePool";
import { karpenterServiceAccount, karpenterValues } from "../manifests/karpenter/values";
import { childName } from "../domain/naming";
import { ChartVersionOverrides, releaseSource, resolveChart } from "../domain/versions";

export interface KarpenterArgs {
    /** Physical EKS cluster name. Required. */
    clusterName: string;
    /** Region of the cluster. Required. */
    region: string;
    awsProvider: aws.Provider;
    provider: k8s.Provider;
    /** The cluster's IAM OIDC provider and issuer (without `https://`), for IRSA. */
    oidcProviderArn: pulumi.Input<string>;
    oidcIssuer: pulumi.Input<string>;
    /** Private node subnets and the cluster security group, for the EC2NodeClasses. */
    privateSubnetIds: pulumi.Input<string[]>;
    clusterSecurityGroupId: pulumi.Input<string>;
    /** The pools Karpenter provisions; may be empty (then nothing is created). */
    pools: readonly GpuNodeGroupConfig[];
    /** How long a GPU node stays empty before it goes (Go duration, e.g. `10m`). */
    consolidateAfter: string;
    systemNodeSelector: Record<string, string>;
    /** Release installing the ServiceMonitor CRD: when set, a ServiceMonitor is created and the release waits for it. */
    monitoringRelease?: pulumi.Resource;
    chartVersions?: ChartVersionOverrides;
}

/** SQS queue name for a cluster (SQS: at most 80 of A-Z a-z 0-9 - _). */
export function interruptionQueueName(clusterName: string): string {
    return `${clusterName}-karpenter`.slice(0, 80);
}

export class Karpenter extends pulumi.ComponentResource {
    public readonly release: k8s.helm.v3.Release;
    public readonly nodeRole: aws.iam.Role;
    public readonly controllerRole: aws.iam.Role;
    public readonly queue: aws.sqs.Queue;
    /** The NodePools by pool name. */
    public readonly nodePools: Record<string, k8s.apiextensions.CustomResource>;

    constructor(name: string, args: KarpenterArgs, opts?: pulumi.ComponentResourceOptions) {
        const owner = `Karpenter "${name}"`;
        if (!args.clusterName) throw new Error(`${owner} args.clusterName: required`);
        const chart = resolveChart("karpenter", args.chartVersions);
        // Fail before any resource exists: the builder checks each pool.
        const nodePoolManifests = args.pools.map((pool) => gpuNodePool(pool, { consolidateAfter: args.consolidateAfter }));
        super("gpu-serverless:karpenter:Karpenter", name, {}, opts);
        const awsOpts = { parent: this, provider: args.awsProvider };
        const partition = aws.getPartitionOutput({}, awsOpts).partition;
        const accountId = aws.getCallerIdentityOutput({}, awsOpts).accountId;

        // Nodes: their own role, so the access entry is ours (EKS made the managed node groups' one for their role).
        this.nodeRole = new aws.iam.Role(childName(name, "node-role"), { assumeRolePolicy: JSON.stringify(ec2TrustPolicy()) }, awsOpts);
        const nodePolicies = nodeManagedPolicies.map(
            (policy) =>
                new aws.iam.RolePolicyAttachment(
                    childName(name, `node-${policy}`),
                    { role: this.nodeRole.name, policyArn: partition.apply((p) => managedPolicyArn(p, policy)) },
                    awsOpts,
                ),
        );
        const instanceProfile = new aws.iam.InstanceProfile(childName(name, "node-profile"), { role: this.nodeRole.name }, awsOpts);
        const accessEntry = new aws.eks.AccessEntry(
            childName(name, "node-access"),
            { clusterName: args.clusterName, principalArn: this.nodeRole.arn, type: "EC2_LINUX" },
            awsOpts,
        );

        this.queue = new aws.sqs.Queue(
            childName(name, "interruption-queue"),
            {
                name: interruptionQueueName(args.clusterName),
                messageRetentionSeconds: interruptionQueueSettings.messageRetentionSeconds,
                sqsManagedSseEnabled: interruptionQueueSettings.sqsManagedSseEnabled,
            },
            awsOpts,
        );
        const queuePolicy = new aws.sqs.QueuePolicy(
            childName(name, "interruption-queue-policy"),
            { queueUrl: this.queue.url, policy: this.queue.arn.apply((arn) => JSON.stringify(interruptionQueuePolicy(arn))) },
            awsOpts,
        );
        const rules = interruptionRules.map((r) => {
            const rule = new aws.cloudwatch.EventRule(
                childName(name, r.key),
                { description: `${args.clusterName}: ${r.description} → Karpenter`, eventPattern: JSON.stringify(r.eventPattern) },
                awsOpts,
            );
            return new aws.cloudwatch.EventTarget(childName(name, `${r.key}-target`), { rule: rule.name, arn: this.queue.arn }, { ...awsOpts, dependsOn: [queuePolicy] });
        });

        const { namespace, name: serviceAccount } = karpenterServiceAccount;
        this.controllerRole = new aws.iam.Role(
            childName(name, "controller-role"),
            {
                assumeRolePolicy: pulumi
                    .all([args.oidcProviderArn, args.oidcIssuer])
                    .apply(([oidcProviderArn, oidcIssuer]) => JSON.stringify(serviceAccountTrustPolicy({ oidcProviderArn, oidcIssuer, namespace, serviceAccount }))),
            },
            awsOpts,
        );
        const controllerPolicy = new aws.iam.RolePolicy(
            childName(name, "controller-policy"),
            {
                role: this.controllerRole.name,
                policy: pulumi
                    .all([partition, accountId, this.nodeRole.arn, this.queue.arn])
                    .apply(([p, account, nodeRoleArn, queueArn]) =>
                        JSON.stringify(
                            karpenterControllerPolicy({ partition: p, region: args.region, accountId: account, clusterName: args.clusterName }, { nodeRoleArn, queueArn }),
                        ),
                    ),
            },
            awsOpts,
        );

        this.release = new k8s.helm.v3.Release(
            childName(name, "release"),
            {
                name: "karpenter",
                namespace,
                ...releaseSource(chart),
                values: this.controllerRole.arn.apply((roleArn) =>
                    karpenterValues({
                        clusterName: args.clusterName,
                        interruptionQueue: interruptionQueueName(args.clusterName),
                        roleArn,
                        systemNodeSelector: args.systemNodeSelector,
                        serviceMonitor: args.monitoringRelease !== undefined,
                    }),
                ),
            },
            {
                parent: this,
                provider: args.provider,
                dependsOn: [controllerPolicy, ...rules, ...(args.monitoringRelease ? [args.monitoringRelease] : [])],
            },
        );

        const k8sOpts = { parent: this, provider: args.provider, dependsOn: [this.release, accessEntry, ...nodePolicies] };
        this.nodePools = {};
        args.pools.forEach((pool, i) => {
            const refs = pulumi
                .all([pulumi.output(args.privateSubnetIds), pulumi.output(args.clusterSecurityGroupId), instanceProfile.name])
                .apply(([subnetIds, sg, profile]) => ({ clusterName: args.clusterName, instanceProfile: profile, subnetIds, securityGroupIds: [sg] }));
            // Kind and name are known up front (Pulumi needs them to plan); the spec waits for the ids.
            const { apiVersion, kind, metadata } = gpuEc2NodeClass(pool, { clusterName: args.clusterName, instanceProfile: "-", subnetIds: ["-"], securityGroupIds: ["-"] });
            const nodeClass = new k8s.apiextensions.CustomResource(
                childName(name, `${karpenterPoolName(pool)}-node-class`),
                { apiVersion, kind, metadata, spec: refs.apply((r) => gpuEc2NodeClass(pool, r).spec) },
                k8sOpts,
            );
            this.nodePools[pool.name] = new k8s.apiextensions.CustomResource(
                childName(name, `${karpenterPoolName(pool)}-node-pool`),
                nodePoolManifests[i] as unknown as k8s.apiextensions.CustomResourceArgs,
                { ...k8sOpts, dependsOn: [...k8sOpts.dependsOn, nodeClass] },
            );
        });

        this.registerOutputs({ release: this.release, nodeRole: this.nodeRole, controllerRole: this.controllerRole, queue: this.queue, nodePools: this.nodePools });
    }
}
