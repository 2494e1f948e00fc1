/**
 * Config `batch`: the OpenAI Batch API (`/v1/files`, `/v1/batches`; ../batch/). Off when absent. Files, results and
 * batch state live in one S3 bucket under `prefix`; one SQS message per chunk of `linesPerChunk` input lines goes to
 * `queueUrl`, read by the batch runner (../batch/runnerMain.ts). Pure (zod only): the Pulumi components import it.
 */
import { z } from "zod";

const httpUrl = z.url({ protocol: /^https?$/ });

export const batchConfigSchema = z.strictObject({
  /** S3 bucket holding input files, results and batch records. */
  bucket: z.string().trim().min(3, "must name the S3 bucket"),
  /** Key prefix inside the bucket; default `batch/`. */
  prefix: z.string().regex(/^([^/].*\/)?$/, "must be empty or end with / (and not start with /)").default("batch/"),
  /** SQS queue URL the chunk messages are sent to. */
  queueUrl: httpUrl,
  /** AWS region of the bucket and queue; default the SDK's own (AWS_REGION), else us-east-1. */
  region: z.string().min(1).optional(),
  /** S3 and SQS endpoint override (a local S3/SQS-compatible server in tests); path-style S3 addressing when set. */
  endpointUrl: httpUrl.optional(),
  /** Largest input file accepted, bytes; default 200 MiB (OpenAI's limit per batch input file). */
  maxFileBytes: z.int().positive().default(200 * 1024 * 1024),
  /** Most request lines in one input file; default 50 000 (OpenAI's limit per batch). */
  maxLines: z.int().positive().default(50_000),
  /** Input lines per SQS message (chunk), 1..10 000; default 100. */
  linesPerChunk: z.int().min(1).max(10_000).default(100),
  /** The batch runner (a separate process reading the same config file). */
  runner: z
    .strictObject({
      /** Where the runner sends each line: the activator's proxy listener (its Service URL). */
      activatorUrl: httpUrl.default("http://127.0.0.1:8080"),
      /** The activator's admin listener, read for engine queue gauges (`/queue`); no yielding when unset. */
      adminUrl: httpUrl.optional(),
      /** Lines sent at once by one runner. Default 8. */
      concurrency: z.int().min(1).max(1024).default(8),
      /**
       * Yield to interactive traffic: while any model's engine reports more than this many waiting requests
       * (`vllm:num_requests_waiting`, via the admin `/queue`), the runner sends one line at a time. Default 4.
       */
      yieldWaitingAbove: z.number().min(0).default(4),
      /** SQS long-poll wait, seconds (0..20). Default 10. */
      waitSeconds: z.int().min(0).max(20).default(10),
      /**
       * SQS visibility timeout asked for each message, seconds. The runner extends it every third of it while it
       * works on the chunk (../batch/runner.ts `keepInvisible`), so it bounds how soon a chunk whose runner died runs
       * again; a chunk is kept hidden for at most SQS's 12 hours since receipt (extensions past that are rejected),
       * after which it may run again on another runner. At most 32 400 (the first extension, at a third, then ends
       * within 12 h). Default 900.
       */
      visibilitySeconds: z.int().min(1).max(32_400).default(900),
    })
    .prefault({}),
});

export type BatchConfig = z.output<typeof batchConfigSchema>;
export type BatchConfigInput = z.input<typeof batchConfigSchema>;
