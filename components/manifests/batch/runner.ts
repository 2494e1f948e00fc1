/**
 * The batch runner's Kubernetes objects (activator/src/batch/runner.ts): a CPU Deployment running the activator image's
 * second entry point on the activator's own ConfigMap (its `batch` section), its ServiceAccount (IRSA: the runner
 * role, components/domain/batchIam.ts), and its own KEDA ScaledObject on the chunk queue with the `aws-sqs-queue`
 * trigger. That trigger lives here, never on a model's ScaledObject: KEDA v2.20 scales nothing to zero while any trigger
 * errors, and an SQS outage pinning a few CPU runner pods costs little, where on a model it would pin GPUs.
 *
 * Trigger metadata keys as KEDA v2.20.2 reads them (`pkg/scalers/aws_sqs_queue_scaler.go` `awsSqsQueueMetadata`):
 * `queueURL`, `queueLength` (messages per replica, default 5), `activationQueueLength` (default 0), `awsRegion`,
 * `awsEndpoint` (optional), `scaleOnInFlight` (default true: visible + in-flight messages), `scaleOnDelayed`.
 * Authentication: a TriggerAuthentication with `podIdentity.provider: aws` and no roleArn, so the operator's own IRSA
 * role (allowed GetQueueAttributes on this queue only) reads the queue.
 */
import { activatorName, configDir, configFileName, configMapName } from "../activator/names";

export const batchRunnerName = "batch-runner";
export const batchRunnerLabels = { "app.kubernetes.io/name": batchRunnerName, "app.kubernetes.io/part-of": "gpu-serverless" };
/** Secret key holding the API key the runner presents to the activator (with `apiKeySecrets`). */
export const runnerApiKeySecretKey = "api-key";
export const runnerApiKeySecretName = `${batchRunnerName}-api-key`;

export interface BatchRunnerOptions {
    namespace: string;
    image: string;
    queueUrl: string;
    region: string;
    /** Chunk messages per runner replica (KEDA `queueLength`). */
    messagesPerReplica: number;
    maxReplicas: number;
    /** KEDA `pollingInterval` (s): how often KEDA reads the queue to scale from and to zero. */
    pollingSeconds: number;
    /** KEDA `cooldownPeriod` (s): how long after the last non-empty read the runners go back to zero. */
    cooldownSeconds: number;
    cpu: string;
    memory: string;
    systemNodeSelector: Record<string, string>;
    /** IAM role ARN of the runner (IRSA annotation). */
    roleArn: string;
    /** Whether the activator checks API keys: then the runner gets one from `runnerApiKeySecretName`. */
    apiKey: boolean;
}

const RUN_AS = 65532;

export function batchRunnerServiceAccountManifest(o: Pick<BatchRunnerOptions, "namespace" | "roleArn">) {
    return { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: batchRunnerName, namespace: o.namespace, labels: batchRunnerLabels, annotations: { "eks.amazonaws.com/role-arn": o.roleArn } } };
}

/** Starts at zero replicas: KEDA scales it from the queue. */
export function batchRunnerDeploymentManifest(o: BatchRunnerOptions) {
    const quantities = { cpu: o.cpu, memory: o.memory };
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: batchRunnerName, namespace: o.namespace, labels: batchRunnerLabels },
        spec: {
            replicas: 0,
            selector: { matchLabels: batchRunnerLabels },
            template: {
                metadata: { labels: batchRunnerLabels },
                spec: {
                    serviceAccountName: batchRunnerName,
                    nodeSelector: o.systemNodeSelector,
                    // A chunk in progress is finished on SIGTERM (its lines may be held through a model's cold start).
                    terminationGracePeriodSeconds: 600,
                    securityContext: { runAsNonRoot: true, runAsUser: RUN_AS, runAsGroup: RUN_AS, seccompProfile: { type: "RuntimeDefault" } },
                    containers: [
                        {
                            name: "runner",
                            image: o.image,
                            // The image's entrypoint is `node` (activator/Dockerfile, distroless): only its arguments change.
                            args: ["activator/dist/batch/runnerMain.js", "--config", `${configDir}/${configFileName}`],
                            env: [
                                { name: "AWS_REGION", value: o.region },
                                ...(o.apiKey ? [{ name: "BATCH_RUNNER_API_KEY", valueFrom: { secretKeyRef: { name: runnerApiKeySecretName, key: runnerApiKeySecretKey } } }] : []),
                            ],
                            resources: { requests: quantities, limits: { ...quantities } },
                            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ["ALL"] } },
                            volumeMounts: [{ name: "config", mountPath: configDir, readOnly: true }],
                        },
                    ],
                    volumes: [{ name: "config", configMap: { name: configMapName } }],
                },
            },
        },
    };
}

export function batchTriggerAuthenticationManifest(namespace: string) {
    return {
        apiVersion: "keda.sh/v1alpha1",
        kind: "TriggerAuthentication",
        metadata: { name: batchRunnerName, namespace, labels: batchRunnerLabels },
        spec: { podIdentity: { provider: "aws" } },
    };
}

export function batchRunnerScaledObjectManifest(
    o: Pick<BatchRunnerOptions, "namespace" | "queueUrl" | "region" | "messagesPerReplica" | "maxReplicas" | "pollingSeconds" | "cooldownSeconds">,
) {
    return {
        apiVersion: "keda.sh/v1alpha1",
        kind: "ScaledObject",
        metadata: { name: batchRunnerName, namespace: o.namespace, labels: batchRunnerLabels },
        spec: {
            scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: batchRunnerName },
            minReplicaCount: 0,
            maxReplicaCount: o.maxReplicas,
            pollingInterval: o.pollingSeconds,
            cooldownPeriod: o.cooldownSeconds,
            triggers: [
                {
                    type: "aws-sqs-queue",
                    name: "chunks",
                    authenticationRef: { name: batchRunnerName },
                    metadata: {
                        queueURL: o.queueUrl,
                        queueLength: String(o.messagesPerReplica),
                        activationQueueLength: "0",
                        awsRegion: o.region,
                        scaleOnInFlight: "true",
                    },
                },
            ],
        },
    };
}

/** The activator's own ServiceAccount name, for the activator role's IRSA trust (the activator writes files and batches). */
export const activatorServiceAccountName = activatorName;
