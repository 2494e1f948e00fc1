/**
 * The activator's lifecycle as one explicit state machine:
 *
 *   starting ──serving()──▶ serving ──shutdown(why)──▶ draining ──▶ stopped (exit)
 *       └──────────────────shutdown(why)──────────────────▲
 *
 * - draining: stop accepting (/readyz fails, the proxy stops listening, watchers close), wait until held and
 *   in-flight requests reach zero or the grace period (`shutdownGraceSeconds`) ends, answer what is still held
 *   with 503, cut the remaining connections, then close the rest (scaler, peers, readiness, admin) and exit.
 * - An error no handler caught (`uncaught`) is counted (`activator_uncaught_exceptions_total{kind}`) and logged;
 *   the process keeps running, or drains and exits 1, by `exitsOnUncaught`.
 *
 * Time comes from an injected Clock (tests drive it; production uses performance.now() and Node timers).
 */
import type { Logger } from "pino";
import type { Clock } from "../base/clock";

export type Phase = "starting" | "serving" | "draining" | "stopped";

/** What an error no handler caught was: Node's process event it came from. */
export type UncaughtKind = "uncaughtException" | "unhandledRejection";

/** The parts the lifecycle drives, in the order it drives them (wired by main). */
export interface LifecycleParts {
  /** Requests this replica counts now: held (waiting for a ready replica) and in flight (forwarded). */
  counts(): { held: number; inFlight: number };
  /** Draining, step 1: /readyz fails, the proxy stops listening and tells clients to close, watchers close. */
  stopAccepting(): void;
  /** Grace over: answer every request still held with 503 `shutting_down`. */
  rejectAllHeld(): void;
  /** Cut every client connection still open (in-flight requests included). */
  cutConnections(): void;
  /** Close the rest, bounded by `remainingMs` where it waits (KEDA streams); peers are told this replica left. */
  closeRest(remainingMs: number): Promise<void>;
}

export interface LifecycleOptions {
  logger: Logger;
  clock: Clock;
  /** The grace period in ms, read when draining starts (it follows config reloads). */
  graceMs(): number;
  /** Ends the process (process.exit in production). */
  exit(code: number): void;
  /** Counts an error no handler caught. */
  countUncaught(kind: UncaughtKind): void;
  /** How often the drain re-reads the counts, ms; default 20. */
  pollMs?: number;
}

/**
 * Whether an error no handler caught must end the process. Held and in-flight counts are plain numbers bumped on
 * the request path, paired increment and decrement; an exception escaping while any request is counted may have
 * skipped a decrement (or a release), and a wrong count is demand KEDA and the peers would see for good: GPUs kept up
 * for requests that are gone, or held requests never released. A restart is the only repair, and draining first
 * serves what can still be served; the StatefulSet starts the pod again. With nothing counted, no count can be off
 * (an escape after an increment leaves it above zero), so the replica keeps serving: the error is counted and alerted
 * on, and a bug that a request can trigger does not restart every replica in turn while idle.
 */
export function exitsOnUncaught(counts: { held: number; inFlight: number }): boolean {
  return counts.held + counts.inFlight > 0;
}

export class Lifecycle {
  private current: Phase = "starting";
  private drained: Promise<void> | undefined;
  private exitCode = 0;

  constructor(
    private readonly parts: LifecycleParts,
    private readonly opts: LifecycleOptions,
  ) {}

  get phase(): Phase {
    return this.current;
  }

  /** starting → serving: every listener is up. */
  serving(): void {
    if (this.current !== "starting") throw new Error(`lifecycle: serving() in phase ${this.current} (only from starting)`);
    this.current = "serving";
  }

  /** Drains and stops (once; later calls return the same promise). `reason`: the signal or cause, for the log. */
  shutdown(reason: string): Promise<void> {
    this.drained ??= this.drain(reason);
    return this.drained;
  }

  /** An error no handler caught: counted, logged, and, by `exitsOnUncaught`, a drain that exits 1. */
  uncaught(err: unknown, kind: UncaughtKind): void {
    this.opts.countUncaught(kind);
    const counts = this.parts.counts();
    if (this.current === "draining" || this.current === "stopped") {
      this.opts.logger.error({ err, kind, ...counts }, `${kind} (already draining)`);
      return;
    }
    if (!exitsOnUncaught(counts)) {
      this.opts.logger.error({ err, kind, ...counts }, `${kind} (kept running: no request was counted)`);
      return;
    }
    this.opts.logger.error({ err, kind, ...counts }, `${kind} while requests were counted: draining, then exiting 1 for a restart (counts may be wrong)`);
    this.exitCode = 1;
    void this.shutdown(kind);
  }

  private async drain(reason: string): Promise<void> {
    const { logger, clock } = this.opts;
    this.current = "draining";
    const graceMs = this.opts.graceMs();
    const deadline = clock.now() + graceMs;
    const start = this.parts.counts();
    logger.info({ signal: reason, held: start.held, inFlight: start.inFlight, graceMs }, "shutting down: draining");
    this.parts.stopAccepting();
    const pollMs = this.opts.pollMs ?? 20;
    for (;;) {
      const { held, inFlight } = this.parts.counts();
      if (held + inFlight === 0 || clock.now() >= deadline) break;
      await new Promise<void>((resolve) => clock.setTimeout(resolve, Math.min(pollMs, deadline - clock.now())));
    }
    const { held, inFlight } = this.parts.counts();
    if (held + inFlight > 0) logger.warn({ held, inFlight }, "grace period over: held requests answered 503, in-flight ones cut");
    this.parts.rejectAllHeld();
    await new Promise((resolve) => setImmediate(resolve)); // let those answers reach the sockets before cutting them
    this.parts.cutConnections();
    await this.parts.closeRest(Math.max(0, deadline - clock.now()));
    this.current = "stopped";
    logger.info({ exitCode: this.exitCode }, "stopped");
    this.opts.exit(this.exitCode);
  }
}

/** The process events that drive a lifecycle: SIGTERM and SIGINT drain; errors no handler caught go to `uncaught`. */
export function attachToProcess(lifecycle: Lifecycle, proc: NodeJS.Process = process): void {
  proc.on("SIGTERM", () => void lifecycle.shutdown("SIGTERM"));
  proc.on("SIGINT", () => void lifecycle.shutdown("SIGINT"));
  proc.on("uncaughtException", (err) => lifecycle.uncaught(err, "uncaughtException"));
  proc.on("unhandledRejection", (err) => lifecycle.uncaught(err, "unhandledRejection"));
}
