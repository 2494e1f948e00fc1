/** The cold-start recorder: what the histogram, the log line and `/queue` show for a cold start (injected clock). */
import { strict as assert } from "node:assert";
import pino from "pino";
import { createMetrics } from "../../../activator/src/base/metrics";
import { ColdStartRecorder, RECENT_COLD_STARTS, type NodeLookup, type TimelineSource } from "../../../activator/src/readiness/coldStartRecorder";

const T0 = Date.parse("2026-11-30T12:00:00.000Z");
const iso = (offsetMs: number) => new Date(T0 + offsetMs).toISOString().replace(".000Z", "Z");

function setup(nodes?: NodeLookup) {
  let now = T0;
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const { registry, coldStartPhase } = createMetrics({ forEachModel: () => {} });
  const recorder = new ColdStartRecorder("models/llama", { logger, histogram: coldStartPhase, nodes, clock: () => now });
  let source: TimelineSource = { pods: [], replicaSets: [], events: [] };
  const set = (s: Partial<TimelineSource>) => {
    source = { ...source, ...s };
    recorder.objectsChanged(() => source);
  };
  return { recorder, registry, lines, set, advance: (ms: number) => (now += ms) };
}

const rs = (replicas: number) => ({ metadata: { name: "llama-predictor-1" }, spec: { replicas } });
const pod = (conditions: Record<string, number>, nodeName?: string, startedAt?: number) => ({
  metadata: { name: "llama-predictor-1-abc", uid: "u1", creationTimestamp: iso(0), labels: {} },
  spec: nodeName ? { nodeName } : {},
  status: {
    conditions: Object.entries(conditions).map(([type, t]) => ({ type, status: "True", lastTransitionTime: iso(t) })),
    containerStatuses: startedAt === undefined ? [] : [{ name: "kserve-container", state: { running: { startedAt: iso(startedAt) } } }],
  },
});

describe("cold-start recorder", () => {
  it("follows a cold start from demand to first byte: /queue in progress, then the histogram, the log line and the recent list", async () => {
    const { recorder, registry, lines, set, advance } = setup();
    set({ replicaSets: [rs(0)] });
    recorder.begin(T0);
    assert.equal(recorder.inProgress()?.outcome, "in_progress");
    advance(300);
    set({ replicaSets: [rs(1)] });
    advance(200);
    set({ pods: [pod({})] as never });
    advance(1_000);
    set({ pods: [pod({ PodScheduled: 1_000 }, "n1")] as never });
    advance(4_000);
    set({ pods: [pod({ PodScheduled: 1_000, Initialized: 2_000, ContainersReady: 5_000, Ready: 5_000 }, "n1", 3_000)] as never });
    const during = recorder.inProgress()!;
    assert.deepEqual(
      during.phases.map((p) => p.phase),
      ["replicas_set", "pod_created", "scheduled", "initialized", "started", "ready"],
    );
    assert.equal(during.phases[0]!.seconds, 0.3, "replicas_set: seen by the watch 300 ms after the demand");
    assert.equal(during.phases[1]!.seconds, 0.2, "pod_created: seen 200 ms later (its API time, 0 s, is within the window)");
    advance(100);
    recorder.ready(1, 60_000);
    advance(40);
    recorder.firstByte();
    assert.equal(recorder.inProgress(), null);
    const [record] = recorder.recent();
    assert.equal(record!.outcome, "served");
    assert.deepEqual(
      record!.phases.map((p) => [p.phase, p.seconds]),
      // scheduled: seen at 1.5 s (API 1 s, within the window); initialized and started: seen 3.5 and 2.5 s after their
      // API times (past the window), so those are used; ready: seen at 5.5 s (API 5 s).
      [["replicas_set", 0.3], ["pod_created", 0.2], ["scheduled", 1], ["initialized", 0.5], ["started", 1], ["ready", 2.5], ["endpoint_ready", 0.1], ["first_byte", 0.04]],
    );
    assert.equal(record!.seconds, 5.64);
    const line = lines.find((l) => l["msg"] === "cold start")!;
    assert.equal(line["durationMs"], 5_600, "demand → endpoint ready, as before the timeline");
    assert.deepEqual(line["phases"], Object.fromEntries(record!.phases.map((p) => [p.phase, p.seconds])));
    const text = await registry.metrics();
    assert.match(text, /activator_cold_start_phase_seconds_count\{model="models\/llama",phase="first_byte"\} 1/);
    assert.match(text, /activator_cold_start_phase_seconds_bucket\{le="1",model="models\/llama",phase="replicas_set"\} 1/);
    assert.doesNotMatch(text, /phase="node_ready"/, "no node was added: no node_ready series");
    const series = text.split("\n").filter((l) => l.startsWith("activator_cold_start_phase_seconds")).length;
    assert.equal(series, 8 * 8, "8 phases reached × (5 buckets + +Inf + sum + count)");
  });

  it("records a cold start with no first byte once the wait is over, without first_byte", () => {
    const { recorder, lines, advance } = setup();
    recorder.begin(T0);
    advance(2_000);
    recorder.ready(3, 0);
    return new Promise<void>((resolve) =>
      setTimeout(() => {
        const [record] = recorder.recent();
        assert.deepEqual(record!.phases.map((p) => p.phase), ["endpoint_ready"]);
        assert.equal(lines.find((l) => l["msg"] === "cold start")!["firstByte"], false);
        resolve();
      }, 10),
    );
  });

  it("keeps a cold start that ended without a ready replica on /queue, not in the histogram", async () => {
    const { recorder, registry, set, advance } = setup();
    recorder.begin(T0);
    set({ replicaSets: [rs(1)], pods: [pod({})] as never });
    advance(60_000);
    recorder.end("timeout");
    assert.equal(recorder.recent()[0]!.outcome, "timeout");
    assert.deepEqual(recorder.recent()[0]!.phases.map((p) => p.phase), ["replicas_set", "pod_created"]);
    assert.doesNotMatch(await registry.metrics(), /activator_cold_start_phase_seconds_count/);
  });

  it("reads the node a cold start added, with its NodeClaim, once the pod is bound", async () => {
    const asked: string[] = [];
    const nodes: NodeLookup = {
      lookup: async (name) => {
        asked.push(name);
        return {
          node: { metadata: { name, creationTimestamp: iso(20_000) }, status: { conditions: [{ type: "Ready", status: "True", lastTransitionTime: iso(90_000) }] } },
          nodeClaim: { metadata: { name: "gpu-xk2lp", creationTimestamp: iso(2_000) }, status: { nodeName: name, conditions: [{ type: "Initialized", status: "True", lastTransitionTime: iso(95_000) }] } },
        };
      },
    };
    const { recorder, set, advance } = setup(nodes);
    recorder.begin(T0);
    set({ replicaSets: [rs(1)], pods: [pod({})] as never });
    advance(100_000);
    set({ pods: [pod({ PodScheduled: 99_000 }, "ip-10-0-7-9")] as never });
    set({ pods: [pod({ PodScheduled: 99_000 }, "ip-10-0-7-9")] as never });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(asked, ["ip-10-0-7-9"], "looked up once");
    const current = recorder.inProgress()!;
    assert.equal(current.nodeAdded, true);
    assert.equal(current.nodeClaim, "gpu-xk2lp");
    assert.deepEqual(current.phases.find((p) => p.phase === "node_ready"), { phase: "node_ready", at: new Date(T0 + 95_000).toISOString(), seconds: 95 });
  });

  it(`keeps the last ${RECENT_COLD_STARTS} cold starts`, () => {
    const { recorder, advance } = setup();
    for (let i = 0; i < RECENT_COLD_STARTS + 2; i++) {
      recorder.begin(T0 + i * 1000);
      advance(1000);
      recorder.end(`client_gone`);
    }
    assert.equal(recorder.recent().length, RECENT_COLD_STARTS);
    assert.equal(recorder.recent()[0]!.demandAt, new Date(T0 + 2000).toISOString());
  });
});
