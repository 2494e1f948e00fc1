/**
 * Entry point of the batch runner (./runner.ts), a process of its own (the stack runs it as a CPU Deployment that
 * KEDA scales on the chunk queue's length):
 *
 *   node dist/batch/runnerMain.js --config FILE     (the activator's config file; its `batch` section is required)
 *
 * Environment: `BATCH_RUNNER_API_KEY` (the key it presents to the activator when `auth` is on), AWS credentials and
 * region as the AWS SDK reads them. SIGTERM: the chunk in progress is finished, then the process exits 0.
 */
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { parseConfigText } from "../config/load";
import { BatchRunner } from "./runner";
import { BatchStore } from "./store";

async function main(): Promise<void> {
  const logger = pino({ base: { service: "batch-runner" } }, pino.destination({ dest: 1, sync: true }));
  const { values } = parseArgs({ options: { config: { type: "string" } } });
  if (!values.config) {
    process.stderr.write("usage: node dist/batch/runnerMain.js --config FILE\n");
    process.exit(2);
  }
  // The file alone: the runner needs no API key digests or peer token (files the activator's config names).
  const file = path.resolve(process.env["INIT_CWD"] ?? process.cwd(), values.config);
  const config = parseConfigText(file, await readFile(file, "utf8"));
  logger.level = config.logLevel;
  if (!config.batch) {
    process.stderr.write("batch runner: the config has no `batch` section (bucket, queueUrl)\n");
    process.exit(2);
  }
  const store = new BatchStore(config.batch);
  const runner = new BatchRunner({ store, config: config.batch, logger, apiKey: process.env["BATCH_RUNNER_API_KEY"] });
  const stop = (): void => runner.stop();
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  logger.info({ queue: config.batch.queueUrl, activator: config.batch.runner.activatorUrl, concurrency: config.batch.runner.concurrency }, "batch runner started");
  await runner.run();
  await runner.close();
  store.close();
  logger.info("batch runner stopped");
}

main().catch((err: Error) => {
  process.stderr.write(`batch runner failed: ${err.message}\n`);
  process.exit(1);
});
