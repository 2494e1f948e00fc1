/**
 * Replica choice, the pure part: which ready endpoint of a model gets a request. No I/O, no clock, no randomness:
 * the same endpoints, loads and key give the same pick in every activator replica. The ring depends on the endpoints
 * alone, so replicas agree on each key's walk order without a shared index; the loads they pass are their own
 * estimates (./engineEstimate), so their picks can differ.
 *
 * - `HashRing`: consistent hashing (Karger et al. 1997) with `VIRTUAL_NODES` points per endpoint, placed by a hash of
 *   `<endpoint>#<i>`. Removing an endpoint moves only the keys it owned; adding one takes keys only for itself.
 * - `pickBounded`: consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with
 *   Bounded Loads", SODA 2018 / arXiv:1608.01350, 2016; the strategy KubeAI calls PrefixHash). The bounded quantity is
 *   the request COUNT per endpoint, as in the paper (balls per bin) and KubeAI (in-flight requests per endpoint): the
 *   key's preferred endpoint is the first one clockwise of the key's hash; when taking one more request would lift its
 *   count above `bound = ceil(c × (total count + 1) / n)`, the walk goes on clockwise to the next distinct endpoint.
 *   With integer counts and c ≥ 1 some endpoint always fits (the least counted has ≤ floor(total / n) < bound), so no
 *   endpoint is ever taken above the bound; with fractional counts (an activator replica's share-scaled estimate of
 *   the others' requests) none may fit, and the least counted is taken. Weighted loads (waiting, KV cache) do not
 *   enter the bound: they only say `full` (pass over) and rank `pickLeastLoaded`.
 * - `pickLeastLoaded`: the endpoint with the least load; ties broken by `start` (a rotating counter) so equal
 *   endpoints share the work instead of the first listed taking it all.
 * - `endpointLoad`: an endpoint's load from an outstanding count and vLLM's gauges; the activator feeds it the
 *   estimate of ./engineEstimate (the last reading brought forward with its own sends since), not the raw reading.
 */

/** Points on the ring per endpoint: with 100, each endpoint's share of the key space is within ~±20% of 1/n. */
export const VIRTUAL_NODES = 100;
/** Default `c` of the bounded-load rule: an endpoint takes at most 25% more than the average (KubeAI's default mean load factor, 125%). */
export const DEFAULT_BOUND_FACTOR = 1.25;
/** Weight of each request waiting in vLLM's scheduler queue (`vllm:num_requests_waiting`), on top of its count as outstanding. */
export const WAITING_WEIGHT = 1;
/** Weight of a full KV cache (`vllm:kv_cache_usage_perc` = 1): counts as this many more outstanding requests (new work would preempt). */
export const KV_CACHE_WEIGHT = 2;

/**
 * 32-bit hash of a string's UTF-16 code units: FNV-1a, then MurmurHash3's fmix32 finalizer to spread the bits
 * (FNV-1a alone clusters keys that differ only in their last characters, such as `pod#1`, `pod#2`).
 */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A consistent-hash ring over a set of endpoints (order of the input does not matter; duplicates are dropped). */
export class HashRing {
  readonly endpoints: readonly string[];
  private readonly points: Uint32Array;
  private readonly owners: Int32Array;

  constructor(endpoints: readonly string[], virtualNodes = VIRTUAL_NODES) {
    this.endpoints = [...new Set(endpoints)].sort();
    const entries: Array<[number, number]> = [];
    this.endpoints.forEach((endpoint, owner) => {
      for (let i = 0; i < virtualNodes; i++) entries.push([hash32(`${endpoint}#${i}`), owner]);
    });
    // Ties (two points at one hash) are ordered by owner name so every instance builds the same ring.
    entries.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    this.points = Uint32Array.from(entries, (e) => e[0]);
    this.owners = Int32Array.from(entries, (e) => e[1]);
  }

  /** Distinct endpoints in clockwise order from the key's hash: the first is the key's preferred endpoint. */
  *walk(key: string): Generator<string> {
    const n = this.points.length;
    if (n === 0) return;
    const h = hash32(key);
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    const seen = new Set<number>();
    for (let i = 0; i < n && seen.size < this.endpoints.length; i++) {
      const owner = this.owners[(lo + i) % n]!;
      if (seen.has(owner)) continue;
      seen.add(owner);
      yield this.endpoints[owner]!;
    }
  }
}

/** Most requests any one endpoint may carry after taking one more: ceil(c × (total + 1) / n); `totalLoad` is the sum of the counts. */
export function loadBound(totalLoad: number, endpoints: number, boundFactor: number): number {
  if (endpoints <= 0) return 0;
  return Math.ceil((boundFactor * (totalLoad + 1)) / endpoints - 1e-9);
}

export interface Pick {
  endpoint: string;
  /**
   * How it was chosen: `preferred` (the key's own endpoint), `walked` (a later one on the ring: the preferred was at its
   * bound), `walked_full` (a later one: the preferred was within its bound but full), `least_loaded`.
   */
  how: "preferred" | "walked" | "walked_full" | "least_loaded";
  /** pickBounded only: the chosen endpoint's count before taking the request, and the bound it was held to. */
  count?: number;
  bound?: number;
}

/**
 * Consistent hashing with bounded loads. `count(endpoint)` is the endpoint's current request count (≥ 0: requests
 * outstanding there, not a weighted load); `boundFactor` (c) must be ≥ 1; an endpoint whose count is Infinity is never
 * taken and is left out of the average. `full(endpoint)` (default: never) says one more request would wait there for
 * a slot (./engineEstimate): the walk also passes over a full endpoint within its bound, for the next one clockwise
 * that is neither full nor at its bound; when every endpoint within its bound is full, the first of them clockwise is
 * taken (as without `full`). The pick carries the chosen endpoint's `count` before the request and the `bound`; it is
 * above the bound (count + 1 > bound) only when nothing fitted (fractional counts). Undefined when no endpoint can be
 * taken.
 */
export function pickBounded(ring: HashRing, key: string, count: (endpoint: string) => number, boundFactor = DEFAULT_BOUND_FACTOR, full: (endpoint: string) => boolean = () => false): Pick | undefined {
  let n = 0;
  let total = 0;
  for (const endpoint of ring.endpoints) {
    const l = count(endpoint);
    if (l === Infinity) continue; // passed over (e.g. it refused a connection): not part of the average
    total += l;
    n++;
  }
  if (n === 0) return undefined;
  const bound = loadBound(total, n, boundFactor);
  let firstFit: Pick | undefined;
  let first = true;
  let walked: Pick["how"] = "walked"; // why the preferred endpoint was passed: its bound, or (within it) full
  for (const endpoint of ring.walk(key)) {
    const c = count(endpoint);
    if (c + 1 <= bound + 1e-9) {
      const pick: Pick = { endpoint, how: first ? "preferred" : walked, count: c, bound };
      if (!full(endpoint)) return pick;
      firstFit ??= pick;
      if (first) walked = "walked_full";
    }
    first = false;
  }
  if (firstFit) return firstFit;
  const least = pickLeastLoaded(ring.endpoints, count, hash32(key));
  return least && { ...least, count: count(least.endpoint), bound };
}

/** The least loaded endpoint; among equals, the one at `start` modulo their count. Undefined for none. */
export function pickLeastLoaded(endpoints: readonly string[], load: (endpoint: string) => number, start = 0): Pick | undefined {
  let best = Infinity;
  const ties: string[] = [];
  for (const endpoint of endpoints) {
    const l = load(endpoint);
    if (l < best - 1e-9) {
      best = l;
      ties.length = 0;
      ties.push(endpoint);
    } else if (Math.abs(l - best) <= 1e-9) ties.push(endpoint);
  }
  if (ties.length === 0) return undefined;
  return { endpoint: ties[(start >>> 0) % ties.length]!, how: "least_loaded" };
}

/** vLLM's gauges for one endpoint, from its last readable `/metrics`. */
export interface EngineReading {
  /** `vllm:num_requests_waiting`, summed over the endpoint's engines. */
  waiting: number;
  /** `vllm:num_requests_running`, summed over the endpoint's engines. */
  running: number;
  /** `vllm:kv_cache_usage_perc`, mean over the endpoint's engines, 0..1. */
  kvCache: number;
}

/**
 * An endpoint's load, in outstanding requests: the larger of this activator's own in-flight count and the engine's
 * running + waiting (which also counts other activator replicas' requests), plus `WAITING_WEIGHT` per waiting request
 * and `KV_CACHE_WEIGHT` × KV-cache usage. `reading` is undefined when there is none or it is stale: then the load is
 * the in-flight count alone.
 */
export function endpointLoad(inFlight: number, reading: EngineReading | undefined): number {
  if (!reading) return inFlight;
  const engine = reading.running + reading.waiting;
  return Math.max(inFlight, engine) + WAITING_WEIGHT * reading.waiting + KV_CACHE_WEIGHT * Math.min(1, Math.max(0, reading.kvCache));
}
