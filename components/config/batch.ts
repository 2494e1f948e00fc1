/**
 * Stack key `gpu-serverless:batch`: the OpenAI Batch API (docs/batch-api.md). Off by default. When on, the stack
 * creates an encrypted S3 bucket (public access blocked, objects expired after `retentionDays`), the chunk queue with
 * a dead-letter queue, least-privilege IAM roles for the activator, the runner and KEDA's queue reader
 * (components/domain/batchIam.ts), and the batch runner Deployment with its own `aws-sqs-queue` ScaledObject.
 */
import { z } from "zod";

export const batchStackSchema = z
    .strictObject({
        /** Serve `/v1/files` and `/v1/batches` and create the bucket, queues, roles and runner. Default false. */
        enabled: z.boolean().default(false),
        /** Days after which every object in the bucket (inputs, results, records) is deleted. Default 30. */
        retentionDays: z.int().min(1).max(3650).default(30),
        /** Largest input file, bytes. Default 200 MiB (OpenAI's). */
        maxFileBytes: z.int().positive().default(200 * 1024 * 1024),
        /** Request lines per SQS message. Default 100. */
        linesPerChunk: z.int().min(1).max(10_000).default(100),
        /** Lines one runner pod sends at once. Default 8. */
        concurrency: z.int().min(1).max(1024).default(8),
        /** The runner sends one line at a time while any vLLM engine has more waiting requests than this. Default 4. */
        yieldWaitingAbove: z.number().min(0).default(4),
        /** Chunk messages (visible + in flight) per runner pod: KEDA's `queueLength`. Default 2. */
        messagesPerRunner: z.int().min(1).default(2),
        /** Runner pods at most. Default 4. */
        maxRunners: z.int().min(1).max(100).default(4),
        /**
         * Seconds between KEDA's reads of the chunk queue (the runner ScaledObject's `pollingInterval`): how soon a
         * runner starts from zero. Default 15 (KEDA's default, as the models').
         */
        pollingSeconds: z.int().min(1).max(3600).default(15),
        /** Seconds after the queue was last seen non-empty before the runners go back to zero (`cooldownPeriod`). Default 120. */
        cooldownSeconds: z.int().min(0).max(86_400).default(120),
        /** Deliveries of a chunk before it goes to the dead-letter queue. Default 5. */
        maxReceiveCount: z.int().min(1).max(1000).default(5),
        /** Runner pod CPU and memory (requests = limits). */
        runnerCpu: z.string().default("500m"),
        runnerMemory: z.string().default("512Mi"),
    })
    .prefault({});

export type BatchStackConfig = z.output<typeof batchStackSchema>;
