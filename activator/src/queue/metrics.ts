/**
 * Queue load scaling, metrics (labels `model` = `<namespace>/<name>`, `queue` = the queue ARN; both from the config,
 * so the series are bounded by it). Every configured (model, queue) pair is exported from the start, as 0: `increase()`
 * sees the first failed read, and an alert on `activator_queue_read_failing == 1` has a series to watch.
 * - `activator_queue_depth_messages`: messages the queue adds to the model's backlog now (0 once failing past the
 *   staleness bound; read at scrape time).
 * - `activator_queue_read_failing`: 1 while the queue's reads fail, else 0.
 * - `activator_queue_read_errors_total`: failed reads.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { QueueDepthEvents, QueueDepths } from "./depths";

export function queueMetrics(registry: Registry, depths: () => QueueDepths | undefined): QueueDepthEvents {
  const labelNames = ["model", "queue"] as const;
  let current: ReadonlyArray<{ model: string; queue: string }> = [];
  const each = (visit: (model: string, queue: string, depth: number, failing: boolean) => void) => {
    const d = depths();
    if (!d) return;
    for (const [model, view] of Object.entries(d.all())) for (const q of view.queues) visit(model, q.arn, q.depth, q.error !== undefined);
  };
  new Gauge({
    name: "activator_queue_depth_messages",
    help: "Messages (visible + in flight) an SQS queue adds to the model's demand now; 0 once its reads fail past queueReads.maxStalenessSeconds",
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      each((model, queue, depth) => this.set({ model, queue }, depth));
    },
  });
  new Gauge({
    name: "activator_queue_read_failing",
    help: "1 while reading the SQS queue's depth fails (see /queue for the error), else 0",
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      each((model, queue, _depth, failing) => this.set({ model, queue }, failing ? 1 : 0));
    },
  });
  const errors = new Counter({ name: "activator_queue_read_errors_total", help: "Failed reads of the SQS queue's depth", labelNames, registers: [registry] });
  return {
    configured(pairs) {
      const key = (p: { model: string; queue: string }) => `${p.model} ${p.queue}`;
      const now = new Set(pairs.map(key));
      for (const p of current) if (!now.has(key(p))) errors.remove(p);
      const before = new Set(current.map(key));
      for (const p of pairs) if (!before.has(key(p))) errors.inc(p, 0);
      current = pairs;
    },
    readFailed(model, queue) {
      errors.inc({ model, queue });
    },
  };
}
