/**
 * The OpenAI Batch API's cloud and cluster parts (stack key `gpu-serverless:batch`, docs/batch-api.md):
 *
 * - `BatchStorage` (AWS): the bucket (SSE-S3, public access blocked, owner-enforced, every object expired after
 *   `retentionDays`, incomplete multipart uploads aborted after a day), the chunk queue (SSE, 15 min visibility, a
 *   dead-letter queue after `maxReceiveCount` deliveries), and three IRSA roles with the least-privilege policies of
 *   components/domain/batchIam.ts: the activator's, the runner's and KEDA's queue reader (its name is fixed,
 *   `kedaQueueReaderRoleName`, so the KEDA release can name it before this component exists). `activatorBatch` is
 *   the activator config's `batch` section.
 * - `BatchRunner` (Kubernetes): the runner's ServiceAccount, Deployment, TriggerAuthentication and `aws-sqs-queue`
 *   ScaledObject (components/manifests/batch/runner.ts), and the Secret with its API key when the activator checks keys.
 */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { BatchConfigInput } from "../../activator/src/index";
import type { BatchStackConfig } from "../config/batch";
import { batchActivatorPolicy, batchQueueReaderPolicy, batchRunnerPolicy, type BatchLocation } from "../domain/batchIam";
import { serviceAccountTrustPolicy, type PolicyDocument } from "../domain/iamPolicies";
import { childName } from "../domain/naming";
import { activatorName } from "../manifests/activator/names";
import {
    batchRunnerDeploymentManifest,
    batchRunnerName,
    batchRunnerScaledObjectManifest,
    batchRunnerServiceAccountManifest,
    batchTriggerAuthenticationManifest,
    runnerApiKeySecretKey,
    runnerApiKeySecretName,
} from "../manifests/batch/runner";

/** Key prefix inside the bucket (the activator's `batch.prefix`). */
export const batchPrefix = "batch/";
/** KEDA's operator ServiceAccount (the chart's `serviceAccount.operator.name` default). */
export const kedaOperatorServiceAccount = "keda-operator";

/** The KEDA queue reader role's name, fixed per stack so the KEDA release can carry its ARN (IAM names ≤ 64). */
export function kedaQueueReaderRoleName(stack: string): string {
    return `gpu-serverless-${stack}`.slice(0, 46) + "-keda-batch-queue";
}

/** An IAM role's ARN in the account and partition of the cluster's OIDC provider (`arn:<p>:iam::<acct>:oidc-provider/...`). */
export function roleArnBeside(oidcProviderArn: string, roleName: string): string {
    return oidcProviderArn.replace(/:oidc-provider\/.*$/, `:role/${roleName}`);
}

export interface BatchStorageArgs {
    config: BatchStackConfig;
    awsProvider: aws.Provider;
    region: string;
    oidcProviderArn: pulumi.Input<string>;
    oidcIssuer: pulumi.Input<string>;
    /** Namespaces of the activator (and the runner) and of KEDA. */
    activatorNamespace: string;
    kedaNamespace: string;
}

export class BatchStorage extends pulumi.ComponentResource {
    readonly bucket: aws.s3.Bucket;
    readonly queue: aws.sqs.Queue;
    readonly deadLetterQueue: aws.sqs.Queue;
    /** The activator's batch policy (JSON): the Activator attaches it to its own IAM role (one role per ServiceAccount). */
    readonly activatorPolicy: pulumi.Output<string>;
    readonly runnerRoleArn: pulumi.Output<string>;
    readonly kedaRoleArn: pulumi.Output<string>;
    /** The activator config's `batch` section (runner settings included: the runner reads the same file). */
    readonly activatorBatch: pulumi.Output<BatchConfigInput>;

    constructor(name: string, args: BatchStorageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gpu-serverless:batch:BatchStorage", name, {}, opts);
        const { config } = args;
        const awsOpts = { parent: this, provider: args.awsProvider };
        this.bucket = new aws.s3.Bucket(childName(name, "bucket"), { bucketPrefix: "gpu-serverless-batch-", forceDestroy: true }, awsOpts);
        const bucket = this.bucket.bucket;
        new aws.s3.BucketServerSideEncryptionConfiguration(childName(name, "sse"), { bucket, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }] }, awsOpts);
        new aws.s3.BucketPublicAccessBlock(childName(name, "public-access"), { bucket, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true }, awsOpts);
        new aws.s3.BucketOwnershipControls(childName(name, "ownership"), { bucket, rule: { objectOwnership: "BucketOwnerEnforced" } }, awsOpts);
        new aws.s3.BucketLifecycleConfiguration(
            childName(name, "lifecycle"),
            {
                bucket,
                rules: [
                    { id: "expire", status: "Enabled", filter: { prefix: batchPrefix }, expiration: { days: config.retentionDays }, abortIncompleteMultipartUpload: { daysAfterInitiation: 1 } },
                ],
            },
            awsOpts,
        );
        this.deadLetterQueue = new aws.sqs.Queue(childName(name, "dlq"), { messageRetentionSeconds: 14 * 24 * 3600, sqsManagedSseEnabled: true }, awsOpts);
        this.queue = new aws.sqs.Queue(
            childName(name, "chunks"),
            {
                sqsManagedSseEnabled: true,
                visibilityTimeoutSeconds: 900,
                messageRetentionSeconds: 4 * 24 * 3600, // past OpenAI's 24 h completion window
                redrivePolicy: this.deadLetterQueue.arn.apply((deadLetterTargetArn) => JSON.stringify({ deadLetterTargetArn, maxReceiveCount: config.maxReceiveCount })),
            },
            awsOpts,
        );
        const location = pulumi.all([pulumi.output(args.oidcProviderArn), bucket, this.queue.arn]).apply(([oidc, b, queueArn]): BatchLocation => ({
            partition: oidc.split(":")[1]!,
            bucket: b,
            prefix: batchPrefix,
            queueArn,
        }));
        const role = (roleName: string, namespace: string, serviceAccount: string, policy: (at: BatchLocation) => PolicyDocument, fixedName?: string) => {
            const r = new aws.iam.Role(
                childName(name, `${roleName}-role`),
                {
                    ...(fixedName ? { name: fixedName } : {}),
                    description: `Batch API: ${roleName}`,
                    assumeRolePolicy: pulumi
                        .all([args.oidcProviderArn, args.oidcIssuer])
                        .apply(([oidcProviderArn, oidcIssuer]) => JSON.stringify(serviceAccountTrustPolicy({ oidcProviderArn, oidcIssuer, namespace, serviceAccount }))),
                },
                awsOpts,
            );
            new aws.iam.RolePolicy(childName(name, `${roleName}-policy`), { role: r.name, policy: location.apply((at) => JSON.stringify(policy(at))) }, awsOpts);
            return r.arn;
        };
        this.activatorPolicy = location.apply((at) => JSON.stringify(batchActivatorPolicy(at)));
        this.runnerRoleArn = role("runner", args.activatorNamespace, batchRunnerName, batchRunnerPolicy);
        this.kedaRoleArn = role("keda", args.kedaNamespace, kedaOperatorServiceAccount, batchQueueReaderPolicy, kedaQueueReaderRoleName(pulumi.getStack()));
        this.activatorBatch = pulumi.all([bucket, this.queue.url]).apply(([b, queueUrl]): BatchConfigInput => ({
            bucket: b,
            queueUrl,
            region: args.region,
            prefix: batchPrefix,
            maxFileBytes: config.maxFileBytes,
            linesPerChunk: config.linesPerChunk,
            runner: {
                activatorUrl: `http://${activatorName}-proxy.${args.activatorNamespace}.svc.cluster.local:80`,
                adminUrl: `http://${activatorName}-admin.${args.activatorNamespace}.svc.cluster.local:9091`,
                concurrency: config.concurrency,
                yieldWaitingAbove: config.yieldWaitingAbove,
            },
        }));
        this.registerOutputs({ bucket: this.bucket.bucket, queueUrl: this.queue.url, runnerRoleArn: this.runnerRoleArn, kedaRoleArn: this.kedaRoleArn });
    }
}

export interface BatchRunnerArgs {
    config: BatchStackConfig;
    storage: BatchStorage;
    provider: k8s.Provider;
    namespace: string;
    region: string;
    image: pulumi.Input<string>;
    systemNodeSelector: Record<string, string>;
    /** The key the runner presents when the activator checks API keys (its digest must be in the keys Secret). */
    apiKey?: pulumi.Input<string>;
    /** KEDA's release: the ScaledObject and TriggerAuthentication need its CRDs. */
    dependsOn?: pulumi.Input<pulumi.Resource>[];
}

export class BatchRunner extends pulumi.ComponentResource {
    constructor(name: string, args: BatchRunnerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gpu-serverless:batch:BatchRunner", name, {}, opts);
        const k8sOpts = (dependsOn: pulumi.Input<pulumi.Resource>[] = []): pulumi.CustomResourceOptions => ({ parent: this, provider: args.provider, dependsOn });
        const { namespace, config } = args;
        const sa = batchRunnerServiceAccountManifest({ namespace, roleArn: "" });
        new k8s.core.v1.ServiceAccount(childName(name, "service-account"), { metadata: { ...sa.metadata, annotations: { "eks.amazonaws.com/role-arn": args.storage.runnerRoleArn } } }, k8sOpts());
        if (args.apiKey !== undefined) {
            new k8s.core.v1.Secret(childName(name, "api-key"), { metadata: { name: runnerApiKeySecretName, namespace }, stringData: { [runnerApiKeySecretKey]: args.apiKey } }, k8sOpts());
        }
        const common = {
            namespace,
            queueUrl: "",
            region: args.region,
            messagesPerReplica: config.messagesPerRunner,
            maxReplicas: config.maxRunners,
            pollingSeconds: config.pollingSeconds,
            cooldownSeconds: config.cooldownSeconds,
        };
        const deployment = pulumi.output(args.image).apply((image) =>
            batchRunnerDeploymentManifest({ ...common, image, cpu: config.runnerCpu, memory: config.runnerMemory, systemNodeSelector: args.systemNodeSelector, roleArn: "", apiKey: args.apiKey !== undefined }),
        );
        new k8s.apps.v1.Deployment(childName(name, "deployment"), { metadata: deployment.metadata, spec: deployment.spec }, k8sOpts());
        const auth = batchTriggerAuthenticationManifest(namespace);
        const triggerAuth = new k8s.apiextensions.CustomResource(childName(name, "trigger-auth"), { apiVersion: auth.apiVersion, kind: auth.kind, metadata: auth.metadata, spec: auth.spec }, k8sOpts(args.dependsOn));
        const scaled = args.storage.queue.url.apply((queueUrl) => batchRunnerScaledObjectManifest({ ...common, queueUrl }));
        new k8s.apiextensions.CustomResource(
            childName(name, "scaled-object"),
            { apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", metadata: scaled.metadata, spec: scaled.spec },
            k8sOpts([...(args.dependsOn ?? []), triggerAuth]),
        );
        this.registerOutputs({});
    }
}
