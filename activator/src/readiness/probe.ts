/**
 * Probe-mode readiness: one prober per model polls GET backend + readinessPath (2xx = ready).
 *
 * Not ready: the next probe comes after 2% of the time since demand appeared (wake) or since readiness was
 * lost, at least PROBE_MIN_INTERVAL_MS and at most PROBE_MAX_INTERVAL_MS. Detection therefore costs at most
 * ~2% of a cold start (10 ms for the first 500 ms, 20 ms after 1 s, capped at 1 s), while an idle model at
 * zero settles at one probe a second (after 50 s; ~250 probes until then). Ready: one probe every
 * PROBE_READY_INTERVAL_MS to notice a replica going away (the proxy also reports refused connections
 * through markUnready). Probes never overlap.
 */
import { Agent, request } from "undici";
import type { Logger } from "pino";
import { systemClock, type Clock, type ClockTimer } from "../base/clock";
import type { ReadinessTarget } from "./types";
import { ReadinessState } from "./state";

export const PROBE_MIN_INTERVAL_MS = 10;
export const PROBE_MAX_INTERVAL_MS = 1000;
export const PROBE_BACKOFF_RATIO = 0.02;
export const PROBE_READY_INTERVAL_MS = 1000;
export const PROBE_TIMEOUT_MS = 1000;

/** One keep-alive pool for every prober; probes are tiny and sequential per model. */
const probeAgent = new Agent({
  connections: 2,
  keepAliveTimeout: 10_000,
  connect: { timeout: PROBE_TIMEOUT_MS },
  headersTimeout: PROBE_TIMEOUT_MS,
  bodyTimeout: PROBE_TIMEOUT_MS,
});

/** backend base URL + readiness path, tolerant of a trailing or missing slash. */
export function probeUrl(backend: string, readinessPath: string): string {
  return backend.replace(/\/+$/, "") + (readinessPath.startsWith("/") ? readinessPath : `/${readinessPath}`);
}

/** One probe's outcome: 2xx or not, and the text lastObserved shows. */
export interface ProbeResult {
  ok: boolean;
  observed: string;
}

export interface ProbeOptions {
  /** Default: the real clock. */
  clock?: Clock;
  /** GETs the readiness URL; default: undici through one shared keep-alive pool (`httpProbe`). */
  probe?: (url: string) => Promise<ProbeResult>;
}

export class ProbeReadiness extends ReadinessState {
  private readonly url: string;
  private readonly clock: Clock;
  private readonly probeOnce: (url: string) => Promise<ProbeResult>;
  private timer: ClockTimer | undefined;
  private inFlight = false;
  private probeAgain = false;
  /** Start of the current not-ready period (creation, wake or lost readiness): the backoff grows with it. */
  private notReadySince: number;
  private lastProbeAt = -Infinity;

  constructor(target: ReadinessTarget, logger: Logger, opts: ProbeOptions = {}) {
    super(target.modelKey, logger);
    this.clock = opts.clock ?? systemClock;
    this.probeOnce = opts.probe ?? httpProbe;
    this.notReadySince = this.clock.now();
    this.baseUrl = target.backend.replace(/\/+$/, "");
    this.url = probeUrl(target.backend, target.readinessPath);
    this.schedule(0);
  }

  wake(): void {
    if (this.closed || this.ready) return;
    this.notReadySince = this.clock.now();
    this.probeSoon();
  }

  markUnready(reason: string): void {
    if (this.closed) return;
    this.observe(false, reason);
    this.notReadySince = this.clock.now();
    this.probeSoon();
  }

  protected stop(): void {
    this.clock.clearTimeout(this.timer);
  }

  /** Probe now, but never more often than PROBE_MIN_INTERVAL_MS however many wakes arrive. */
  private probeSoon(): void {
    if (this.inFlight) {
      this.probeAgain = true;
      return;
    }
    this.schedule(Math.max(0, this.lastProbeAt + PROBE_MIN_INTERVAL_MS - this.clock.now()));
  }

  private schedule(delayMs: number): void {
    this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => void this.probe(), delayMs);
  }

  private async probe(): Promise<void> {
    if (this.closed || this.inFlight) return;
    this.inFlight = true;
    this.lastProbeAt = this.clock.now();
    const { ok, observed } = await this.probeOnce(this.url);
    this.inFlight = false;
    if (this.closed) return;
    const wasReady = this.ready;
    this.observe(ok, observed);
    if (wasReady && !ok) this.notReadySince = this.clock.now();
    if (this.probeAgain && !ok) {
      this.probeAgain = false;
      this.probeSoon();
      return;
    }
    this.probeAgain = false;
    this.schedule(ok ? PROBE_READY_INTERVAL_MS : this.notReadyDelay());
  }

  private notReadyDelay(): number {
    return notReadyProbeDelay(this.clock.now() - this.notReadySince);
  }
}

/** GET `url` (2xx = ready), bounded by PROBE_TIMEOUT_MS; never rejects. */
export async function httpProbe(url: string): Promise<ProbeResult> {
  try {
    const res = await request(url, { method: "GET", dispatcher: probeAgent, signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await res.body.dump();
    return { ok: res.statusCode >= 200 && res.statusCode < 300, observed: `GET ${url} answered HTTP ${res.statusCode}` };
  } catch (err) {
    return { ok: false, observed: `GET ${url} failed: ${describe(err)}` };
  }
}

/** Delay before the next probe of a backend that has not been ready for `waitedMs`. */
export function notReadyProbeDelay(waitedMs: number): number {
  return Math.min(PROBE_MAX_INTERVAL_MS, Math.max(PROBE_MIN_INTERVAL_MS, waitedMs * PROBE_BACKOFF_RATIO));
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: string }).code;
    if (err.name === "TimeoutError" || err.name === "AbortError") return `no answer within ${PROBE_TIMEOUT_MS} ms`;
    return code ? `${code} (${err.message})` : err.message;
  }
  return String(err);
}
