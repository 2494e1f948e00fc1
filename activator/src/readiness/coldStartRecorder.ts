/**
 * One model's cold-start timelines (./timeline): follows the cold start in progress, then records it in the
 * histogram `activator_cold_start_phase_seconds{model,phase}`, the `cold start` log line and the model's recent cold
 * starts on `/queue`.
 *
 * Lifecycle, driven by the holding module and the forwarder:
 * - `begin(demandAt)`: the first request held for lack of a ready replica (ModelState.hold);
 * - `objectsChanged(read)`: the model's Pods, ReplicaSets and Events changed (readiness mode `kubernetes`, the shared
 *   namespace watch of ../health/watch); `read` is called only while a cold start is followed. The pod's Node and
 *   Karpenter NodeClaim are looked up once it is bound (`NodeLookup`, ./nodes);
 * - `ready(held, firstByteWaitMs)`: a ready endpoint was seen; the cold start is served;
 * - `firstByte()`: the first released request's response head arrived: the timeline is complete, recorded and logged.
 *   Without one within `firstByteWaitMs` (requests that failed, clients gone) it is recorded without `first_byte`;
 * - `end(outcome, cause)`: the cold start ended without a ready replica (timeout, failed, client_gone); kept on
 *   `/queue`, not in the histogram (its phases stop short).
 *
 * Series: COLD_START_PHASE_BUCKETS (5, ../base/metrics) + `+Inf` + `_sum` + `_count` = 8 per phase, 10 phases: at most 80 series per model,
 * created by its first cold start (none for a model that never started cold); label values are the configured model
 * key and the fixed phase names.
 */
import type { Logger } from "pino";
import type { Histogram } from "prom-client";
import type { EventLike, PodLike, ReplicaSetLike } from "../health/causes";
import { milestonesFromObjects, phaseTimeline, type ColdStartPhase, type Milestones, type NodeClaimLike, type NodeLike, type ObjectMilestones } from "./timeline";

/** Completed cold starts kept per model for `/queue`. */
export const RECENT_COLD_STARTS = 5;

export interface TimelineSource {
  pods: readonly PodLike[];
  replicaSets: readonly ReplicaSetLike[];
  events: readonly EventLike[];
}

/** The Node of a name and the Karpenter NodeClaim whose `status.nodeName` it is (null: not found, not readable). */
export interface NodeLookup {
  lookup(nodeName: string): Promise<{ node: NodeLike | null; nodeClaim: NodeClaimLike | null }>;
}

/** A cold start as `/queue` and the log show it. Times are ISO 8601, durations seconds. */
export interface ColdStartRecord {
  demandAt: string;
  /** `in_progress`, `served`, or how it ended without a ready replica (`timeout`, `failed:<cause>`, `client_gone`). */
  outcome: string;
  pod?: string;
  node?: string;
  nodeAdded?: boolean;
  nodeClaim?: string;
  phases: Array<{ phase: ColdStartPhase; at: string; seconds: number }>;
  /** Demand to the last milestone reached (in progress: to now). */
  seconds: number;
}

interface Current {
  demandAt: number;
  observed: Milestones;
  found: ObjectMilestones;
  node: NodeLike | null;
  nodeClaim: NodeClaimLike | null;
  lookedUp: Set<string>;
  servedAt?: number;
  held?: number;
  timer?: NodeJS.Timeout;
}

export interface RecorderDeps {
  logger: Logger;
  histogram: Histogram<"model" | "phase">;
  nodes?: NodeLookup;
  /** Epoch ms; default performance.timeOrigin + performance.now() (the holding module's clock, on the epoch). */
  clock?: () => number;
}

export const epochNow = (): number => performance.timeOrigin + performance.now();

export class ColdStartRecorder {
  private current: Current | null = null;
  private read: (() => TimelineSource) | null = null;
  private readonly recentRecords: ColdStartRecord[] = [];
  private readonly clock: () => number;

  constructor(
    readonly model: string,
    private readonly deps: RecorderDeps,
  ) {
    this.clock = deps.clock ?? epochNow;
  }

  /** A cold start began at `demandAt` (epoch ms). A previous one still waiting for its first byte is recorded without it. */
  begin(demandAt: number): void {
    if (this.current?.servedAt !== undefined) this.finish();
    else if (this.current) return;
    this.current = { demandAt, observed: {}, found: { at: {} }, node: null, nodeClaim: null, lookedUp: new Set() };
    this.refresh();
  }

  /** The model's objects changed; `read` gives them (called only while a cold start is followed). */
  objectsChanged(read: () => TimelineSource): void {
    this.read = read;
    this.refresh();
  }

  /** A ready endpoint was seen: the cold start is served. `held`: requests it releases; first byte awaited `firstByteWaitMs`. */
  ready(held: number, firstByteWaitMs: number): void {
    const c = this.current;
    if (!c || c.servedAt !== undefined) return;
    this.refresh();
    c.servedAt = this.clock();
    c.held = held;
    this.see(c, "endpoint_ready", c.servedAt);
    if (c.found.nodeAdded && c.found.at.node_ready === undefined && c.found.node) this.lookupNode(c, c.found.node, true);
    c.timer = setTimeout(() => this.finish(), firstByteWaitMs);
    c.timer.unref();
  }

  /** The first released request's response head arrived. */
  firstByte(): void {
    const c = this.current;
    if (!c || c.servedAt === undefined || c.observed.first_byte !== undefined) return;
    this.see(c, "first_byte", this.clock());
    this.finish();
  }

  /** The cold start ended without a ready replica. */
  end(outcome: string): void {
    const c = this.current;
    if (!c || c.servedAt !== undefined) return;
    this.refresh();
    this.current = null;
    this.remember(this.record(c, outcome));
  }

  /** The cold start in progress (also while its first byte is awaited), or null. */
  inProgress(): ColdStartRecord | null {
    return this.current ? this.record(this.current, this.current.servedAt === undefined ? "in_progress" : "served") : null;
  }

  /** The last RECENT_COLD_STARTS completed cold starts, oldest first. */
  recent(): readonly ColdStartRecord[] {
    return this.recentRecords;
  }

  close(): void {
    clearTimeout(this.current?.timer);
    this.current = null;
  }

  private refresh(): void {
    const c = this.current;
    if (!c || !this.read) return;
    const { pods, replicaSets, events } = this.read();
    c.found = milestonesFromObjects({ demandAt: c.demandAt, pods, replicaSets, events, node: c.node, nodeClaim: c.nodeClaim });
    // Pod changes seen after the endpoint was (the pod watch may lag the EndpointSlice one) keep their API time.
    if (c.servedAt !== undefined) return;
    const now = this.clock();
    for (const phase of Object.keys(c.found.at) as ColdStartPhase[]) if (phase !== "node_ready") this.see(c, phase, now);
    if (c.found.node && !c.lookedUp.has(c.found.node)) this.lookupNode(c, c.found.node, false);
  }

  private see(c: Current, phase: ColdStartPhase, at: number): void {
    if (c.observed[phase] === undefined) c.observed[phase] = at;
  }

  private lookupNode(c: Current, name: string, again: boolean): void {
    if (!this.deps.nodes || (c.lookedUp.has(name) && !again)) return;
    c.lookedUp.add(name);
    this.deps.nodes.lookup(name).then(
      ({ node, nodeClaim }) => {
        if (this.current !== c) return;
        c.node = node;
        c.nodeClaim = nodeClaim;
        // Node milestones keep their API time: the lookup may come minutes after them.
        this.refresh();
      },
      (err: unknown) => this.deps.logger.debug({ model: this.model, node: name, err: String(err) }, "node lookup for the cold-start timeline failed"),
    );
  }

  /** `phases`: the cold start's phase timeline, when the caller already has it. */
  private record(c: Current, outcome: string, phases = phaseTimeline(c.demandAt, c.found.at, c.observed)): ColdStartRecord {
    const last = outcome === "in_progress" ? this.clock() : (phases.at(-1)?.at ?? c.demandAt);
    const { pod, node, nodeAdded, nodeClaim } = c.found;
    return {
      demandAt: new Date(c.demandAt).toISOString(),
      outcome,
      ...(pod !== undefined ? { pod } : {}),
      ...(node !== undefined ? { node } : {}),
      ...(nodeAdded !== undefined ? { nodeAdded } : {}),
      ...(nodeClaim !== undefined ? { nodeClaim } : {}),
      phases: phases.map((p) => ({ phase: p.phase, at: new Date(p.at).toISOString(), seconds: round(p.seconds) })),
      seconds: round((last - c.demandAt) / 1000),
    };
  }

  /** Records the served cold start: histogram, log line, recent list. */
  private finish(): void {
    const c = this.current;
    if (!c) return;
    clearTimeout(c.timer);
    this.current = null;
    const phases = phaseTimeline(c.demandAt, c.found.at, c.observed);
    const record = this.record(c, "served", phases);
    for (const p of phases) this.deps.histogram.observe({ model: this.model, phase: p.phase }, p.seconds);
    this.remember(record);
    const seconds: Partial<Record<ColdStartPhase, number>> = {};
    for (const p of record.phases) seconds[p.phase] = p.seconds;
    const durationMs = Math.round((c.servedAt ?? c.demandAt) - c.demandAt);
    const { pod, node, nodeAdded } = record;
    this.deps.logger.info({ model: this.model, durationMs, held: c.held, firstByte: c.observed.first_byte !== undefined, phases: seconds, pod, node, nodeAdded }, "cold start");
  }

  private remember(record: ColdStartRecord): void {
    this.recentRecords.push(record);
    if (this.recentRecords.length > RECENT_COLD_STARTS) this.recentRecords.shift();
  }
}

const round = (seconds: number): number => Math.round(seconds * 1000) / 1000;
