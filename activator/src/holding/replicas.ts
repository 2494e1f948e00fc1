/**
 * One model's replica choice, the stateful part: the per-endpoint in-flight counts of this activator replica, its
 * estimates of each engine's queue between gauge readings (../routing/engineEstimate), one keep-alive pool per ready
 * endpoint, and the hash ring over them (rebuilt when the EndpointSlices change). The choice itself is the pure
 * ../routing/endpointPicker: prefix-affine bounds each endpoint's estimated request count (`outstanding`) and passes
 * over `full` ones; least-loaded ranks by the weighted load (count + waiting + KV-cache penalty).
 *
 * An endpoint goes direct only when readiness lists the replicas' own addresses (mode `kubernetes`); otherwise, or
 * with policy `service`, the request goes to the model's Service pool (`null` here). An endpoint that refused a
 * connection is passed over for AVOID_MS while another is listed (the EndpointSlice may still list a pod that died).
 * Pools of endpoints no longer listed are closed gracefully (their in-flight requests finish).
 */
import type { Pool } from "undici";
import type { ModelConfig } from "../config/schema";
import type { ReplicaChoice } from "../base/metrics";
import { HashRing, pickBounded, pickLeastLoaded, type EngineReading } from "../routing/endpointPicker";
import { EngineEstimates, type EngineEstimate } from "../routing/engineEstimate";

/** How long an endpoint that refused a connection is passed over (while another is listed). */
export const AVOID_MS = 2000;

export interface ReplicaChoiceDeps {
  /** A fresh engine reading of one endpoint (vLLM models), undefined when none or stale. */
  reading(modelKey: string, endpoint: string): EngineReading | undefined;
  /** A keep-alive pool to one endpoint of the model. */
  newPool(config: ModelConfig, endpoint: string): Pool;
  /** The clock, ms. */
  now(): number;
  /** Activator replicas sending to the model's endpoints (this one included); default 1. */
  activators?(): number;
}

export interface Chosen {
  endpoint: string;
  pool: Pool;
  how: Exclude<ReplicaChoice, "service">;
  /**
   * Prefix-affine picks only: the chosen endpoint's request count as this replica estimates it (engine running +
   * waiting; its own in-flight count with one activator replica) before taking the request, and the bound it was held
   * to, ceil(c × (sum of those counts + 1) ÷ endpoints). `count + 1 > bound` only when no endpoint fitted (fractional
   * estimates with several activator replicas).
   */
  count?: number;
  bound?: number;
}

export class Replicas {
  private readonly inFlight = new Map<string, number>();
  private readonly pools = new Map<string, Pool>();
  private readonly avoidUntil = new Map<string, number>();
  private listed: readonly string[] = [];
  private ring = new HashRing([]);
  private listedNow: ReadonlySet<string> = new Set();
  private rotate = 0;
  private readonly estimates = new EngineEstimates();

  constructor(
    private readonly key: string,
    private readonly deps: ReplicaChoiceDeps,
  ) {}

  /** This replica's requests in flight to `endpoint`. */
  inFlightTo(endpoint: string): number {
    return this.inFlight.get(endpoint) ?? 0;
  }

  /** The endpoint for a request (counted in flight to it), or null for the Service address. */
  choose(config: ModelConfig, endpoints: readonly string[], direct: boolean, affinityKey: string | null): Chosen | null {
    const { policy, boundFactor } = config.replicaChoice;
    if (policy === "service" || !direct) return null;
    if (endpoints !== this.listed) this.relist(endpoints);
    if (this.ring.endpoints.length === 0) return null;
    const now = this.deps.now();
    // Each endpoint's estimate once per choice: the picker asks for an endpoint's load and fullness several times.
    const limits = { maxNumSeqs: config.vllm?.maxNumSeqs, activators: this.deps.activators?.() ?? 1 };
    const estimates = new Map<string, EngineEstimate | null>();
    const estimate = (endpoint: string): EngineEstimate | null => {
      let e = estimates.get(endpoint);
      if (e === undefined) {
        const until = this.avoidUntil.get(endpoint);
        e = until !== undefined && until > now ? null : this.estimates.estimate(endpoint, this.inFlightTo(endpoint), this.deps.reading(this.key, endpoint), limits);
        estimates.set(endpoint, e);
      }
      return e;
    };
    const load = (endpoint: string) => estimate(endpoint)?.load ?? Infinity;
    const full = (endpoint: string) => estimate(endpoint)?.full ?? true;
    // The bound holds the request count (engineEstimate's `outstanding`), not the weighted load: see pickBounded.
    const count = (endpoint: string) => estimate(endpoint)?.outstanding ?? Infinity;
    let pick = policy === "prefix-affine" && affinityKey !== null ? pickBounded(this.ring, affinityKey, count, boundFactor, full) : undefined;
    pick ??= pickLeastLoaded(this.ring.endpoints, load, this.rotate++);
    if (pick === undefined) return null;
    let pool = this.pools.get(pick.endpoint);
    if (!pool) this.pools.set(pick.endpoint, (pool = this.deps.newPool(config, pick.endpoint)));
    this.inFlight.set(pick.endpoint, this.inFlightTo(pick.endpoint) + 1);
    return { endpoint: pick.endpoint, pool, how: pick.how, count: pick.count, bound: pick.bound };
  }

  /** A request to `endpoint` ended (answered, failed or re-held). */
  done(endpoint: string): void {
    // Before the count changes; not for an endpoint a relist removed (its state is gone, and a new pod may reuse the address).
    if (this.listedNow.has(endpoint)) this.estimates.observe(endpoint, this.inFlightTo(endpoint), this.deps.reading(this.key, endpoint));
    const n = this.inFlightTo(endpoint) - 1;
    if (n > 0) this.inFlight.set(endpoint, n);
    else this.inFlight.delete(endpoint);
  }

  /** `endpoint` refused a connection: pass it over for AVOID_MS. */
  refused(endpoint: string): void {
    this.avoidUntil.set(endpoint, this.deps.now() + AVOID_MS);
  }

  /** Closes every pool (shutdown, model removed, policy no longer direct). */
  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }

  private relist(endpoints: readonly string[]): void {
    this.listed = endpoints;
    this.ring = new HashRing(endpoints);
    const keep = new Set(this.ring.endpoints);
    this.listedNow = keep;
    for (const [endpoint, pool] of this.pools) {
      if (keep.has(endpoint)) continue;
      this.pools.delete(endpoint);
      void pool.close(); // graceful: requests in flight to it finish
    }
    for (const endpoint of this.avoidUntil.keys()) if (!keep.has(endpoint)) this.avoidUntil.delete(endpoint);
    this.estimates.retain(keep);
  }
}
