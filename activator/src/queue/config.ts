/**
 * Queue load scaling, configuration: which SQS queues' backlog counts as a model's demand, and how the activator reads
 * them. Pure (zod only): `../config/schema.ts` embeds these schemas, and the Pulumi components import them through it.
 *
 * A queue is named by its ARN (`arn:<partition>:sqs:<region>:<account>:<name>`): the IAM grant needs the ARN, and the
 * queue URL the SQS API takes is derived from it (`sqsQueueUrl`), so one key cannot disagree with the other.
 * Queue names: 1..80 of letters, digits, `-` and `_`, a FIFO queue ending in `.fifo` (Amazon SQS Developer Guide,
 * "Amazon SQS queue quotas"; CreateQueue `QueueName`).
 */
import { z } from "zod";

/** Partitions whose SQS endpoints this derives (`sqs.<region>.<dnsSuffix>`). */
const SQS_DNS_SUFFIX: Record<string, string> = { aws: "amazonaws.com", "aws-us-gov": "amazonaws.com", "aws-cn": "amazonaws.com.cn" };

const ARN = /^arn:([a-z-]+):sqs:([a-z]{2}(?:-[a-z]+)+-\d+):(\d{12}):([A-Za-z0-9_-]{1,80}(?:\.fifo)?)$/;

/** An SQS queue, its ARN parsed. */
export interface SqsQueue {
  /** `arn:aws:sqs:us-east-1:123456789012:jobs`: the IAM resource, and the `queue` label of metrics. */
  arn: string;
  partition: string;
  region: string;
  accountId: string;
  name: string;
  /** `https://sqs.us-east-1.amazonaws.com/123456789012/jobs`: what GetQueueAttributes takes as `QueueUrl`. */
  url: string;
}

/** The queue an ARN names; a one-line error naming what is wrong otherwise. */
export function parseSqsQueueArn(arn: string): SqsQueue | { error: string } {
  const m = ARN.exec(arn);
  if (!m) return { error: `must be an SQS queue ARN arn:aws:sqs:<region>:<12-digit account>:<queue name>, got "${arn}"` };
  const [, partition, region, accountId, name] = m as unknown as [string, string, string, string, string];
  const suffix = SQS_DNS_SUFFIX[partition];
  if (suffix === undefined) return { error: `partition "${partition}" is not one of ${Object.keys(SQS_DNS_SUFFIX).join(", ")}, in "${arn}"` };
  return { arn, partition, region, accountId, name, url: `https://sqs.${region}.${suffix}/${accountId}/${name}` };
}

/** The queue an ARN names; throws the one-line error for an ARN the schema would refuse. */
export function sqsQueue(arn: string): SqsQueue {
  const q = parseSqsQueueArn(arn);
  if ("error" in q) throw new Error(q.error);
  return q;
}

export const sqsQueueArnSchema = z.string().superRefine((arn, ctx) => {
  const q = parseSqsQueueArn(arn);
  if ("error" in q) ctx.addIssue({ code: "custom", message: q.error });
});

/** Defaults of a model's `queueScaling`: KEDA's aws-sqs-queue scaler's (`queueLength` 5, `activationQueueLength` 0 → ≥ 1 message). */
export const QUEUE_SCALING_DEFAULTS = { activationMessages: 1, messagesPerReplica: 5 } as const;

/**
 * A model's `queueScaling`: the SQS queues whose backlog (visible + in-flight messages, summed over the queues) is
 * demand for the model. `activationMessages`: the model is active (KEDA wakes it from zero, keeps it from scaling to
 * zero) while the backlog is at least this. `messagesPerReplica`: the target of the model's `activator-queue-<model>`
 * metric, so the HPA asks for ceil(backlog / messagesPerReplica) replicas from it (../queue/demand.ts).
 */
export const queueScalingSchema = z
  .strictObject({
    sqsQueueArns: z.array(sqsQueueArnSchema).min(1, "list at least one queue ARN, or leave queueScaling out"),
    activationMessages: z.int().min(1).default(QUEUE_SCALING_DEFAULTS.activationMessages),
    messagesPerReplica: z.number().positive().default(QUEUE_SCALING_DEFAULTS.messagesPerReplica),
  })
  .refine((q) => new Set(q.sqsQueueArns).size === q.sqsQueueArns.length, { message: "lists a queue twice", path: ["sqsQueueArns"] });

/** Defaults of the top-level `queueReads`. */
export const QUEUE_READS_DEFAULTS = { intervalSeconds: 5, timeoutSeconds: 3, maxStalenessSeconds: 15 } as const;

/**
 * How the activator reads queue depths (every replica reads every configured queue; the depth is the queue's, not the
 * replica's, so replicas do not add theirs up). `maxStalenessSeconds`: after a failed read, the queue's last good depth
 * still counts until it is this old, then the queue counts 0 (an outage never pins replicas). `endpoint`: SQS endpoint
 * override (a VPC interface endpoint's DNS name, or a local SQS-compatible server in tests); default the regional one.
 */
export const queueReadsSchema = z
  .strictObject({
    intervalSeconds: z.number().positive().max(300).default(QUEUE_READS_DEFAULTS.intervalSeconds),
    timeoutSeconds: z.number().positive().max(60).default(QUEUE_READS_DEFAULTS.timeoutSeconds),
    maxStalenessSeconds: z.number().min(0).max(300).default(QUEUE_READS_DEFAULTS.maxStalenessSeconds),
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
  })
  .prefault({});

export type QueueScalingConfig = z.output<typeof queueScalingSchema>;
export type QueueReadsConfig = z.output<typeof queueReadsSchema>;
