/**
 * IAM for the OpenAI Batch API (activator/src/batch/): what the activator, the batch runner and KEDA's `aws-sqs-queue`
 * scaler call on the batch bucket and queue, the authorisation requests those calls amount to, and the three least-
 * privilege policies that allow exactly them. Tests evaluate each policy against its consumer's requests
 * (tests/components/domain/batchIam.test.ts): every call allowed, no action allowed that no call needs.
 *
 * Our own calls are read from activator/src/batch/store.ts (`BatchStore`: PutObject, GetObject, DeleteObject,
 * ListObjectsV2, SendMessageBatch; conditional PutObject with If-Match / If-None-Match, authorised by s3:PutObject),
 * multipart.ts (`MultipartWriter`: CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload,
 * or one PutObject for a body under 5 MiB) and runner.ts (ReceiveMessage, DeleteMessage,
 * ChangeMessageVisibility). KEDA v2.20.2 `pkg/scalers/aws_sqs_queue_scaler.go` (commit 68a5b5028f35) calls only
 * GetQueueAttributes (line 185, `s.sqsWrapperClient.GetQueueAttributes`), with the operator's own credentials when
 * the TriggerAuthentication's podIdentity is `aws` without a roleArn (`pkg/scalers/aws/aws_common.go`
 * `GetAwsAuthorization`).
 *
 * IAM actions per operation (AWS Service Authorization Reference, Amazon S3 and Amazon SQS): the multipart upload
 * operations but AbortMultipartUpload are authorised by `s3:PutObject`; AbortMultipartUpload by
 * `s3:AbortMultipartUpload`; ListObjectsV2 by `s3:ListBucket` on the bucket with `s3:prefix`; SendMessageBatch by
 * `sqs:SendMessage`; the rest by the action of their name. The bucket's encryption is SSE-S3 (AES256): no KMS call.
 */
import type { PolicyDocument } from "./iamPolicies";

/** Who calls. */
export type BatchConsumer = "activator" | "runner" | "kedaScaler";

/** One operation a consumer calls, with the IAM action that authorises it and where (file and function). */
export interface BatchCall {
    operation: string;
    action: string;
    on: "object" | "bucket" | "queue";
    source: string;
}

const store = "activator/src/batch/store.ts";
const upload = "activator/src/batch/multipart.ts MultipartWriter (BatchStore.upload)";
const s3Write = (operation: string, source: string): BatchCall => ({ operation, action: "s3:PutObject", on: "object", source });
const writes = [
    s3Write("PutObject", `${store} BatchStore.put, BatchStore.putJsonIf`),
    s3Write("PutObject", `${upload} under one part`),
    s3Write("CreateMultipartUpload", upload),
    s3Write("UploadPart", upload),
    s3Write("CompleteMultipartUpload", upload),
    { operation: "AbortMultipartUpload", action: "s3:AbortMultipartUpload", on: "object", source: `${upload} .abort() on a refused upload` },
] satisfies BatchCall[];
const getObject: BatchCall = { operation: "GetObject", action: "s3:GetObject", on: "object", source: `${store} BatchStore.getJson, BatchStore.read` };
const listObjects: BatchCall = { operation: "ListObjectsV2", action: "s3:ListBucket", on: "bucket", source: `${store} BatchStore.keys (done markers, a key's batches)` };

export const batchCalls: Record<BatchConsumer, BatchCall[]> = {
    activator: [
        ...writes,
        getObject,
        listObjects,
        { operation: "DeleteObject", action: "s3:DeleteObject", on: "object", source: `${store} BatchStore.delete (an upload whose purpose is not batch; DELETE /v1/files/{id})` },
        { operation: "SendMessageBatch", action: "sqs:SendMessage", on: "queue", source: `${store} BatchStore.enqueue` },
    ],
    runner: [
        ...writes,
        getObject,
        listObjects,
        { operation: "ReceiveMessage", action: "sqs:ReceiveMessage", on: "queue", source: "activator/src/batch/runner.ts BatchRunner.receiveLoop" },
        { operation: "DeleteMessage", action: "sqs:DeleteMessage", on: "queue", source: "activator/src/batch/runner.ts BatchRunner.receiveLoop" },
        { operation: "ChangeMessageVisibility", action: "sqs:ChangeMessageVisibility", on: "queue", source: "activator/src/batch/runner.ts BatchRunner.receiveLoop (a failed chunk)" },
    ],
    kedaScaler: [{ operation: "GetQueueAttributes", action: "sqs:GetQueueAttributes", on: "queue", source: "kedacore/keda v2.20.2 pkg/scalers/aws_sqs_queue_scaler.go:185" }],
};

/** Where the Batch API lives: a bucket, the key prefix (`batch/`, ending in `/`), the chunk queue's ARN. */
export interface BatchLocation {
    partition: string;
    bucket: string;
    prefix: string;
    queueArn: string;
}

/** An authorisation request as the evaluator takes it. */
export interface BatchRequest {
    call: BatchCall;
    action: string;
    resource: string;
    context: Record<string, string>;
}

/** The requests `consumer` makes for a batch `id` (object keys under the prefix, listings of its own prefixes). */
export function batchRequests(consumer: BatchConsumer, at: BatchLocation, id = "batch_0123456789abcdef"): BatchRequest[] {
    const bucketArn = `arn:${at.partition}:s3:::${at.bucket}`;
    const listed = consumer === "activator" ? [`${at.prefix}owners/0f00/batches/`, `${at.prefix}batches/${id}/done/`] : [`${at.prefix}batches/${id}/done/`];
    return batchCalls[consumer].flatMap((call): BatchRequest[] => {
        if (call.on === "queue") return [{ call, action: call.action, resource: at.queueArn, context: {} }];
        if (call.on === "bucket") return listed.map((prefix) => ({ call, action: call.action, resource: bucketArn, context: { "s3:prefix": prefix } }));
        return [`batches/${id}/record.json`, "files/file-0123456789ab/content"].map((key) => ({ call, action: call.action, resource: `${bucketArn}/${at.prefix}${key}`, context: {} }));
    });
}

const document = (...Statement: PolicyDocument["Statement"]): PolicyDocument => ({ Version: "2012-10-17", Statement });

/** S3 statements shared by the activator and the runner: objects under the prefix, listing only under it. */
function objectStatements(at: BatchLocation, actions: string[]): PolicyDocument["Statement"] {
    const bucketArn = `arn:${at.partition}:s3:::${at.bucket}`;
    return [
        { Effect: "Allow", Action: actions, Resource: `${bucketArn}/${at.prefix}*` },
        { Effect: "Allow", Action: "s3:ListBucket", Resource: bucketArn, Condition: { StringLike: { "s3:prefix": `${at.prefix}*` } } },
    ];
}

/** The activator's role: files and batch records under the prefix, chunk messages sent to the one queue. */
export function batchActivatorPolicy(at: BatchLocation): PolicyDocument {
    return document(
        ...objectStatements(at, ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]),
        { Effect: "Allow", Action: "sqs:SendMessage", Resource: at.queueArn },
    );
}

/** The runner's role: reads inputs and records, writes results, receives and deletes chunk messages. No deletes in S3. */
export function batchRunnerPolicy(at: BatchLocation): PolicyDocument {
    return document(
        ...objectStatements(at, ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"]),
        { Effect: "Allow", Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"], Resource: at.queueArn },
    );
}

/** KEDA's operator role (IRSA, used by the runner's `aws-sqs-queue` trigger): the queue's length, nothing else. */
export function batchQueueReaderPolicy(at: Pick<BatchLocation, "queueArn">): PolicyDocument {
    return document({ Effect: "Allow", Action: "sqs:GetQueueAttributes", Resource: at.queueArn });
}
