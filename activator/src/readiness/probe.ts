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

export class ProbeReadiness extends ReadinessState {
  private readonly url: string;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private probeAgain = false;
  /** Start of the current not-ready period (creation, wake or lost readiness): the backoff grows with it. */
  private notReadySince = performance.now();
  private lastProbeAt = -Infinity;

  constructor(target: ReadinessTarget, logger: Logger) {
    super(target.modelKey, logger);
    this.baseUrl = target.backend.replace(/\/+$/, "");
    this.url = probeUrl(target.backend, target.readinessPath);
    this.schedule(0);
  }

  wake(): void {
    if (this.closed || this.ready) return;
    this.notReadySince = performance.now();
    this.probeSoon();
  }

  markUnready(reason: string): void {
    if (this.closed) return;
    this.observe(false, reason);
    this.notReadySince = performance.now();
    this.probeSoon();
  }

  protected stop(): void {
    clearTimeout(this.timer);
  }

  /** Probe now, but never more often than PROBE_MIN_INTERVAL_MS however many wakes arrive. */
  private probeSoon(): void {
    if (this.inFlight) {
      this.probeAgain = true;
      return;
    }
    this.schedule(Math.max(0, this.lastProbeAt + PROBE_MIN_INTERVAL_MS - performance.now()));
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.probe(), delayMs);
    this.timer.unref();
  }

  private async probe(): Promise<void> {
    if (this.closed || this.inFlight) return;
    this.inFlight = true;
    this.lastProbeAt = performance.now();
    let ok = false;
    let observed: string;
    try {
      const res = await request(this.url, { method: "GET", dispatcher: probeAgent, signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
      await res.body.dump();
      ok = res.statusCode >= 200 && res.statusCode < 300;
      observed = `GET ${this.url} answered HTTP ${res.statusCode}`;
    } catch (err) {
      observed = `GET ${this.url} failed: ${describe(err)}`;
    }
    this.inFlight = false;
    if (this.closed) return;
    const wasReady = this.ready;
    this.observe(ok, observed);
    if (wasReady && !ok) this.notReadySince = performance.now();
    if (this.probeAgain && !ok) {
      this.probeAgain = false;
      this.probeSoon();
      return;
    }
    this.probeAgain = false;
    this.schedule(ok ? PROBE_READY_INTERVAL_MS : this.notReadyDelay());
  }

  private notReadyDelay(): number {
    return notReadyProbeDelay(performance.now() - this.notReadySince);
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
