/**
 * A real local SQS endpoint for tests: moto's server mode (`moto_server -p PORT`, moto[server] pinned in
 * testing/sdk/requirements.txt, installed by .ci/run into ~/.cache/gpu-serverless/python and put on PATH), driven with
 * the AWS SDK for JavaScript v3 and static test credentials (moto checks none). Account 123456789012 (moto's default).
 *
 *   const moto = await MotoSqs.start();       // null when moto_server is absent: MOTO_SERVER_MISSING says why
 *   const arn = await moto.createQueue("jobs");
 *   await moto.send(arn, 3); await moto.receive(arn, 1);   // 2 visible + 1 in flight
 *   await moto.stop();
 */
import { type ChildProcess, spawn } from "node:child_process";
import { CreateQueueCommand, DeleteQueueCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { sqsQueue } from "../../activator/src/queue/config";
import { MOTO_MISSING, motoServerPath } from "../batch/moto";
import { freePort } from "./backend";
import { eventually } from "./http";

export const MOTO_ACCOUNT = "123456789012";
export const MOTO_REGION = "us-east-1";
/** The environment the activator needs to sign requests to moto (and never to look for instance credentials). */
export const MOTO_CLIENT_ENV = { AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", AWS_EC2_METADATA_DISABLED: "true" };
// One finder and message for moto's server across the test harness (testing/batch/moto.ts).
export { MOTO_MISSING as MOTO_SERVER_MISSING, motoServerPath };

export class MotoSqs {
  private constructor(
    readonly endpoint: string,
    private readonly child: ChildProcess,
    readonly client: SQSClient,
    /** The region queues are created and used in (moto keeps one set of queues per region). */
    readonly region: string,
  ) {}

  /** Starts moto_server on a free port of 127.0.0.1; `region` (default MOTO_REGION) is where this client works. */
  static async start(region = MOTO_REGION): Promise<MotoSqs | null> {
    const bin = motoServerPath();
    if (!bin) return null;
    const port = await freePort();
    const child = spawn(bin, ["-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
    const endpoint = `http://127.0.0.1:${port}`;
    const client = new SQSClient({ region, endpoint, credentials: { accessKeyId: "test", secretAccessKey: "test" }, useQueueUrlAsEndpoint: false });
    const moto = new MotoSqs(endpoint, child, client, region);
    await eventually(async () => (await fetch(`${endpoint}/moto-api/`).catch(() => null)) !== null, `moto_server to listen on ${endpoint}`, 20_000, 100);
    return moto;
  }

  /** Creates a queue; returns its ARN. */
  async createQueue(name: string): Promise<string> {
    await this.client.send(new CreateQueueCommand({ QueueName: name }));
    return `arn:aws:sqs:${this.region}:${MOTO_ACCOUNT}:${name}`;
  }

  async deleteQueue(arn: string): Promise<void> {
    await this.client.send(new DeleteQueueCommand({ QueueUrl: sqsQueue(arn).url }));
  }

  /** Sends `count` messages. */
  async send(arn: string, count: number): Promise<void> {
    for (let i = 0; i < count; i += 10) {
      const entries = Array.from({ length: Math.min(10, count - i) }, (_, j) => ({ Id: String(i + j), MessageBody: `message ${i + j}` }));
      await this.client.send(new SendMessageBatchCommand({ QueueUrl: sqsQueue(arn).url, Entries: entries }));
    }
  }

  /** Receives up to `count` messages (they become in flight for `visibilitySeconds`); returns how many came. */
  async receive(arn: string, count: number, visibilitySeconds = 300): Promise<number> {
    const out = await this.client.send(new ReceiveMessageCommand({ QueueUrl: sqsQueue(arn).url, MaxNumberOfMessages: count, VisibilityTimeout: visibilitySeconds }));
    return out.Messages?.length ?? 0;
  }

  /** Stops the server (the endpoint goes down). */
  async stop(): Promise<void> {
    this.client.destroy();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGTERM");
    await exited;
  }
}
