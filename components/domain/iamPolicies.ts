/**
 * IAM policy documents and managed policy names, as plain data. Least privilege: nodes get what the kubelet, the VPC
 * CNI and image pulls need; controllers that call AWS (cluster-autoscaler, the EBS CSI driver) get roles of their
 * own through IRSA, each trusted only by its one service account.
 */

export interface PolicyStatement {
    Effect: "Allow" | "Deny";
    Action: string | string[];
    Resource?: string | string[];
    Principal?: Record<string, string>;
    Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
    Version: "2012-10-17";
    Statement: PolicyStatement[];
}

const document = (...statements: PolicyStatement[]): PolicyDocument => ({ Version: "2012-10-17", Statement: statements });

/** AWS managed policies of the node role: join the cluster, run the VPC CNI, pull images from ECR (pull only). */
export const nodeManagedPolicies = ["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryPullOnly"] as const;

/** AWS managed policy of the EBS CSI driver's role. */
export const ebsCsiManagedPolicy = "service-role/AmazonEBSCSIDriverPolicy";

/** ARN of an AWS managed policy in `partition` (`aws`, `aws-cn`, `aws-us-gov`). */
export function managedPolicyArn(partition: string, name: string): string {
    return `arn:${partition}:iam::aws:policy/${name}`;
}

/** Trust policy letting EC2 instances (our nodes) assume the role. */
export function ec2TrustPolicy(): PolicyDocument {
    return document({ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" });
}

/** Where an IRSA role may be assumed from: one service account of one cluster's OIDC provider. */
export interface ServiceAccountTrust {
    /** ARN of the cluster's IAM OIDC provider. */
    oidcProviderArn: string;
    /** Issuer host and path without `https://`, e.g. `oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE`. */
    oidcIssuer: string;
    namespace: string;
    serviceAccount: string;
}

/** Trust policy for IRSA: web identity from the cluster's OIDC provider, for exactly this service account. */
export function serviceAccountTrustPolicy(t: ServiceAccountTrust): PolicyDocument {
    return document({
        Effect: "Allow",
        Principal: { Federated: t.oidcProviderArn },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
            StringEquals: {
                [`${t.oidcIssuer}:sub`]: `system:serviceaccount:${t.namespace}:${t.serviceAccount}`,
                [`${t.oidcIssuer}:aud`]: "sts.amazonaws.com",
            },
        },
    });
}

/** Where the cluster lives, for ARNs. */
export interface ClusterLocation {
    partition: string;
    region: string;
    accountId: string;
    clusterName: string;
}

/** The tag EKS puts on the Auto Scaling groups of a cluster's managed node groups. */
export function clusterOwnershipTag(clusterName: string): string {
    return `k8s.io/cluster-autoscaler/${clusterName}`;
}

/**
 * cluster-autoscaler's permissions: read what it must to discover groups and build node templates; change the
 * size of, and terminate instances in, only the Auto Scaling groups tagged as this cluster's. Exactly the calls
 * cluster-autoscaler makes at the image tags we pin (`awsApiCalls.ts` `clusterAutoscalerCalls`); upstream's sample
 * policy also lists `DescribeAutoScalingInstances` and `DescribeTags`, which its AWS provider never calls.
 */
export function clusterAutoscalerPolicy(c: ClusterLocation): PolicyDocument {
    return document(
        {
            Effect: "Allow",
            Action: ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
            Resource: "*",
            Condition: { StringEquals: { [`aws:ResourceTag/${clusterOwnershipTag(c.clusterName)}`]: "owned" } },
        },
        {
            // Describe calls support no resource-level permissions.
            Effect: "Allow",
            Action: [
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:DescribeLaunchConfigurations",
                "autoscaling:DescribeScalingActivities",
                "ec2:DescribeImages",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplateVersions",
                "ec2:GetInstanceTypesFromInstanceRequirements",
            ],
            Resource: "*",
        },
        {
            // Labels and taints of managed node groups, for templates of groups at zero.
            Effect: "Allow",
            Action: "eks:DescribeNodegroup",
            Resource: `arn:${c.partition}:eks:${c.region}:${c.accountId}:nodegroup/${c.clusterName}/*`,
        },
    );
}

/**
 * Bucket and key prefix of an `s3://<bucket>/<prefix>` URI, the prefix as KServe's storage initializer lists it: the
 * path without its leading `/`, a trailing `/` kept as typed (kserve_storage.py `_download_s3`, v0.20.0).
 */
export function s3Location(uri: string): { bucket: string; prefix: string } {
    const m = /^s3:\/\/([^/]+)\/+(.+)$/.exec(uri);
    if (!m || /^\/*$/.test(m[2]!)) throw new Error(`"${uri}" is not an s3://<bucket>/<prefix> URI`);
    return { bucket: m[1]!, prefix: m[2]! };
}

/**
 * Read-only access to one model's weights, exactly what KServe v0.20's storage initializer asks for (the calls and the
 * lines they are made on: `awsApiCalls.ts` `storageInitializerCalls`):
 * - `s3:ListBucket` on the bucket, with no `s3:prefix` condition: `HeadBucket`, its first call, is authorised by
 *   `s3:ListBucket` and carries no `s3:prefix`, so a condition on it refuses the download with 403. This lets the
 *   role list the bucket's key names; it reads no object outside the prefix.
 * - `s3:GetObject` on every key that starts with the prefix (`HeadObject` and `GetObject` of each listed key): KServe
 *   lists by plain string prefix, so `s3://b/m/v3` also downloads `m/v3.1/...`; write the URI with a trailing `/`
 *   (`s3://b/m/v3/`) to list and grant only the folder.
 * No writes, nothing in other buckets.
 */
export function modelStoragePolicy(partition: string, uri: string): PolicyDocument {
    const { bucket, prefix } = s3Location(uri);
    return document(
        { Effect: "Allow", Action: "s3:ListBucket", Resource: `arn:${partition}:s3:::${bucket}` },
        { Effect: "Allow", Action: "s3:GetObject", Resource: `arn:${partition}:s3:::${bucket}/${prefix}*` },
    );
}

/**
 * The activator's own permissions (issue 22, queue load scaling): exactly `sqs:GetQueueAttributes` (its one AWS call,
 * `awsApiCalls.ts` `activatorCalls`) on exactly the queues models list in `queueScaling.sqsQueueArns`; undefined when
 * no model lists a queue (then the activator gets no role at all). Not `sqs:ReceiveMessage` or anything that touches
 * messages: the consumers are the user's.
 */
export function activatorQueuePolicy(queueArns: readonly string[]): PolicyDocument | undefined {
    const arns = [...new Set(queueArns)].sort();
    if (arns.length === 0) return undefined;
    return document({ Effect: "Allow", Action: "sqs:GetQueueAttributes", Resource: arns });
}
