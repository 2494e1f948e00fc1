/**
 * The AWS API calls each consumer of an IAM policy we write makes, read from its source at the version we run, and the
 * authorisation requests those calls amount to (IAM action, resource ARN, condition keys). There is no upstream data
 * file for this: each row cites the repository, path, tag, commit and line it was read from. Tests evaluate our
 * policy documents (`iamPolicies.ts`) against these requests: every call must be allowed, and every allowed action
 * must be one a consumer calls.
 *
 * Consumers: KServe's storage initializer (reads `s3://` models with the model's IRSA role), cluster-autoscaler (its
 * IRSA role) and the activator (its IRSA role, when a model has `queueScaling`; `activatorCalls`). KEDA calls no AWS API in this stack (our activator is its external scaler), and the stack installs no
 * Karpenter and no vLLM S3 streaming; a consumer added later gets rows here and a case in the tests.
 *
 * IAM actions per operation: AWS Service Authorization Reference (Amazon S3, Amazon EC2 Auto Scaling, Amazon EC2,
 * Amazon EKS): HeadBucket and ListObjects(V2) are authorised by `s3:ListBucket` on the bucket, the latter with
 * `s3:prefix` set to the request's `Prefix` (absent from HeadBucket's context); HeadObject and GetObject by
 * `s3:GetObject` on the object; the Auto Scaling mutations carry `aws:ResourceTag/<key>` of the group.
 */

/** A line of upstream source. */
export interface UpstreamLine {
    repository: string;
    path: string;
    tag: string;
    /** First 12 hex digits of the tag's commit. */
    commit: string;
    line: number;
}

/** A file of this repository (the activator's own calls: the test reads the file for every SDK command it sends). */
export interface OwnSource {
    repository: "gpu-serverless";
    path: string;
}

/** One API operation a consumer calls. */
export interface ApiCall {
    /** AWS API operation, e.g. `HeadBucket`. */
    operation: string;
    /** IAM action that authorises it, e.g. `s3:ListBucket`. */
    action: string;
    /** Where the consumer calls it; what the line shows when it is not the call itself. */
    source: (UpstreamLine | OwnSource) & { note?: string };
}

/** An authorisation request: what IAM evaluates for one call. */
export interface AuthorizationRequest {
    call: ApiCall;
    action: string;
    /** Resource ARN, or `*` for actions without resource-level permissions. */
    resource: string;
    /** Condition keys of the request. */
    context: Record<string, string>;
}

const kserveStorage = (line: number, note?: string): UpstreamLine & { note?: string } => ({
    repository: "kserve/kserve",
    path: "python/storage/kserve_storage/kserve_storage.py",
    tag: "v0.20.0",
    commit: "1fb781055dd1",
    line,
    ...(note === undefined ? {} : { note }),
});

/** KServe v0.20.0 storage initializer, `Storage._download_s3` (boto3). */
export const storageInitializerCalls = {
    headBucket: { operation: "HeadBucket", action: "s3:ListBucket", source: kserveStorage(530, "s3.meta.client.head_bucket(Bucket=bucket_name)") },
    listObjects: { operation: "ListObjects", action: "s3:ListBucket", source: kserveStorage(533, "bucket.objects.filter(Prefix=bucket_path)") },
    headObject: {
        operation: "HeadObject",
        action: "s3:GetObject",
        source: kserveStorage(496, "bucket.download_file(obj_key, target_path): s3transfer heads the object for its size"),
    },
    getObject: { operation: "GetObject", action: "s3:GetObject", source: kserveStorage(496, "bucket.download_file(obj_key, target_path)") },
} as const satisfies Record<string, ApiCall>;

/**
 * The requests the storage initializer makes to download `uri` from a bucket holding `keys`, following
 * `_download_s3`: the bucket is the URI's host, the prefix its path without the leading `/` (trailing `/` kept, as
 * typed); it heads the bucket, lists every key that starts with the prefix (a plain string prefix: `m/v3` also lists
 * `m/v3.1/...`), skips "folders" (keys ending in `/`), and downloads each other key (an exact match alone when the
 * URI names one object).
 */
export function storageInitializerRequests(partition: string, uri: string, keys: readonly string[]): AuthorizationRequest[] {
    const m = /^s3:\/\/([^/]+)(\/.*)?$/.exec(uri);
    if (!m) throw new Error(`"${uri}" is not an s3:// URI`);
    const bucket = m[1]!;
    const prefix = (m[2] ?? "").replace(/^\/+/, "");
    const bucketArn = `arn:${partition}:s3:::${bucket}`;
    const c = storageInitializerCalls;
    const requests: AuthorizationRequest[] = [
        { call: c.headBucket, action: c.headBucket.action, resource: bucketArn, context: {} },
        { call: c.listObjects, action: c.listObjects.action, resource: bucketArn, context: { "s3:prefix": prefix } },
    ];
    const listed = keys.filter((k) => k.startsWith(prefix) && !k.endsWith("/"));
    const downloaded = listed.includes(prefix) ? [prefix] : listed;
    for (const key of downloaded) {
        for (const call of [c.headObject, c.getObject]) requests.push({ call, action: call.action, resource: `${bucketArn}/${key}`, context: {} });
    }
    return requests;
}

const autoscaler = (path: string, line: number, note: string): UpstreamLine & { note: string } => ({
    repository: "kubernetes/autoscaler",
    path: `cluster-autoscaler/cloudprovider/aws/${path}`,
    tag: "cluster-autoscaler-1.35.2",
    commit: "2d42588803c7",
    line,
    note,
});

/**
 * cluster-autoscaler's AWS calls (the v1.35.2 image; v1.33.6 and v1.34.5, the images of the other Kubernetes minors we
 * support, make the same calls through aws-sdk-go v1's `...Pages` forms). Not called anywhere in
 * `cloudprovider/aws` at these tags: `autoscaling:DescribeTags`, `autoscaling:DescribeAutoScalingInstances`.
 */
export const clusterAutoscalerCalls = {
    describeAutoScalingGroups: {
        operation: "DescribeAutoScalingGroups",
        action: "autoscaling:DescribeAutoScalingGroups",
        source: autoscaler("aws_wrapper.go", 235, "autoscaling.NewDescribeAutoScalingGroupsPaginator (auto-discovery by tag filters; also line 190 by name)"),
    },
    describeLaunchConfigurations: {
        operation: "DescribeLaunchConfigurations",
        action: "autoscaling:DescribeLaunchConfigurations",
        source: autoscaler("aws_wrapper.go", 158, "m.DescribeLaunchConfigurations"),
    },
    describeScalingActivities: {
        operation: "DescribeScalingActivities",
        action: "autoscaling:DescribeScalingActivities",
        source: autoscaler("auto_scaling_groups.go", 542, "m.awsService.DescribeScalingActivities"),
    },
    setDesiredCapacity: {
        operation: "SetDesiredCapacity",
        action: "autoscaling:SetDesiredCapacity",
        source: autoscaler("auto_scaling_groups.go", 271, "m.awsService.SetDesiredCapacity"),
    },
    terminateInstanceInAutoScalingGroup: {
        operation: "TerminateInstanceInAutoScalingGroup",
        action: "autoscaling:TerminateInstanceInAutoScalingGroup",
        source: autoscaler("auto_scaling_groups.go", 374, "m.awsService.TerminateInstanceInAutoScalingGroup"),
    },
    describeLaunchTemplateVersions: {
        operation: "DescribeLaunchTemplateVersions",
        action: "ec2:DescribeLaunchTemplateVersions",
        source: autoscaler("aws_wrapper.go", 307, "m.DescribeLaunchTemplateVersions"),
    },
    describeImages: { operation: "DescribeImages", action: "ec2:DescribeImages", source: autoscaler("aws_wrapper.go", 328, "m.DescribeImages") },
    getInstanceTypesFromInstanceRequirements: {
        operation: "GetInstanceTypesFromInstanceRequirements",
        action: "ec2:GetInstanceTypesFromInstanceRequirements",
        source: autoscaler("aws_wrapper.go", 349, "ec2.NewGetInstanceTypesFromInstanceRequirementsPaginator"),
    },
    describeInstanceTypes: {
        operation: "DescribeInstanceTypes",
        action: "ec2:DescribeInstanceTypes",
        source: autoscaler("aws_util.go", 39, "ec2.NewDescribeInstanceTypesPaginator, from aws_cloud_provider.go:440 at start-up"),
    },
    describeNodegroup: { operation: "DescribeNodegroup", action: "eks:DescribeNodegroup", source: autoscaler("aws_wrapper.go", 77, "m.DescribeNodegroup") },
} as const satisfies Record<string, ApiCall>;

/** A cluster as cluster-autoscaler sees it: one managed node group and the Auto Scaling group EKS made for it. */
export interface AutoscalerScene {
    partition: string;
    region: string;
    accountId: string;
    clusterName: string;
    nodegroupName: string;
    autoScalingGroupName: string;
    /** Tags on the Auto Scaling group; EKS puts `k8s.io/cluster-autoscaler/<cluster>: owned` on managed groups'. */
    autoScalingGroupTags: Record<string, string>;
}

/** The requests cluster-autoscaler makes to discover, size and shrink the scene's group. */
export function clusterAutoscalerRequests(s: AutoscalerScene): AuthorizationRequest[] {
    const c = clusterAutoscalerCalls;
    const asgArn = `arn:${s.partition}:autoscaling:${s.region}:${s.accountId}:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/${s.autoScalingGroupName}`;
    const tagContext = Object.fromEntries(Object.entries(s.autoScalingGroupTags).map(([k, v]) => [`aws:ResourceTag/${k}`, v]));
    const nodegroupArn = `arn:${s.partition}:eks:${s.region}:${s.accountId}:nodegroup/${s.clusterName}/${s.nodegroupName}/00000000-0000-0000-0000-000000000000`;
    const anywhere = (call: ApiCall): AuthorizationRequest => ({ call, action: call.action, resource: "*", context: {} });
    return [
        anywhere(c.describeAutoScalingGroups),
        anywhere(c.describeLaunchConfigurations),
        anywhere(c.describeScalingActivities),
        anywhere(c.describeLaunchTemplateVersions),
        anywhere(c.describeImages),
        anywhere(c.getInstanceTypesFromInstanceRequirements),
        anywhere(c.describeInstanceTypes),
        { call: c.setDesiredCapacity, action: c.setDesiredCapacity.action, resource: asgArn, context: tagContext },
        { call: c.terminateInstanceInAutoScalingGroup, action: c.terminateInstanceInAutoScalingGroup.action, resource: asgArn, context: tagContext },
        { call: c.describeNodegroup, action: c.describeNodegroup.action, resource: nodegroupArn, context: {} },
    ];
}

/**
 * The activator's AWS calls (issue 22, queue load scaling): GetQueueAttributes of each configured queue, authorised by
 * `sqs:GetQueueAttributes` on the queue's ARN (Service Authorization Reference, Amazon SQS). The test lists every SDK
 * command `activator/src` constructs and requires a row here for each.
 */
export const activatorCalls = {
    getQueueAttributes: {
        operation: "GetQueueAttributes",
        action: "sqs:GetQueueAttributes",
        source: { repository: "gpu-serverless", path: "activator/src/queue/sqs.ts", note: "new GetQueueAttributesCommand({ QueueUrl, AttributeNames })" },
    },
} as const satisfies Record<string, ApiCall>;

/** The requests the activator makes for queues `queueArns`: one GetQueueAttributes on each queue's ARN per round. */
export function activatorRequests(queueArns: readonly string[]): AuthorizationRequest[] {
    const c = activatorCalls.getQueueAttributes;
    return queueArns.map((arn) => ({ call: c, action: c.action, resource: arn, context: {} }));
}
