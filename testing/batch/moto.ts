/**
 * A local S3- and SQS-compatible server for Batch API tests and benches: moto's server (PyPI `moto[server]`,
 * pinned in testing/sdk/requirements.txt, installed by .ci/run into its Python venv, first on PATH).
 *
 *   const path = motoServerPath();          // null when moto_server is not installed: skip, saying why
 *   const moto = await MotoServer.start(path);
 *   const { bucket, queueUrl } = await moto.createBatchResources("name");
 *   moto.env                                // static test credentials + region for child processes
 *   await moto.stop();
 *
 * Only authentication differs from AWS: moto accepts any static credentials (`test`/`test`).
 */
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateQueueCommand, SQSClient } from "@aws-sdk/client-sqs";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import * as path from "node:path";
import { freePort } from "../activator/backend";

export const MOTO_MISSING = "moto_server not found: pip install -r testing/sdk/requirements.txt (as .ci/run does)";

/** moto_server on PATH, else in .ci/run's venv (~/.cache/gpu-serverless/python/bin); null when absent. */
export function motoServerPath(): string | null {
  for (const dir of (process.env["PATH"] ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, "moto_server");
    if (dir !== "" && existsSync(candidate)) return candidate;
  }
  const cached = path.join(process.env["XDG_CACHE_HOME"] ?? path.join(homedir(), ".cache"), "gpu-serverless/python/bin/moto_server");
  return existsSync(cached) ? cached : null;
}

export const TEST_CREDENTIALS = { AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", AWS_REGION: "us-east-1" } as const;

export class MotoServer {
  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(binary: string): Promise<MotoServer> {
    const port = await freePort();
    const child = spawn(binary, ["-H", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`moto_server exited ${child.exitCode}: ${stderr}`);
      try {
        if ((await fetch(`${url}/moto-api/`)).status < 500) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        child.kill();
        throw new Error(`moto_server did not listen on ${url} within 20 s: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return new MotoServer(url, child);
  }

  get env(): Record<string, string> {
    return { ...TEST_CREDENTIALS };
  }

  /** A bucket and a queue named after `name`. */
  async createBatchResources(name: string): Promise<{ bucket: string; queueUrl: string }> {
    const common = { region: TEST_CREDENTIALS.AWS_REGION, endpoint: this.url, credentials: { accessKeyId: "test", secretAccessKey: "test" } };
    const s3 = new S3Client({ ...common, forcePathStyle: true });
    const sqs = new SQSClient(common);
    try {
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      const queue = await sqs.send(new CreateQueueCommand({ QueueName: name }));
      return { bucket: name, queueUrl: queue.QueueUrl! };
    } finally {
      s3.destroy();
      sqs.destroy();
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    await exited;
  }
}

/** What a suite's `before` gets from {@link startBatchMoto}. */
export interface BatchMoto {
  readonly moto: MotoServer;
  readonly bucket: string;
  readonly queueUrl: string;
  /** Stops moto and puts back the AWS variables of `process.env` as they were. */
  stop(): Promise<void>;
}

/**
 * In a mocha `before`: starts moto's server, or skips the suite saying why when it is not installed; creates the
 * batch bucket and queue named `name`; sets {@link TEST_CREDENTIALS} in `process.env` (the activator child and the
 * SDK clients of the test read them). Call `stop()` in `after`.
 */
export async function startBatchMoto(ctx: Mocha.Context, name: string): Promise<BatchMoto> {
  const binary = motoServerPath();
  if (binary === null) {
    console.log(`      skipped: ${MOTO_MISSING}`);
    ctx.skip();
  }
  const moto = await MotoServer.start(binary!);
  const { bucket, queueUrl } = await moto.createBatchResources(name);
  const saved = Object.fromEntries(Object.keys(TEST_CREDENTIALS).map((k) => [k, process.env[k]]));
  Object.assign(process.env, TEST_CREDENTIALS);
  return {
    moto,
    bucket,
    queueUrl,
    stop: async () => {
      await moto.stop();
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    },
  };
}
