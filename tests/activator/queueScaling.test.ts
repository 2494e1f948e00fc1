/**
 * Queue load scaling over real sockets (issue 22): the built activator reads a real local SQS endpoint (moto server)
 * and answers KEDA's external-push protocol on its scaler port. A backlog at the activation threshold makes the model
 * active and the queue metric carries the depth (visible + in flight); a read error shows on /queue and in the
 * metrics, and the queue's demand drops to 0 after the staleness bound instead of pinning replicas.
 */
import { strict as assert } from "node:assert";
import { parsePrometheusText } from "../../activator/src/engine/promText";
import { metricNameFor } from "../../activator/src/scaler/server";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { config, model } from "../../testing/activator/config";
import { eventually, sendJson, send } from "../../testing/activator/http";
import { KedaClient } from "../../testing/activator/kedaClient";
import { MOTO_CLIENT_ENV, MOTO_SERVER_MISSING, MotoSqs, motoServerPath } from "../../testing/activator/motoSqs";

const MODEL = "test/batch";
const QUEUE_METRIC = metricNameFor(MODEL, "queue");

interface QueueView {
  arn: string;
  depth: number;
  error?: { message: string; since: string; failedReads: number };
}
interface Backlog {
  depth: number;
  active: boolean;
  replicas: number;
  queues: QueueView[];
}

describe("activator: SQS queue backlog through the one external-push trigger (moto server)", function () {
  this.timeout(90_000);
  let moto: MotoSqs | null = null;
  let act: ActivatorProcess | undefined;
  let keda: KedaClient | undefined;

  before(function () {
    if (!motoServerPath()) {
      console.log(`      skipped: ${MOTO_SERVER_MISSING}`);
      this.skip();
    }
  });
  beforeEach(async () => {
    moto = await MotoSqs.start();
  });
  afterEach(async () => {
    keda?.close();
    keda = undefined;
    await act?.stop();
    act = undefined;
    await moto?.stop();
    moto = null;
  });

  const activatorConfig = (arns: string[]) =>
    config([model("batch", "http://127.0.0.1:9", { queueScaling: { sqsQueueArns: arns, activationMessages: 5, messagesPerReplica: 2 } })], {
      queueReads: { intervalSeconds: 0.2, timeoutSeconds: 1, maxStalenessSeconds: 1, endpoint: moto!.endpoint },
      // A backlog is told on the stream with the heartbeat (and to every IsActive poll).
      activation: { heartbeatSeconds: 1 },
    });
  async function startActivator(arns: string[]): Promise<ActivatorProcess> {
    act = await ActivatorProcess.start(activatorConfig(arns), { env: MOTO_CLIENT_ENV });
    keda = new KedaClient(act.scalerAddress);
    return act;
  }
  const backlog = async (a: ActivatorProcess): Promise<Backlog> =>
    (await sendJson<{ models: Record<string, { queueScaling: Backlog }> }>(`${a.adminUrl}/queue`)).json.models[MODEL]!.queueScaling;
  const queueMetric = async (): Promise<number> => (await keda!.getMetrics(MODEL, QUEUE_METRIC))[0]!.metricValue as unknown as number;
  async function samples(a: ActivatorProcess, name: string): Promise<Record<string, number>> {
    const text = (await send(`${a.adminUrl}/metrics`)).body;
    return Object.fromEntries(parsePrometheusText(text).filter((s) => s.name === name).map((s) => [s.labels["queue"]!, s.value]));
  }

  it("wakes the model at the activation threshold (visible + in flight) and reports ceil(depth / target) through the queue metric", async () => {
    const arn = await moto!.createQueue("jobs");
    const a = await startActivator([arn]);
    const spec = await keda!.getMetricSpec(MODEL);
    assert.deepEqual(
      spec.map((s) => [s.metricName, s.targetSizeFloat]),
      [
        [metricNameFor(MODEL), 10],
        [QUEUE_METRIC, 2],
      ],
      "HTTP demand at targetConcurrency, then the queue at messagesPerReplica",
    );
    assert.deepEqual(await samples(a, "activator_queue_read_errors_total"), { [arn]: 0 }, "zero-initialised per configured queue");
    const stream = keda!.streamIsActive(MODEL);
    assert.equal((await stream.next()).result, false, "empty queue: idle on open");

    await moto!.send(arn, 4);
    await eventually(async () => (await backlog(a)).depth === 4, "depth 4 on /queue", 5000, 50);
    assert.equal(await keda!.isActive(MODEL), false, "4 messages < activationMessages 5");

    await moto!.send(arn, 1);
    assert.equal(await moto!.receive(arn, 2), 2, "two messages taken by a consumer: in flight");
    await eventually(async () => (await backlog(a)).depth === 5, "depth 5 (3 visible + 2 in flight)", 5000, 50);
    const seen = await backlog(a);
    assert.deepEqual([seen.active, seen.replicas], [true, 3], "ceil(5 / 2) = 3");
    assert.equal((await stream.nextTrue(2000)).result, true, "the stream tells KEDA within a heartbeat");
    assert.equal(await keda!.isActive(MODEL), true);
    assert.equal(Number(await queueMetric()), 5);
    assert.equal(Number((await keda!.getMetrics(MODEL))[0]!.metricValue), 0, "HTTP demand is unchanged: no request");
    stream.cancel();
  });

  it("reports a deleted queue on /queue and in the metrics, and drops its demand to 0 after the staleness bound", async () => {
    const arn = await moto!.createQueue("doomed");
    const a = await startActivator([arn]);
    await moto!.send(arn, 8);
    await eventually(async () => (await backlog(a)).active, "active with 8 messages", 5000, 50);
    const deletedAt = Date.now();
    await moto!.deleteQueue(arn);
    await eventually(async () => (await backlog(a)).queues[0]!.error !== undefined, "the read error on /queue", 5000, 50);
    const failing = (await backlog(a)).queues[0]!;
    assert.match(failing.error!.message, /QueueDoesNotExist|NonExistentQueue/);
    assert.ok(Date.parse(failing.error!.since) >= deletedAt - 1000, `since ${failing.error!.since}`);
    assert.deepEqual(await samples(a, "activator_queue_read_failing"), { [arn]: 1 });
    await eventually(async () => (await backlog(a)).depth === 0, "demand 0 once the last depth is stale (1 s)", 5000, 50);
    assert.equal(await keda!.isActive(MODEL), false, "not pinned");
    assert.equal(Number(await queueMetric()), 0);
    assert.ok((await samples(a, "activator_queue_read_errors_total"))[arn]! >= 1);
  });

  it("survives the endpoint going down: the error shows, demand drops to 0, the activator keeps serving", async () => {
    const arn = await moto!.createQueue("jobs");
    const a = await startActivator([arn]);
    await moto!.send(arn, 6);
    await eventually(async () => (await backlog(a)).active, "active with 6 messages", 5000, 50);
    await moto!.stop();
    moto = null;
    await eventually(async () => (await backlog(a)).depth === 0, "demand 0 after the endpoint went down", 8000, 50);
    assert.ok((await backlog(a)).queues[0]!.error, "the error is on /queue");
    assert.equal(await keda!.isActive(MODEL), false);
    assert.equal((await send(`${a.adminUrl}/healthz`)).status, 200, "still alive");
    assert.equal(a.child.exitCode, null);
  });

  it("follows a config reload: a queue added counts at once (its error counter exported at 0), one removed stops counting", async () => {
    const [first, second] = [await moto!.createQueue("first"), await moto!.createQueue("second")];
    await moto!.send(first, 2);
    await moto!.send(second, 4);
    const a = await startActivator([first]);
    await eventually(async () => (await backlog(a)).depth === 2, "depth 2 from the first queue", 5000, 50);
    assert.equal(await keda!.isActive(MODEL), false);
    a.writeConfig(activatorConfig([first, second]));
    await a.waitForLog((l) => l.msg === "config reloaded", 10_000);
    await eventually(async () => (await backlog(a)).depth === 6, "depth 2 + 4 after the reload", 5000, 50);
    assert.equal(await keda!.isActive(MODEL), true, "6 ≥ activationMessages 5");
    await eventually(async () => JSON.stringify(await samples(a, "activator_queue_read_errors_total")) === JSON.stringify({ [first]: 0, [second]: 0 }), "both queues' series", 5000, 50);
    a.writeConfig(activatorConfig([second]));
    await a.waitForLog((l) => l.msg === "config reloaded" && a.logs.filter((x) => x.msg === "config reloaded").length === 2, 10_000);
    await eventually(async () => (await backlog(a)).depth === 4, "only the second queue counts", 5000, 50);
    // Series follow the configured queues at the next round (within queueReads.intervalSeconds).
    await eventually(async () => JSON.stringify(await samples(a, "activator_queue_read_errors_total")) === JSON.stringify({ [second]: 0 }), "the removed queue's series gone", 5000, 50);
  });
});
