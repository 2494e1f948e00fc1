/**
 * Queue load scaling state on a manual clock: depths summed per model, activation and replicas, the staleness bound
 * after failed reads (then 0, never pinned), timeouts, reloads, metrics zero-initialised per configured queue.
 */
import assert from "node:assert/strict";
import pino from "pino";
import { Registry } from "prom-client";
import type { QueueReadsConfig, QueueScalingConfig, SqsQueue } from "../../../activator/src/queue/config";
import { QueueDepths } from "../../../activator/src/queue/depths";
import { queueMetrics } from "../../../activator/src/queue/metrics";
import { withQueueDemand } from "../../../activator/src/queue/activity";
import { activeSince, type ModelActivity } from "../../../activator/src/scaler/activity";
import { ManualClock } from "../../../testing/activator/clock";

const A = "arn:aws:sqs:us-east-1:123456789012:a";
const B = "arn:aws:sqs:eu-west-1:123456789012:b";
const SETTINGS: QueueReadsConfig = { intervalSeconds: 5, timeoutSeconds: 3, maxStalenessSeconds: 15 };

/** A fake SQS: each queue answers a depth, fails with an error, or never answers. */
class FakeSqs {
  readonly answers = new Map<string, number | Error | "hang">();
  readonly reads: string[] = [];
  read = (queue: SqsQueue, _settings: QueueReadsConfig, signal: AbortSignal): Promise<number> => {
    this.reads.push(queue.name);
    const a = this.answers.get(queue.arn);
    if (a === "hang") return new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("aborted"))));
    return a instanceof Error ? Promise.reject(a) : Promise.resolve(a ?? 0);
  };
}

function setup(models: Record<string, QueueScalingConfig | undefined>, settings = SETTINGS) {
  const clock = new ManualClock();
  const sqs = new FakeSqs();
  const registry = new Registry();
  let depths: QueueDepths | undefined;
  const config = { models };
  depths = new QueueDepths({
    models: () => Object.entries(config.models),
    settings: () => settings,
    read: sqs.read,
    clock,
    wallNow: () => Date.UTC(2026, 0, 1) + clock.now(),
    logger: pino({ level: "silent" }),
    events: queueMetrics(registry, () => depths),
  });
  return { clock, sqs, registry, depths, config };
}

const scaling = (arns: string[], activationMessages = 1, messagesPerReplica = 5): QueueScalingConfig => ({ sqsQueueArns: arns, activationMessages, messagesPerReplica });

async function series(registry: Registry, name: string): Promise<Record<string, number>> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  return Object.fromEntries((metric?.values ?? []).map((v) => [`${v.labels["model"]} ${v.labels["queue"]}`, v.value]));
}

describe("activator queue scaling: depths", () => {
  it("sums visible + in-flight depth over a model's queues into activity and replicas", async () => {
    const { clock, sqs, depths } = setup({ "ns/m": scaling([A, B], 3, 5), "ns/plain": undefined });
    sqs.answers.set(A, 2);
    depths.start();
    await clock.advance(0);
    assert.deepEqual([depths.model("ns/m")!.depth, depths.model("ns/m")!.active], [2, false], "2 messages < activation 3");
    assert.equal(depths.model("ns/plain"), undefined);
    sqs.answers.set(B, 9);
    await clock.advance(5000);
    const view = depths.model("ns/m")!;
    assert.deepEqual([view.depth, view.active, view.replicas], [11, true, 3], "ceil(11 / 5) = 3");
    assert.deepEqual(view.queues.map((q) => [q.arn, q.depth, q.lastRead?.at]), [
      [A, 2, "2026-01-01T00:00:05.000Z"],
      [B, 9, "2026-01-01T00:00:05.000Z"],
    ]);
    assert.equal(view.queues[1]!.url, "https://sqs.eu-west-1.amazonaws.com/123456789012/b");
    depths.close();
  });

  it("reads a queue listed by two models once per round, and waits an interval after each round", async () => {
    const { clock, sqs, depths } = setup({ "ns/x": scaling([A]), "ns/y": scaling([A]) });
    depths.start();
    await clock.advance(0);
    await clock.advance(4999);
    assert.deepEqual(sqs.reads, ["a"]);
    await clock.advance(1);
    assert.deepEqual(sqs.reads, ["a", "a"]);
    depths.close();
    await clock.advance(60_000);
    assert.equal(sqs.reads.length, 2, "no read after close");
  });

  it("keeps the last good depth for maxStalenessSeconds after reads fail, then counts 0; reports the error and since when", async () => {
    const { clock, sqs, depths, registry } = setup({ "ns/m": scaling([A]) });
    sqs.answers.set(A, 7);
    depths.start();
    await clock.advance(0); // t=0: 7
    const denied = Object.assign(new Error("User is not authorized to perform: sqs:getqueueattributes"), { name: "AccessDenied" });
    sqs.answers.set(A, denied);
    await clock.advance(5000); // t=5 s: first failure
    let view = depths.model("ns/m")!;
    assert.equal(view.depth, 7, "last good depth (5 s old) still counts");
    assert.deepEqual(view.queues[0]!.error, { message: "AccessDenied: User is not authorized to perform: sqs:getqueueattributes", since: "2026-01-01T00:00:05.000Z", failedReads: 1 });
    assert.deepEqual(await series(registry, "activator_queue_read_failing"), { [`ns/m ${A}`]: 1 });
    await clock.advance(10_000); // t=15 s: the good read is 15 s old: still within the bound
    assert.equal(depths.model("ns/m")!.depth, 7);
    await clock.advance(1); // 15.001 s old
    view = depths.model("ns/m")!;
    assert.deepEqual([view.depth, view.active, view.replicas], [0, false, 0], "stale: 0, not pinned");
    assert.equal(view.queues[0]!.error!.since, "2026-01-01T00:00:05.000Z", "since the first failure");
    assert.equal(view.queues[0]!.error!.failedReads, 3, "t=5, 10, 15 s");
    assert.deepEqual(await series(registry, "activator_queue_read_errors_total"), { [`ns/m ${A}`]: 3 });
    assert.deepEqual(await series(registry, "activator_queue_depth_messages"), { [`ns/m ${A}`]: 0 });
    sqs.answers.set(A, 4);
    await clock.advance(5000);
    view = depths.model("ns/m")!;
    assert.deepEqual([view.depth, view.queues[0]!.error], [4, undefined], "readable again");
    assert.deepEqual(await series(registry, "activator_queue_read_failing"), { [`ns/m ${A}`]: 0 });
    depths.close();
  });

  it("counts 0 for a queue never read successfully, and aborts a read after timeoutSeconds", async () => {
    const { clock, sqs, depths } = setup({ "ns/m": scaling([A]) }, { ...SETTINGS, maxStalenessSeconds: 0 });
    sqs.answers.set(A, "hang");
    depths.start();
    await clock.advance(2999);
    assert.equal(depths.model("ns/m")!.queues[0]!.error, undefined, "still waiting");
    await clock.advance(1);
    assert.deepEqual([depths.model("ns/m")!.depth, depths.model("ns/m")!.queues[0]!.error?.message], [0, "no answer within 3 s"]);
    await clock.advance(5000);
    assert.equal(sqs.reads.length, 2, "the next round starts an interval after the timed-out one ended");
    depths.close();
  });

  it("refuses an answer that is not a count", async () => {
    const { clock, sqs, depths } = setup({ "ns/m": scaling([A]) });
    sqs.answers.set(A, Number.NaN);
    depths.start();
    await clock.advance(0);
    assert.match(depths.model("ns/m")!.queues[0]!.error!.message, /depth NaN is not a count of messages/);
    depths.close();
  });

  it("zero-initialises the error counter per configured (model, queue) and follows reloads", async () => {
    const { clock, depths, registry, config } = setup({ "ns/m": scaling([A, B]), "ns/n": undefined });
    assert.deepEqual(await series(registry, "activator_queue_read_errors_total"), { [`ns/m ${A}`]: 0, [`ns/m ${B}`]: 0 }, "before the first read");
    config.models = { "ns/m": scaling([B]), "ns/n": scaling([A]) };
    depths.start();
    await clock.advance(0);
    assert.deepEqual(await series(registry, "activator_queue_read_errors_total"), { [`ns/m ${B}`]: 0, [`ns/n ${A}`]: 0 });
    assert.deepEqual(Object.keys(depths.all()), ["ns/m", "ns/n"]);
    depths.close();
  });
});

describe("activator queue scaling: folded into the scaler's activity", () => {
  const http: ModelActivity = {
    has: () => true,
    demand: () => 0,
    lastActivityAt: () => -Infinity,
    targetConcurrency: () => 10,
    extraMetrics: () => [{ suffix: "vllm-waiting", target: 5, value: 1 }],
    onActivationNeeded: () => () => {},
  };

  it("is active at the activation threshold and adds a queue metric with the per-replica target", async () => {
    const { clock, sqs, depths } = setup({ "ns/m": scaling([A], 4, 2.5) });
    const activity = withQueueDemand(http, (key) => depths.model(key));
    depths.start();
    sqs.answers.set(A, 3);
    await clock.advance(0);
    assert.equal(activeSince(activity, "ns/m", 0), false, "3 < 4");
    sqs.answers.set(A, 4);
    await clock.advance(5000);
    assert.equal(activeSince(activity, "ns/m", 0), true, "4 ≥ 4");
    assert.deepEqual(activity.extraMetrics!("ns/m"), [
      { suffix: "vllm-waiting", target: 5, value: 1 },
      { suffix: "queue", target: 2.5, value: 4 },
    ]);
    assert.equal(activity.demand("ns/m"), 0, "HTTP demand untouched");
    assert.deepEqual(activity.extraMetrics!("ns/other"), [{ suffix: "vllm-waiting", target: 5, value: 1 }]);
    depths.close();
  });
});
