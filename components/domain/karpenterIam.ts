/**
 * Karpenter's IAM, as plain data: the controller's policy, scoped to this cluster by the tags Karpenter puts on what
 * it launches, and the interruption queue's resource policy.
 *
 * Source: aws/karpenter-provider-aws v1.14.1 (bde00654cd31),
 * website/content/en/docs/getting-started/getting-started-with-karpenter/cloudformation.yaml (the getting-started
 * template: NodeLifecyclePolicy, IAMIntegrationPolicy, EKSIntegrationPolicy, InterruptionPolicy, ResourceDiscoveryPolicy,
 * KarpenterInterruptionQueuePolicy). Written as our own documents with two deliberate differences:
 * - nodes use an instance profile that the stack creates (`EC2NodeClass.spec.instanceProfile`), so the controller
 *   gets none of the template's instance-profile write actions (Create/Tag/AddRole/RemoveRole/Delete); those are
 *   only called for `spec.role` (pkg/controllers/nodeclass/instanceprofile.go L60-L119 at v1.14.1). It keeps
 *   `iam:ListInstanceProfiles`, which the instance-profile garbage collector calls regardless.
 * - zonal-shift reads (`arc-zonal-shift:GetManagedResource`) are left out: `settings.enableZonalShift` stays false.
 * Every action here is one the controller calls; tests hold each against a table of its calls in the source.
 */
import type { PolicyDocument, PolicyStatement } from "./iamPolicies";

/** Where the cluster lives, for ARNs and tag conditions. */
export interface KarpenterIamScope {
    partition: string;
    region: string;
    accountId: string;
    clusterName: string;
}

/** The tag Karpenter puts on every instance, volume, launch template and fleet it creates (value `owned`). */
export const clusterOwnedTag = (clusterName: string): string => `kubernetes.io/cluster/${clusterName}`;

const document = (...statements: PolicyStatement[]): PolicyDocument => ({ Version: "2012-10-17", Statement: statements });

/**
 * The controller's policy. `nodeRoleArn` is the only role it may pass (to EC2, through the instance profile);
 * `queueArn` the only queue it reads. Writes to EC2 are allowed only on resources tagged as this cluster's and a
 * NodePool's, and only when the request tags them so.
 */
export function karpenterControllerPolicy(s: KarpenterIamScope, refs: { nodeRoleArn: string; queueArn: string }): PolicyDocument {
    const ec2 = (type: string, account = "*") => `arn:${s.partition}:ec2:${s.region}:${account}:${type}/*`;
    const owned = { [`aws:ResourceTag/${clusterOwnedTag(s.clusterName)}`]: "owned" };
    const requestOwned = {
        [`aws:RequestTag/${clusterOwnedTag(s.clusterName)}`]: "owned",
        "aws:RequestTag/eks:eks-cluster-name": s.clusterName,
    };
    const created = ["fleet", "instance", "volume", "network-interface", "launch-template", "spot-instances-request"].map((t) => ec2(t));
    return document(
        {
            // What a launch reads: AMIs and snapshots (AWS-owned, no account), our subnets, groups, reservations.
            Effect: "Allow",
            Action: ["ec2:RunInstances", "ec2:CreateFleet"],
            Resource: [
                ec2("image", ""),
                ec2("snapshot", ""),
                ec2("security-group"),
                ec2("subnet"),
                ec2("capacity-reservation"),
                ec2("placement-group"),
            ],
        },
        {
            // Launch templates it made for this cluster's NodePools.
            Effect: "Allow",
            Action: ["ec2:RunInstances", "ec2:CreateFleet"],
            Resource: ec2("launch-template"),
            Condition: { StringEquals: owned, StringLike: { "aws:ResourceTag/karpenter.sh/nodepool": "*" } },
        },
        {
            // What a launch creates must be tagged as this cluster's and a NodePool's.
            Effect: "Allow",
            Action: ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
            Resource: created,
            Condition: { StringEquals: requestOwned, StringLike: { "aws:RequestTag/karpenter.sh/nodepool": "*" } },
        },
        {
            // Tags written at creation (EC2 authorises them as CreateTags).
            Effect: "Allow",
            Action: "ec2:CreateTags",
            Resource: created,
            Condition: {
                StringEquals: { ...requestOwned, "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"] },
                StringLike: { "aws:RequestTag/karpenter.sh/nodepool": "*" },
            },
        },
        {
            // Tags added later to its own instances (the nodeclaim tagging controller): these three keys only.
            Effect: "Allow",
            Action: "ec2:CreateTags",
            Resource: ec2("instance"),
            Condition: {
                StringEquals: owned,
                StringLike: { "aws:ResourceTag/karpenter.sh/nodepool": "*" },
                StringEqualsIfExists: { "aws:RequestTag/eks:eks-cluster-name": s.clusterName },
                "ForAllValues:StringEquals": { "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"] },
            },
        },
        {
            Effect: "Allow",
            Action: ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
            Resource: [ec2("instance"), ec2("launch-template")],
            Condition: { StringEquals: owned, StringLike: { "aws:ResourceTag/karpenter.sh/nodepool": "*" } },
        },
        {
            // Describe calls support no resource-level permissions; held to the cluster's region.
            Effect: "Allow",
            Action: [
                "ec2:DescribeCapacityReservations",
                "ec2:DescribeImages",
                "ec2:DescribeInstances",
                "ec2:DescribeInstanceStatus",
                "ec2:DescribeInstanceTypeOfferings",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplates",
                "ec2:DescribePlacementGroups",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSpotPriceHistory",
                "ec2:DescribeSubnets",
            ],
            Resource: "*",
            Condition: { StringEquals: { "aws:RequestedRegion": s.region } },
        },
        {
            // The EKS AMI ids behind an `alias` (public SSM parameters).
            Effect: "Allow",
            Action: "ssm:GetParameter",
            Resource: `arn:${s.partition}:ssm:${s.region}::parameter/aws/service/*`,
        },
        { Effect: "Allow", Action: "pricing:GetProducts", Resource: "*" },
        {
            Effect: "Allow",
            Action: "iam:PassRole",
            Resource: refs.nodeRoleArn,
            Condition: { StringEquals: { "iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"] } },
        },
        // The instance-profile garbage collector lists profiles under Karpenter's path; it never touches ours.
        { Effect: "Allow", Action: "iam:ListInstanceProfiles", Resource: "*" },
        {
            Effect: "Allow",
            Action: "eks:DescribeCluster",
            Resource: `arn:${s.partition}:eks:${s.region}:${s.accountId}:cluster/${s.clusterName}`,
        },
        { Effect: "Allow", Action: ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"], Resource: refs.queueArn },
    );
}

/** A resource policy: its principals may be `*` or lists (IAM identity policies have none). */
export interface QueuePolicyDocument {
    Version: "2012-10-17";
    Statement: (Omit<PolicyStatement, "Principal"> & { Principal: "*" | Record<string, string | string[]> })[];
}

/**
 * The interruption queue's resource policy: EventBridge (and SQS) may send to it; nothing may use it over plain HTTP.
 * Source: the template's KarpenterInterruptionQueuePolicy.
 */
export function interruptionQueuePolicy(queueArn: string): QueuePolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
        { Effect: "Allow", Principal: { Service: ["events.amazonaws.com", "sqs.amazonaws.com"] }, Action: "sqs:SendMessage", Resource: queueArn },
        {
            Effect: "Deny",
            Principal: "*",
            Action: "sqs:*",
            Resource: queueArn,
            Condition: { Bool: { "aws:SecureTransport": "false" } },
        },
        ],
    };
}

/** Every action a policy document allows, sorted and deduplicated. */
export function allowedActions(policy: PolicyDocument | QueuePolicyDocument): string[] {
    const actions = policy.Statement.filter((s) => s.Effect === "Allow").flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    return [...new Set(actions)].sort();
}
