import * as assert from "node:assert/strict";
import { batchActivatorPolicy, batchCalls, batchQueueReaderPolicy, batchRequests, batchRunnerPolicy, type BatchConsumer, type BatchLocation } from "../../../components/domain/batchIam";
import type { PolicyDocument } from "../../../components/domain/iamPolicies";
import { allowedActions, evaluate } from "../../support/iamEvaluator";

const at: BatchLocation = { partition: "aws", bucket: "gs-batch-abc", prefix: "batch/", queueArn: "arn:aws:sqs:us-west-2:123456789012:gs-batch-chunks" };
const policies: Record<BatchConsumer, PolicyDocument> = {
    activator: batchActivatorPolicy(at),
    runner: batchRunnerPolicy(at),
    kedaScaler: batchQueueReaderPolicy(at),
};

describe("domain/batchIam: the Batch API's three roles against the calls they make (activator, runner, KEDA's aws-sqs-queue scaler)", () => {
    for (const consumer of Object.keys(policies) as BatchConsumer[]) {
        it(`${consumer}: every call is allowed, and no action is allowed that no call needs`, () => {
            const requests = batchRequests(consumer, at);
            const refused = requests.filter((r) => evaluate(policies[consumer], r) !== "allow").map((r) => `${r.call.operation} ${r.resource}`);
            assert.deepEqual(refused, []);
            const unused = allowedActions(policies[consumer]).filter((a) => !requests.some((r) => r.action === a));
            assert.deepEqual(unused, []);
        });
    }

    it("reaches nothing outside the prefix, the bucket or the queue", () => {
        const other = "arn:aws:sqs:us-west-2:123456789012:other";
        for (const [consumer, policy] of Object.entries(policies)) {
            const deny = (action: string, resource: string, context: Record<string, string> = {}) =>
                assert.equal(evaluate(policy, { action, resource, context }), "implicitDeny", `${consumer}: ${action} ${resource}`);
            deny("s3:GetObject", "arn:aws:s3:::gs-batch-abc/other/file");
            deny("s3:PutObject", "arn:aws:s3:::another-bucket/batch/x");
            deny("s3:ListBucket", "arn:aws:s3:::gs-batch-abc", { "s3:prefix": "other/" });
            deny("sqs:SendMessage", other);
            deny("sqs:ReceiveMessage", other);
            deny("sqs:GetQueueAttributes", other);
            deny("sqs:PurgeQueue", at.queueArn);
        }
        // The runner never deletes objects; only the activator sends messages; only KEDA reads the queue's length.
        assert.equal(evaluate(policies.runner, { action: "s3:DeleteObject", resource: "arn:aws:s3:::gs-batch-abc/batch/files/x/content", context: {} }), "implicitDeny");
        assert.equal(evaluate(policies.runner, { action: "sqs:SendMessage", resource: at.queueArn, context: {} }), "implicitDeny");
        assert.equal(evaluate(policies.activator, { action: "sqs:ReceiveMessage", resource: at.queueArn, context: {} }), "implicitDeny");
    });

    it("lists what each consumer calls, KEDA's single call cited at v2.20.2", () => {
        assert.deepEqual(batchCalls.kedaScaler.map((c) => c.operation), ["GetQueueAttributes"]);
        assert.match(batchCalls.kedaScaler[0]!.source, /v2\.20\.2 pkg\/scalers\/aws_sqs_queue_scaler\.go:\d+/);
        assert.ok(batchCalls.activator.some((c) => c.operation === "SendMessageBatch" && c.action === "sqs:SendMessage"));
    });
});
