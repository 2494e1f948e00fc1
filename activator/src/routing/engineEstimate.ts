/**
 * What one activator replica can tell about an endpoint's engine *now*, from a reading up to `STALE_INTERVALS`
 * scrapes old and what it has itself sent and seen finish since: the stateful companion of ./endpointPicker.
 *
 * - Outstanding requests: the engine's `running + waiting` at the reading, plus the change of this replica's own
 *   in-flight count to the endpoint since the reading (what it sent minus what finished), scaled by the endpoint's
 *   outstanding ÷ this replica's in flight there at the reading ((r + w + 1) ÷ (own + 1)), kept within [1, number of
 *   activator replicas]: other activator replicas, behind the same load balancer and running the same policy, are
 *   assumed to change it in the proportion they held, and no replica sends more than the others together would if
 *   they all sent alike. With one activator replica the scale is 1. The scaled change is a guess either way: it
 *   over-estimates when the others sent less than assumed, and under-estimates when they sent more (or when this
 *   replica's own finishes are scaled up while the others' sends go on); the next reading corrects both. Never below
 *   this replica's own in-flight count. Without a reading: the own in-flight count.
 * - Capacity (sequences the engine runs at once): `maxNumSeqs`, vLLM's `--max-num-seqs` as the model's config states
 *   it (the stack passes the runtime argument, or vLLM's default; see ActivatorModelConfig `vllm.maxNumSeqs`). Nothing
 *   is learnt from readings: `vllm:num_requests_waiting` also counts requests held back by the step's token budget
 *   (`max_num_batched_tokens`, long prefills), deferred ones and those in a step with a preemption, so a reading with
 *   requests waiting does not say the slots are taken. The one exception is the KV cache: a reading with
 *   `vllm:kv_cache_usage_perc` ≥ `KV_CACHE_FULL` *and* requests waiting takes its `running` as the capacity for as
 *   long as it is the endpoint's reading (the next reading decides afresh; nothing is remembered).
 * - Waiting: outstanding − capacity when the capacity is known (0 or more); otherwise the reading's `waiting`, plus
 *   what this replica added since when the engine was already queueing.
 * - Full: one more request would wait for a slot (outstanding + 1 > capacity); with the capacity unknown, when
 *   requests are estimated waiting.
 *
 * This is the correction llm-d's endpoint picker and the Gateway API Inference Extension apply to scraped gauges
 * (their queue filter / queue scorer read `num_requests_waiting` at the last scrape); here the stale part is brought
 * forward with the replica's own sends, so a burst in one scrape interval does not herd onto one endpoint. Each
 * activator replica keeps its own estimates: no state is shared, so two replicas may rank the same endpoints apart.
 */
import { endpointLoad, type EngineReading } from "./endpointPicker";

/** KV-cache usage (`vllm:kv_cache_usage_perc`, 0..1) from which a reading with requests waiting is taken to be KV-bound. */
export const KV_CACHE_FULL = 0.95;

export interface EngineEstimate {
  /** Requests at the engine now (running + waiting), estimated. */
  outstanding: number;
  /** Requests estimated waiting for a slot now. */
  waiting: number;
  /** Sequences the engine runs at once as used here: `maxNumSeqs`, or the KV-bound reading's `running`; undefined when neither is known. */
  capacity: number | undefined;
  /** One more request would wait for a slot. */
  full: boolean;
  /** The load the picker compares (`endpointLoad` of the estimate): outstanding + waiting + KV-cache penalty. */
  load: number;
}

/** What the estimate knows besides the reading. */
export interface EngineLimits {
  /** The engine's `max_num_seqs` (per endpoint), undefined when not configured. */
  maxNumSeqs: number | undefined;
  /** Activator replicas sending to the endpoint (this one included), ≥ 1: the most the share scale may be. */
  activators: number;
}

interface Seen {
  reading: EngineReading;
  /** This replica's in-flight count to the endpoint when the reading was first seen. */
  inFlightThen: number;
}

/** Per-endpoint estimates for one model in one activator replica. Readings are told apart by identity (each scrape makes new objects). */
export class EngineEstimates {
  private readonly seen = new Map<string, Seen>();

  /**
   * Notes `reading` (the endpoint's current fresh reading, or undefined) with this replica's in-flight count at the
   * moment: call it before the in-flight count changes (a send, a finish), so the change since the reading is known.
   */
  observe(endpoint: string, inFlight: number, reading: EngineReading | undefined): void {
    if (!reading) return;
    if (this.seen.get(endpoint)?.reading === reading) return;
    this.seen.set(endpoint, { reading, inFlightThen: inFlight });
  }

  /** The endpoint's engine now; `reading` undefined (none, or stale) gives the own in-flight count alone. */
  estimate(endpoint: string, inFlight: number, reading: EngineReading | undefined, limits: EngineLimits): EngineEstimate {
    this.observe(endpoint, inFlight, reading);
    const seen = this.seen.get(endpoint);
    const { maxNumSeqs } = limits;
    if (!reading || !seen) {
      const waiting = maxNumSeqs !== undefined ? Math.max(0, inFlight - maxNumSeqs) : 0;
      return { outstanding: inFlight, waiting, capacity: maxNumSeqs, full: maxNumSeqs !== undefined && inFlight + 1 > maxNumSeqs, load: endpointLoad(inFlight, undefined) };
    }
    // Other activator replicas are assumed to change the endpoint's count in the proportion they held at the reading.
    const scale = Math.min(Math.max(1, limits.activators), Math.max(1, (reading.running + reading.waiting + 1) / (seen.inFlightThen + 1)));
    const added = (inFlight - seen.inFlightThen) * scale;
    const outstanding = Math.max(inFlight, reading.running + reading.waiting + added);
    const kvBound = reading.waiting > 0 && reading.kvCache >= KV_CACHE_FULL;
    const capacity = kvBound ? Math.min(reading.running, maxNumSeqs ?? Infinity) : maxNumSeqs;
    const waiting = capacity !== undefined ? Math.max(0, outstanding - capacity) : reading.waiting > 0 ? reading.waiting + Math.max(0, added) : 0;
    const full = capacity !== undefined ? outstanding + 1 > capacity : waiting > 0;
    return { outstanding, waiting, capacity, full, load: endpointLoad(outstanding, { running: outstanding - waiting, waiting, kvCache: reading.kvCache }) };
  }

  /** Drops endpoints no longer listed. */
  retain(listed: ReadonlySet<string>): void {
    for (const endpoint of this.seen.keys()) if (!listed.has(endpoint)) this.seen.delete(endpoint);
  }
}
