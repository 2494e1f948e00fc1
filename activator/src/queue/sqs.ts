/**
 * Queue load scaling, the one AWS call: `GetQueueAttributes` (IAM action `sqs:GetQueueAttributes` on the queue's ARN)
 * for `ApproximateNumberOfMessages` and `ApproximateNumberOfMessagesNotVisible`, through the AWS SDK for JavaScript v3.
 *
 * Credentials and region: the SDK's default chain (in the cluster, the activator ServiceAccount's IRSA role: the EKS
 * pod identity webhook sets AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE). Each queue is read in its own ARN's region.
 * `queueReads.endpoint` replaces the regional endpoint (a VPC interface endpoint, a local server in tests); the client
 * never sends to the QueueUrl's host instead (`useQueueUrlAsEndpoint: false`). One attempt per read: the next round is
 * the retry.
 */
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { QueueReadsConfig, SqsQueue } from "./config";
import type { DepthReader } from "./depths";

/** The attributes read, in the order they are added up. */
export const DEPTH_ATTRIBUTES = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] as const;

/** The reader, with one SQS client per (endpoint, region), kept while the process runs. */
export function sqsDepthReader(): { read: DepthReader; close(): void } {
  const clients = new Map<string, SQSClient>();
  const clientFor = (queue: SqsQueue, endpoint: string | undefined): SQSClient => {
    const key = `${endpoint ?? ""} ${queue.region}`;
    let client = clients.get(key);
    if (!client) {
      client = new SQSClient({ region: queue.region, maxAttempts: 1, useQueueUrlAsEndpoint: false, ...(endpoint ? { endpoint } : {}) });
      clients.set(key, client);
    }
    return client;
  };
  return {
    async read(queue: SqsQueue, settings: QueueReadsConfig, signal: AbortSignal): Promise<number> {
      const out = await clientFor(queue, settings.endpoint).send(
        new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: [...DEPTH_ATTRIBUTES] }),
        { abortSignal: signal },
      );
      return DEPTH_ATTRIBUTES.reduce((sum, name) => {
        const value = Number(out.Attributes?.[name]);
        if (out.Attributes?.[name] === undefined || !Number.isInteger(value)) {
          throw new Error(`GetQueueAttributes answered without a count in ${name} (${String(out.Attributes?.[name])})`);
        }
        return sum + value;
      }, 0);
    },
    close() {
      for (const client of clients.values()) client.destroy();
      clients.clear();
    },
  };
}
