/**
 * Queue load scaling config: a queue is named by its ARN, its URL derived; bad input gets a one-line error naming the
 * key (issue 22).
 */
import assert from "node:assert/strict";
import { parseActivatorConfig } from "../../../activator/src/config/schema";
import { parseSqsQueueArn, QUEUE_READS_DEFAULTS, QUEUE_SCALING_DEFAULTS } from "../../../activator/src/queue/config";

const ARN = "arn:aws:sqs:us-east-1:123456789012:jobs";

function parse(queueScaling: unknown, queueReads?: unknown) {
  return parseActivatorConfig({
    ...(queueReads === undefined ? {} : { queueReads }),
    models: [{ name: "m", namespace: "ns", backend: "http://m.ns.svc", readinessPath: "/health", hosts: ["m.test"], queueScaling }],
  });
}

describe("activator queue scaling: config", () => {
  it("derives the queue URL from the ARN in each partition", () => {
    const cases: [string, string][] = [
      [ARN, "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"],
      ["arn:aws-cn:sqs:cn-north-1:123456789012:jobs.fifo", "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/jobs.fifo"],
      ["arn:aws-us-gov:sqs:us-gov-west-1:123456789012:a_b-c", "https://sqs.us-gov-west-1.amazonaws.com/123456789012/a_b-c"],
    ];
    for (const [arn, url] of cases) {
      const q = parseSqsQueueArn(arn);
      assert.ok(!("error" in q), arn);
      assert.equal(q.url, url);
    }
  });

  it("fills the documented defaults", () => {
    const r = parse({ sqsQueueArns: [ARN] });
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.config.models[0]!.queueScaling, { sqsQueueArns: [ARN], ...QUEUE_SCALING_DEFAULTS });
    assert.deepEqual(r.config.queueReads, { ...QUEUE_READS_DEFAULTS });
    assert.deepEqual(QUEUE_SCALING_DEFAULTS, { activationMessages: 1, messagesPerReplica: 5 });
    assert.deepEqual(QUEUE_READS_DEFAULTS, { intervalSeconds: 5, timeoutSeconds: 3, maxStalenessSeconds: 15 });
  });

  const bad: [string, unknown, unknown, RegExp][] = [
    ["a queue URL instead of an ARN", { sqsQueueArns: ["https://sqs.us-east-1.amazonaws.com/123456789012/jobs"] }, undefined, /^models\[0\]\.queueScaling\.sqsQueueArns\[0\]: must be an SQS queue ARN arn:aws:sqs:<region>:<12-digit account>:<queue name>, got "https:/],
    ["an ARN of another service", { sqsQueueArns: ["arn:aws:sns:us-east-1:123456789012:jobs"] }, undefined, /sqsQueueArns\[0\]: must be an SQS queue ARN/],
    ["a short account id", { sqsQueueArns: ["arn:aws:sqs:us-east-1:12345:jobs"] }, undefined, /sqsQueueArns\[0\]: must be an SQS queue ARN/],
    ["a queue name with a dot", { sqsQueueArns: ["arn:aws:sqs:us-east-1:123456789012:a.b"] }, undefined, /sqsQueueArns\[0\]: must be an SQS queue ARN/],
    ["an unknown partition", { sqsQueueArns: ["arn:aws-iso:sqs:us-iso-east-1:123456789012:jobs"] }, undefined, /sqsQueueArns\[0\]: partition "aws-iso" is not one of aws, aws-us-gov, aws-cn/],
    ["no queue", { sqsQueueArns: [] }, undefined, /queueScaling\.sqsQueueArns: list at least one queue ARN/],
    ["a queue twice", { sqsQueueArns: [ARN, ARN] }, undefined, /queueScaling\.sqsQueueArns: lists a queue twice/],
    ["activation at 0 messages", { sqsQueueArns: [ARN], activationMessages: 0 }, undefined, /queueScaling\.activationMessages: /],
    ["a fractional activation", { sqsQueueArns: [ARN], activationMessages: 1.5 }, undefined, /queueScaling\.activationMessages: /],
    ["0 messages per replica", { sqsQueueArns: [ARN], messagesPerReplica: 0 }, undefined, /queueScaling\.messagesPerReplica: /],
    ["an unknown key", { sqsQueueArns: [ARN], queueUrl: "x" }, undefined, /queueScaling\.queueUrl: unknown key/],
    ["an endpoint that is not http(s)", { sqsQueueArns: [ARN] }, { endpoint: "ftp://x" }, /^queueReads\.endpoint: /],
    ["a zero interval", { sqsQueueArns: [ARN] }, { intervalSeconds: 0 }, /^queueReads\.intervalSeconds: /],
    ["a staleness bound over 300 s", { sqsQueueArns: [ARN] }, { maxStalenessSeconds: 301 }, /^queueReads\.maxStalenessSeconds: /],
  ];
  for (const [what, queueScaling, queueReads, error] of bad) {
    it(`refuses ${what} with one line naming the key`, () => {
      const r = parse(queueScaling, queueReads);
      assert.ok(!r.ok, "refused");
      assert.equal(r.errors.length, 1, r.errors.join("\n"));
      assert.match(r.errors[0]!, error);
      assert.ok(!r.errors[0]!.includes("\n"));
    });
  }
});
