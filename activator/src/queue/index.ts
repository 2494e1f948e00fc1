/**
 * Queue load scaling (issue 22, "queues you already have"): SQS backlog per model, read by the activator and folded
 * into its one `external-push` trigger. Wiring for ../main.ts: the reader, the rounds, the metrics.
 *
 *   const queues = startQueueScaling({ ... });  // reads at once, then every queueReads.intervalSeconds
 *   withQueueDemand(activity, (key) => queues.depths.model(key))   // what the scaler reads
 *   queues.close()
 */
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Clock } from "../base/clock";
import type { QueueReadsConfig, QueueScalingConfig } from "./config";
import { QueueDepths } from "./depths";
import { queueMetrics } from "./metrics";
import { sqsDepthReader } from "./sqs";

export { withQueueDemand } from "./activity";
export type { ModelQueueView } from "./depths";

export interface QueueScalingOptions {
  /** The models and their `queueScaling` now. */
  models: () => Iterable<readonly [string, QueueScalingConfig | undefined]>;
  /** `queueReads` now. */
  settings: () => QueueReadsConfig;
  registry: Registry;
  clock: Clock;
  logger: Logger;
}

export function startQueueScaling(opts: QueueScalingOptions): { depths: QueueDepths; close(): void } {
  const sqs = sqsDepthReader();
  let depths: QueueDepths | undefined;
  const events = queueMetrics(opts.registry, () => depths);
  depths = new QueueDepths({ models: opts.models, settings: opts.settings, read: sqs.read, clock: opts.clock, logger: opts.logger, events });
  depths.start();
  const started = depths;
  return {
    depths: started,
    close() {
      started.close();
      sqs.close();
    },
  };
}
