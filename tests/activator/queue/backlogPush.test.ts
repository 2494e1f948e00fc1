/**
 * Queue load scaling, immediate push: a read that turns a model's SQS backlog active (below `activationMessages` →
 * at or above it) pushes `true` on KEDA's StreamIsActive at once, through the scaler's activation path (as a request at
 * a cold model does), instead of waiting for the next heartbeat. Reads run on a manual clock; the scaler's heartbeat
 * is set far beyond the test, so every `true` seen below is the push.
 */
import assert from "node:assert/strict";
import pino from "pino";
import type { QueueReadsConfig, QueueScalingConfig, SqsQueue } from "../../../activator/src/queue/config";
import { QueueDepths } from "../../../activator/src/queue/depths";
import { withQueueDemand } from "../../../activator/src/queue/activity";
import type { ModelActivity } from "../../../activator/src/scaler/activity";
import { startScalerServer, type ScalerServer } from "../../../activator/src/scaler/server";
import { ManualClock } from "../../../testing/activator/clock";
import { sleep } from "../../../testing/activator/http";
import { KedaClient } from "../../../testing/activator/kedaClient";

const MODEL = "ns/summarizer";
const A = "arn:aws:sqs:us-east-1:123456789012:a";
const B = "arn:aws:sqs:us-east-1:123456789012:b";
const SETTINGS: QueueReadsConfig = { intervalSeconds: 5, timeoutSeconds: 3, maxStalenessSeconds: 15 };
/** Far beyond the test: no heartbeat fires, so a `true` on the stream is the event-driven push. */
const NO_HEARTBEAT_MS = 600_000;
/** How long the test waits to see that nothing more was pushed, ms. */
const QUIET_MS = 100;
const logger = pino({ level: "silent" });

describe("activator queue scaling: a backlog turning active is pushed to KEDA at once", () => {
  let server: ScalerServer | undefined;
  let keda: KedaClient | undefined;
  let depths: QueueDepths | undefined;

  afterEach(async () => {
    depths?.close();
    keda?.close();
    await server?.close(500);
  });

  /** The scaler over `withQueueDemand` of a model without HTTP demand; each queue answers `answers.get(arn)` (an Error rejects). */
  async function setup(scaling: QueueScalingConfig) {
    const clock = new ManualClock();
    const answers = new Map<string, number | Error>();
    const requestListeners = new Set<(modelKey: string, arrivedAt?: number) => void>();
    const http: ModelActivity = {
      has: (key) => key === MODEL,
      demand: () => 0,
      lastActivityAt: () => -Infinity,
      targetConcurrency: () => 4,
      onActivationNeeded: (listener) => (requestListeners.add(listener), () => requestListeners.delete(listener)),
    };
    depths = new QueueDepths({
      models: () => [[MODEL, scaling]],
      settings: () => SETTINGS,
      read: (queue: SqsQueue) => {
        const a = answers.get(queue.arn) ?? 0;
        return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
      },
      clock,
      logger,
    });
    const pushLatencies: number[] = [];
    server = await startScalerServer({
      host: "127.0.0.1",
      port: 0,
      activity: withQueueDemand(http, (key) => depths!.model(key), (listener) => depths!.onActivated(listener)),
      logger,
      heartbeatMs: NO_HEARTBEAT_MS,
      observePushLatency: (_model, seconds) => pushLatencies.push(seconds),
    });
    keda = new KedaClient(`127.0.0.1:${server.port}`);
    const stream = keda.streamIsActive(MODEL);
    assert.equal((await stream.next()).result, false, "an idle model's stream opens with false");
    depths.start();
    return { clock, answers, stream, pushLatencies, requestListeners };
  }

  it("pushes `true` with the read that reaches activationMessages, once per transition, and again after the backlog drained", async () => {
    const { clock, answers, stream, pushLatencies } = await setup({ sqsQueueArns: [A], activationMessages: 3, messagesPerReplica: 5 });
    await clock.advance(0); // first round: empty queue
    answers.set(A, 2);
    await clock.advance(SETTINGS.intervalSeconds * 1000);
    await sleep(QUIET_MS);
    assert.equal(stream.events.length, 1, "2 < activationMessages 3: nothing pushed");

    answers.set(A, 3);
    await clock.advance(SETTINGS.intervalSeconds * 1000);
    assert.equal((await stream.nextTrue(1000)).result, true, "3 ≥ 3: pushed with this read, no heartbeat");

    answers.set(A, 40);
    await clock.advance(SETTINGS.intervalSeconds * 1000);
    await sleep(QUIET_MS);
    assert.equal(stream.events.length, 2, "still active: the heartbeat and KEDA's polls carry it, no second push");

    answers.set(A, 0);
    await clock.advance(SETTINGS.intervalSeconds * 1000);
    answers.set(A, 7);
    await clock.advance(SETTINGS.intervalSeconds * 1000);
    assert.equal((await stream.nextTrue(1000)).result, true, "drained, then a new backlog: pushed again");
    await sleep(QUIET_MS);
    assert.equal(stream.events.length, 3);
    assert.deepEqual(pushLatencies, [], "a backlog has no request arrival: not observed as activation push latency");
  });

  it("pushes when a second queue's read brings the model's sum to the threshold, and when a failing queue reads again", async () => {
    const { clock, answers, stream } = await setup({ sqsQueueArns: [A, B], activationMessages: 4, messagesPerReplica: 5 });
    answers.set(A, 2);
    answers.set(B, new Error("AccessDenied: not allowed"));
    await clock.advance(0);
    await sleep(QUIET_MS);
    assert.equal(stream.events.length, 1, "2 + unreadable (0) < 4");

    answers.set(B, 2); // B readable again: 2 + 2 = 4
    await clock.advance(SETTINGS.intervalSeconds * 1000);
    assert.equal((await stream.nextTrue(1000)).result, true);
    await sleep(QUIET_MS);
    assert.equal(stream.events.length, 2, "one push for the round, though both queues were read");
  });

  it("leaves the request path as it was: a cold request's activation still pushes, with its arrival time", async () => {
    const { stream, requestListeners, pushLatencies } = await setup({ sqsQueueArns: [A], activationMessages: 1, messagesPerReplica: 5 });
    const arrivedAt = performance.now();
    for (const listener of requestListeners) listener(MODEL, arrivedAt);
    assert.equal((await stream.nextTrue(1000)).result, true);
    assert.equal(pushLatencies.length, 1);
  });
});
