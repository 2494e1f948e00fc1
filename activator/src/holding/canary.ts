/**
 * The canary split (docs/canary.md): a request routed to a model with a `canary` draws its version first, then only
 * that version's state holds and wakes it. Each version is its own model state (its own InferenceService, Service,
 * readiness, KEDA ScaledObject, metric `model` label): the stable `<namespace>/<name>`, the canary
 * `<namespace>/<name>-canary`.
 *
 * The draw:
 * - sticky (`stickiness.by` `api-key` or `header`, with the key present): the first 32 bits of
 *   SHA-256(`<model key>\0<key>`) as a fraction of 2³² below `trafficPercent`/100. The same key always lands on the
 *   same version, and raising the percentage only moves keys from stable to canary (a key's point never moves), so a
 *   rollout step breaks no conversation that was already on the canary;
 * - otherwise `random() * 100 < trafficPercent`, `random` injectable (default Math.random).
 *
 * After the draw, the canary is bypassed (its request served by the stable, counted in
 * `activator_canary_fallbacks_total{reason}` and shown on `/queue`) when:
 * - `cannot_start`: the canary's fail-fast cause is set (../health) and it has no ready replica: every request drawn for
 *   it goes to the stable while the cause lasts (one `warn` log line when it starts, one `info` when it ends);
 * - `canary_cold`: `coldPolicy: stable-first`, the canary has no ready replica and the stable has one. The canary is
 *   still woken (activation pushed to KEDA, activity counted) so that later draws find it warm.
 */
import { createHash } from "node:crypto";
import type { ModelConfig } from "../config/schema";
import type { Exchange } from "../request/exchange";
import type { Logger } from "pino";

/** Why a request drawn for the canary went to the stable (label `reason` of `activator_canary_fallbacks_total`). */
export const CANARY_FALLBACKS = ["cannot_start", "canary_cold"] as const;
export type CanaryFallback = (typeof CANARY_FALLBACKS)[number];

/** The versions a draw can give (label `version` of `activator_canary_draws_total`). */
export const VERSIONS = ["stable", "canary"] as const;
export type Version = (typeof VERSIONS)[number];

/** What a draw needs from a request: its API key digest (set by auth) and its headers. */
export type DrawRequest = Pick<Exchange, "apiKeyDigest" | "req">;

/** The sticky key of a request under `stickiness`, or null (drawn at random). */
export function stickyKey(stickiness: NonNullable<ModelConfig["canary"]>["stickiness"], x: DrawRequest): string | null {
  if (stickiness.by === "api-key") return x.apiKeyDigest;
  if (stickiness.by === "header") {
    const value = x.req.headers[stickiness.header];
    const first = Array.isArray(value) ? value[0] : value;
    return first === undefined || first === "" ? null : first;
  }
  return null;
}

/** A key's fixed point in [0, 1): the first 32 bits of SHA-256(`<modelKey>\0<key>`) / 2³². */
export function stickyPoint(modelKey: string, key: string): number {
  return createHash("sha256").update(modelKey).update("\0").update(key).digest().readUInt32BE(0) / 2 ** 32;
}

/** True when a request is drawn for the canary: sticky by `key` when given, else at random. */
export function drawsCanary(percent: number, modelKey: string, key: string | null, random: () => number): boolean {
  if (percent <= 0) return false;
  if (percent >= 100) return true;
  const point = key === null ? random() : stickyPoint(modelKey, key);
  return point * 100 < percent;
}

/** Per-model counters of the split (children resolved once). */
export interface SplitCounters {
  draws: Record<Version, { inc(): void }>;
  fallbacks: Record<CanaryFallback, { inc(): void }>;
}

/**
 * What the split reads and calls on each version: a model's state (./modelState.ts ModelState, which holds its split;
 * typed structurally so that the two files do not import each other).
 */
export interface SplitVersion {
  readonly key: string;
  readonly logger: Logger;
  readonly readiness: { readonly ready: boolean };
  readonly failure: { readonly cause: string } | null;
  noteArrival(): void;
  activationNeeded(now: number): void;
}

/** A stable model's link to its canary: what the draw reads, set by the registry on every config apply. */
export class CanarySplit<V extends SplitVersion = SplitVersion> {
  config: NonNullable<ModelConfig["canary"]>;
  /** Requests drawn for the canary served by the stable, by reason, since start (`/queue`). */
  readonly fallbackCounts: Record<CanaryFallback, number> = { cannot_start: 0, canary_cold: 0 };
  /** Requests drawn for each version since start (`/queue`). */
  readonly drawCounts: Record<Version, number> = { stable: 0, canary: 0 };
  /** The cause the canary is bypassed for now (logged once per change); null when it is not. */
  private bypassedFor: string | null = null;

  constructor(
    readonly stable: V,
    readonly canary: V,
    config: NonNullable<ModelConfig["canary"]>,
    private readonly counters: SplitCounters,
    private readonly random: () => number,
  ) {
    this.config = config;
  }

  /** The state that takes `x`: its drawn version, or the stable when the canary is bypassed. */
  choose(x: DrawRequest): V {
    const { stable, canary, config } = this;
    const canaryDrawn = drawsCanary(config.trafficPercent, stable.key, stickyKey(config.stickiness, x), this.random);
    const version: Version = canaryDrawn ? "canary" : "stable";
    this.drawCounts[version]++;
    this.counters.draws[version].inc();
    if (!canaryDrawn) return stable;
    if (canary.readiness.ready) {
      this.noteBypass(null);
      return canary;
    }
    if (canary.failure) {
      this.noteBypass(canary.failure.cause);
      return this.fallback("cannot_start");
    }
    this.noteBypass(null);
    if (config.coldPolicy === "stable-first" && stable.readiness.ready) {
      canary.noteArrival(); // activity: KEDA keeps the canary active while it is drawn
      canary.activationNeeded(performance.now());
      return this.fallback("canary_cold");
    }
    return canary;
  }

  /** What `/queue` shows under the stable model. */
  view(): Record<string, unknown> {
    return {
      model: this.canary.key,
      trafficPercent: this.config.trafficPercent,
      coldPolicy: this.config.coldPolicy,
      stickiness: this.config.stickiness.by === "header" ? `header ${this.config.stickiness.header}` : this.config.stickiness.by,
      draws: { ...this.drawCounts },
      fallbacks: { ...this.fallbackCounts },
      ...(this.bypassedFor !== null ? { bypassed: { reason: "cannot_start", cause: this.bypassedFor } } : {}),
    };
  }

  private fallback(reason: CanaryFallback): V {
    this.fallbackCounts[reason]++;
    this.counters.fallbacks[reason].inc();
    return this.stable;
  }

  /** Logs when the canary starts or stops being bypassed because it cannot start. */
  private noteBypass(cause: string | null): void {
    if (cause === this.bypassedFor) return;
    const logger = this.stable.logger;
    if (cause !== null) logger.warn({ model: this.stable.key, canary: this.canary.key, cause }, "canary cannot start: its requests go to the stable");
    else logger.info({ model: this.stable.key, canary: this.canary.key, was: this.bypassedFor }, "canary no longer bypassed");
    this.bypassedFor = cause;
  }
}
