/**
 * Queue load scaling, state: reads the depth of every configured SQS queue on an interval and answers, per model, the
 * backlog that counts as demand now.
 *
 * Rules:
 * - A queue's depth is `ApproximateNumberOfMessages + ApproximateNumberOfMessagesNotVisible` (visible + in flight:
 *   a message a consumer is working on is work the model still has), as KEDA's aws-sqs-queue scaler with its default
 *   `scaleOnInFlight: true` (kedacore/keda v2.20.2 pkg/scalers/aws_sqs_queue_scaler.go parseAwsSqsQueueMetadata).
 * - A successful read counts until the next read completes. After a failed read (an SDK error, a timeout, an answer
 *   without the attributes) the last good depth still counts while it is at most `maxStalenessSeconds` old (default
 *   15 s: one or two failed reads at the default 5 s interval do not make the replica count flap); then the queue
 *   counts 0. A queue never read successfully counts 0. An outage or a revoked permission therefore never pins
 *   replicas; it shows on `/queue` and in `activator_queue_read_failing` / `activator_queue_read_errors_total`.
 * - A model's backlog is the sum over its queues. Active: backlog ≥ `activationMessages`.
 * - Reads of all queues start together each round; the next round starts `intervalSeconds` after the previous one
 *   ended (a slow endpoint never stacks reads). Each read is aborted after `timeoutSeconds`. A queue listed by several
 *   models is read once per round.
 * - The configured models are re-read every round (config reloads add and remove queues; their series follow).
 * - A read that turns a model active (backlog below `activationMessages` before it, at or above after it, e.g. 0 → a
 *   first message) tells `onActivated` listeners at once, with the read: the scaler pushes `true` on KEDA's stream
 *   then, as for a request that finds its model cold, instead of at the next heartbeat. A model that stays active, or
 *   turns active by a config reload, is not told again (the heartbeat and KEDA's polls report it).
 *
 * Never throws from a read: every rejection becomes the queue's error.
 */
import type { Logger } from "pino";
import type { Clock, ClockTimer } from "../base/clock";
import { type QueueReadsConfig, type QueueScalingConfig, type SqsQueue, sqsQueue } from "./config";

/** Reads one queue's depth (visible + in flight, messages); rejects on any failure; stops when `signal` aborts. */
export type DepthReader = (queue: SqsQueue, settings: QueueReadsConfig, signal: AbortSignal) => Promise<number>;

/** One queue as `/queue` shows it. */
export interface QueueView {
  arn: string;
  url: string;
  /** Messages this queue adds to the model's backlog now (0 once failing past the staleness bound). */
  depth: number;
  /** Last successful read: its depth and wall-clock time (ISO 8601); absent before the first. */
  lastRead?: { depth: number; at: string };
  /** Present while reads fail: the latest error, when the failing began (ISO 8601), failed reads since. */
  error?: { message: string; since: string; failedReads: number };
}

/** One model's backlog. */
export interface ModelQueueView {
  /** Summed depth that counts now, messages. */
  depth: number;
  activationMessages: number;
  messagesPerReplica: number;
  /** depth ≥ activationMessages. */
  active: boolean;
  /** ceil(depth / messagesPerReplica): what the HPA asks for from this metric alone. */
  replicas: number;
  queues: QueueView[];
}

/** Hooks for metrics (./metrics.ts). */
export interface QueueDepthEvents {
  /** The (model, queue) pairs configured now; called each round and at start (zero-initialise, remove the rest). */
  configured?(pairs: ReadonlyArray<{ model: string; queue: string }>): void;
  /** A read of `queue` failed (once per model that lists it). */
  readFailed?(model: string, queue: string): void;
}

export interface QueueDepthsOptions {
  /** The models and their `queueScaling` now (the registry's, so reloads count). */
  models: () => Iterable<readonly [string, QueueScalingConfig | undefined]>;
  /** `queueReads` now. */
  settings: () => QueueReadsConfig;
  read: DepthReader;
  clock: Clock;
  /** Wall clock for the times `/queue` shows, ms since the epoch; default Date.now. */
  wallNow?: () => number;
  logger: Logger;
  events?: QueueDepthEvents;
}

interface QueueState {
  queue: SqsQueue;
  lastGood?: { depth: number; at: number; wallAt: number };
  error?: { message: string; sinceWall: number; failedReads: number };
}

export class QueueDepths {
  private readonly queues = new Map<string, QueueState>();
  private timer: ClockTimer | undefined;
  private closed = false;
  private readonly wallNow: () => number;
  private readonly activatedListeners = new Set<(modelKey: string) => void>();

  constructor(private readonly opts: QueueDepthsOptions) {
    this.wallNow = opts.wallNow ?? Date.now;
    this.sync();
  }

  /** Starts the rounds: the first at once. */
  start(): void {
    if (this.timer === undefined && !this.closed) this.timer = this.opts.clock.setTimeout(() => void this.round(), 0);
  }

  close(): void {
    this.closed = true;
    this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Subscribes to "a read turned this model active" (rules above): called synchronously from the read, once per
   * transition, with the model key. Returns unsubscribe.
   */
  onActivated(listener: (modelKey: string) => void): () => void {
    this.activatedListeners.add(listener);
    return () => this.activatedListeners.delete(listener);
  }

  /** The model's backlog; undefined when it has no `queueScaling`. */
  model(modelKey: string): ModelQueueView | undefined {
    for (const [key, scaling] of this.opts.models()) {
      if (key === modelKey) return scaling ? this.view(scaling) : undefined;
    }
    return undefined;
  }

  /** Every model with `queueScaling`, for `/queue`. */
  all(): Record<string, ModelQueueView> {
    const out: Record<string, ModelQueueView> = {};
    for (const [key, scaling] of this.opts.models()) if (scaling) out[key] = this.view(scaling);
    return out;
  }

  /** Messages `state`'s queue adds now (the staleness rule above). */
  private counted(state: QueueState | undefined): number {
    if (!state?.lastGood) return 0;
    if (!state.error) return state.lastGood.depth;
    const ageMs = this.opts.clock.now() - state.lastGood.at;
    return ageMs <= this.opts.settings().maxStalenessSeconds * 1000 ? state.lastGood.depth : 0;
  }

  private view(scaling: QueueScalingConfig): ModelQueueView {
    const queues = scaling.sqsQueueArns.map((arn): QueueView => {
      const state = this.queues.get(arn);
      const queue = state?.queue ?? sqsQueue(arn);
      return {
        arn,
        url: queue.url,
        depth: this.counted(state),
        ...(state?.lastGood ? { lastRead: { depth: state.lastGood.depth, at: new Date(state.lastGood.wallAt).toISOString() } } : {}),
        ...(state?.error ? { error: { message: state.error.message, since: new Date(state.error.sinceWall).toISOString(), failedReads: state.error.failedReads } } : {}),
      };
    });
    const depth = queues.reduce((sum, q) => sum + q.depth, 0);
    return {
      depth,
      activationMessages: scaling.activationMessages,
      messagesPerReplica: scaling.messagesPerReplica,
      active: depth >= scaling.activationMessages,
      replicas: Math.ceil(depth / scaling.messagesPerReplica),
      queues,
    };
  }

  /** Adopts the configured queues: new ones start unread, removed ones are forgotten. Returns model → queue ARNs. */
  private sync(): Map<string, string[]> {
    const byQueue = new Map<string, string[]>();
    const pairs: { model: string; queue: string }[] = [];
    for (const [model, scaling] of this.opts.models()) {
      for (const arn of scaling?.sqsQueueArns ?? []) {
        pairs.push({ model, queue: arn });
        const models = byQueue.get(arn);
        if (models) models.push(model);
        else byQueue.set(arn, [model]);
        if (!this.queues.has(arn)) this.queues.set(arn, { queue: sqsQueue(arn) });
      }
    }
    for (const arn of this.queues.keys()) if (!byQueue.has(arn)) this.queues.delete(arn);
    this.opts.events?.configured?.(pairs);
    return byQueue;
  }

  /** One round: read every configured queue, then schedule the next. */
  private async round(): Promise<void> {
    const byQueue = this.sync();
    const settings = this.opts.settings();
    await Promise.all([...byQueue].map(([arn, models]) => this.readOne(this.queues.get(arn)!, models, settings)));
    if (!this.closed) this.timer = this.opts.clock.setTimeout(() => void this.round(), settings.intervalSeconds * 1000);
  }

  private async readOne(state: QueueState, models: string[], settings: QueueReadsConfig): Promise<void> {
    const { clock, logger } = this.opts;
    const controller = new AbortController();
    const timeout = clock.setTimeout(() => controller.abort(new Error(`no answer within ${settings.timeoutSeconds} s`)), settings.timeoutSeconds * 1000);
    let depth: number;
    try {
      depth = await Promise.race([
        this.opts.read(state.queue, settings, controller.signal),
        new Promise<never>((_, reject) => controller.signal.addEventListener("abort", () => reject(controller.signal.reason as Error), { once: true })),
      ]);
      if (!Number.isFinite(depth) || depth < 0) throw new Error(`depth ${String(depth)} is not a count of messages`);
    } catch (err) {
      // A read that stops on the abort rejects with its own AbortError: the timeout is what happened.
      const message = errorMessage(controller.signal.aborted ? controller.signal.reason : err);
      if (!state.error) logger.warn({ queue: state.queue.arn, models, err: message }, "queue depth unreadable: the queue adds nothing to demand once its last depth is stale");
      state.error = { message, sinceWall: state.error?.sinceWall ?? this.wallNow(), failedReads: (state.error?.failedReads ?? 0) + 1 };
      for (const model of models) this.opts.events?.readFailed?.(model, state.queue.arn);
      return;
    } finally {
      clock.clearTimeout(timeout);
    }
    if (state.error) logger.info({ queue: state.queue.arn, models, depth }, "queue depth readable again");
    const wasActive = models.map((model) => this.model(model)?.active ?? false);
    state.error = undefined;
    state.lastGood = { depth, at: clock.now(), wallAt: this.wallNow() };
    models.forEach((model, i) => {
      if (wasActive[i] || !this.model(model)?.active) return;
      for (const listener of this.activatedListeners) {
        try {
          listener(model);
        } catch (err) {
          logger.error({ model, err: errorMessage(err) }, "queue activation listener failed");
        }
      }
    });
  }
}

/** `<name>: <message>` of an SDK error (`QueueDoesNotExist: ...`), one line. */
function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err).split("\n")[0]!;
  const name = err.name && err.name !== "Error" ? `${err.name}: ` : "";
  return `${name}${err.message}`.split("\n")[0]!;
}
