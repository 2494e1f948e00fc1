import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import pino from "pino";
import type { ModelActivity } from "../../../activator/src/scaler/activity";
import { ACTIVATION_COALESCE_MS, metricNameFor, startScalerServer, type ScalerServer } from "../../../activator/src/scaler/server";
import { percentile, sleep } from "../../../testing/activator/http";
import { KedaClient } from "../../../testing/activator/kedaClient";

/** ModelActivity whose demand the test sets by hand; arrive() fires an activation event as holding would. */
class FakeActivity implements ModelActivity {
  readonly demands = new Map<string, number>();
  readonly targets = new Map<string, number>();
  /** When a request last arrived or ended (performance.now()); absent: never. */
  readonly lastActivity = new Map<string, number>();
  private readonly requestListeners = new Set<(modelKey: string) => void>();
  private readonly listeners = new Set<(modelKey: string, arrivedAt: number) => void>();

  constructor(models: Record<string, number>) {
    for (const [key, target] of Object.entries(models)) {
      this.demands.set(key, 0);
      this.targets.set(key, target);
    }
  }
  has(modelKey: string): boolean {
    return this.demands.has(modelKey);
  }
  demand(modelKey: string): number {
    return this.demands.get(modelKey) ?? 0;
  }
  targetConcurrency(modelKey: string): number {
    return this.targets.get(modelKey) ?? 0;
  }
  lastActivityAt(modelKey: string): number {
    return this.lastActivity.get(modelKey) ?? -Infinity;
  }
  onRequest(listener: (modelKey: string) => void): () => void {
    this.requestListeners.add(listener);
    return () => this.requestListeners.delete(listener);
  }
  /** A request arrives for a warm model: demand goes up, activity is noted and request listeners hear of it. */
  arriveWarm(modelKey: string): void {
    this.demands.set(modelKey, this.demand(modelKey) + 1);
    this.lastActivity.set(modelKey, performance.now());
    for (const listener of this.requestListeners) listener(modelKey);
  }
  /** A request ends: demand goes down, activity is noted. */
  finish(modelKey: string): void {
    this.demands.set(modelKey, this.demand(modelKey) - 1);
    this.lastActivity.set(modelKey, performance.now());
  }
  onActivationNeeded(listener: (modelKey: string, arrivedAt: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  /** A request arrives for a cold model: demand goes up and listeners hear of it; returns the arrival time. */
  arrive(modelKey: string): number {
    this.demands.set(modelKey, this.demand(modelKey) + 1);
    const arrivedAt = performance.now();
    this.lastActivity.set(modelKey, arrivedAt);
    for (const listener of this.listeners) listener(modelKey, arrivedAt);
    return arrivedAt;
  }
  get listenerCount(): number {
    return this.listeners.size;
  }
}

const logger = pino({ level: "silent" });
const LLAMA = "default/llama";
const MISTRAL = "team-a/mistral";

async function grpcError(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  assert.fail("expected the call to fail");
}

describe("activator scaler: KEDA external-push gRPC server", () => {
  let activity: FakeActivity;
  let server: ScalerServer;
  let keda: KedaClient;
  let pushLatencies: Array<{ model: string; seconds: number }>;

  async function start(heartbeatMs: number): Promise<void> {
    activity = new FakeActivity({ [LLAMA]: 4, [MISTRAL]: 2.5 });
    pushLatencies = [];
    server = await startScalerServer({
      host: "127.0.0.1",
      port: 0,
      activity,
      logger,
      heartbeatMs,
      observePushLatency: (model, seconds) => pushLatencies.push({ model, seconds }),
    });
    keda = new KedaClient(`127.0.0.1:${server.port}`);
  }

  afterEach(async () => {
    keda?.close();
    await server?.close(500);
  });

  describe("unary RPCs", () => {
    beforeEach(() => start(60_000));

    it("IsActive is true exactly while the model has held or in-flight requests", async () => {
      assert.equal(await keda.isActive(LLAMA), false);
      activity.demands.set(LLAMA, 3);
      assert.equal(await keda.isActive(LLAMA), true);
      assert.equal(await keda.isActive(MISTRAL), false, "other models are unaffected");
      activity.demands.set(LLAMA, 0);
      assert.equal(await keda.isActive(LLAMA), false);
    });

    it("GetMetrics returns the demand in both int and float fields and echoes the metric name", async () => {
      activity.demands.set(LLAMA, 7);
      assert.deepEqual(await keda.getMetrics(LLAMA, "s0-whatever"), [
        { metricName: "s0-whatever", metricValue: 7, metricValueFloat: 7 },
      ]);
      activity.demands.set(LLAMA, 0);
      assert.deepEqual(await keda.getMetrics(LLAMA, ""), [
        { metricName: metricNameFor(LLAMA), metricValue: 0, metricValueFloat: 0 },
      ]);
    });

    it("GetMetricSpec returns the target concurrency per replica under a metric name valid for the HPA", async () => {
      assert.deepEqual(await keda.getMetricSpec(LLAMA), [
        { metricName: "activator-demand-default-llama", targetSize: 4, targetSizeFloat: 4 },
      ]);
      const [spec] = await keda.getMetricSpec(MISTRAL);
      assert.equal(spec!.targetSizeFloat, 2.5);
      assert.equal(spec!.targetSize, 3);
      assert.match(spec!.metricName, /^[a-z0-9-]+$/);
    });

    it("an unknown model is NOT_FOUND and a missing `model` key is INVALID_ARGUMENT, each naming the problem", async () => {
      for (const call of [keda.isActive("default/nope"), keda.getMetricSpec("default/nope"), keda.getMetrics("default/nope", "m")]) {
        const err = await grpcError(call);
        assert.equal(err.code, grpc.status.NOT_FOUND);
        assert.match(err.details, /model "default\/nope"/);
      }
      const missing = await grpcError(keda.isActive(LLAMA, { metadata: { scalerAddress: "x:9090" } }));
      assert.equal(missing.code, grpc.status.INVALID_ARGUMENT);
      assert.match(missing.details, /trigger metadata key "model" is missing/);
      assert.match(missing.details, /ScaledObject default\/llama/);

      const stream = keda.streamIsActive("default/nope");
      const end = await stream.ended;
      assert.equal(end.code, grpc.status.NOT_FOUND);
      assert.equal(stream.events.length, 0);
    });
  });

  describe("StreamIsActive", () => {
    it("sends the current state on open, then `true` the moment a cold request arrives (event-driven)", async () => {
      await start(60_000); // a heartbeat that never fires within the test: every `true` below is event-driven
      const stream = keda.streamIsActive(LLAMA);
      assert.equal((await stream.next()).result, false, "idle model: first message is false");

      const samples: number[] = [];
      for (let i = 0; i < 60; i++) {
        await sleep(ACTIVATION_COALESCE_MS + 5);
        const arrivedAt = activity.arrive(LLAMA);
        const event = await stream.nextTrue(1000);
        samples.push(event.at - arrivedAt);
      }
      const p50 = percentile(samples, 50);
      const p99 = percentile(samples, 99);
      console.log(`      push latency, arrival → true received by the client: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms (n=${samples.length})`);
      assert.ok(p99 < 50, `p99 ${p99.toFixed(2)} ms must be far below any timer`);
      assert.equal(pushLatencies.length, 60, "one observation per pushed event");
      assert.ok(pushLatencies.every((o) => o.model === LLAMA && o.seconds >= 0 && o.seconds < 0.05));
    });

    it("coalesces a burst of arrivals into one `true` per stream, and pushes to every stream of the model", async () => {
      await start(60_000);
      const a = keda.streamIsActive(LLAMA);
      const b = keda.streamIsActive(LLAMA);
      const other = keda.streamIsActive(MISTRAL);
      await Promise.all([a.next(), b.next(), other.next()]);
      for (let i = 0; i < 200; i++) activity.arrive(LLAMA);
      await Promise.all([a.nextTrue(1000), b.nextTrue(1000)]);
      await sleep(50);
      assert.equal(a.events.length, 2, "open state + one true");
      assert.equal(b.events.length, 2);
      assert.equal(other.events.length, 1, "another model's stream hears nothing");
      assert.equal(pushLatencies.length, 1);
    });

    it("repeats `true` every heartbeat while there is demand, then sends `false` once when it drops to zero", async () => {
      await start(40);
      const stream = keda.streamIsActive(LLAMA);
      await stream.nextFalse();
      activity.demands.set(LLAMA, 2); // demand without an activation event (e.g. requests in flight)
      const first = await stream.nextTrue(1000);
      const second = await stream.nextTrue(1000);
      assert.ok(second.at - first.at >= 30, "heartbeat spacing");
      activity.demands.set(LLAMA, 0);
      await stream.nextFalse(1000);
      const afterFalse = stream.events.length;
      await sleep(200); // five heartbeats with no demand
      assert.equal(stream.events.length, afterFalse, "false is sent once; an idle model's stream then stays quiet");
    });

    it("forgets a stream the client cancels: later arrivals push to nobody", async () => {
      await start(60_000);
      const stream = keda.streamIsActive(LLAMA);
      await stream.next();
      stream.cancel();
      assert.equal((await stream.ended).code, grpc.status.CANCELLED);
      await sleep(50); // let the server see the cancellation
      activity.arrive(LLAMA);
      assert.equal(pushLatencies.length, 0, "no stream left to push to");

      const again = keda.streamIsActive(LLAMA);
      assert.equal((await again.next()).result, true, "a new stream gets the current state (demand 1)");
    });

    it("ends a stream with NOT_FOUND when its model disappears from the config", async () => {
      await start(30);
      const stream = keda.streamIsActive(MISTRAL);
      await stream.next();
      activity.demands.delete(MISTRAL);
      const end = await stream.ended;
      assert.equal(end.code, grpc.status.NOT_FOUND);
      assert.match(end.details, /team-a\/mistral/);
    });

    it("close(grace) ends open streams cleanly, unsubscribes, and stops listening", async () => {
      await start(60_000);
      const stream = keda.streamIsActive(LLAMA);
      await stream.next();
      assert.equal(activity.listenerCount, 1);
      await server.close(500);
      assert.equal((await stream.ended).code, grpc.status.OK, "KEDA sees EOF and reconnects later");
      assert.equal(activity.listenerCount, 0);
      const err = await grpcError(keda.isActive(LLAMA));
      assert.equal(err.code, grpc.status.UNAVAILABLE);
    });
  });
});
