/**
 * What one activator replica can tell about an endpoint's engine *now*, from a reading up to `STALE_INTERVALS`
 * scrapes old and what it has itself sent and seen finish since: the stateful companion of ./endpointPicker.
 *
 * - Outstanding requests: the engine's `running + waiting` at the reading, plus the change of this replica's own
 *   in-flight count to the endpoint since the reading (what it sent minus what finished), scaled by the endpoint's
 *   outstanding ÷ this replica's in flight there at the reading ((r + w + 1) ÷ (own + 1), at least 1): other activator
 *   replicas, behind the same load balancer and running the same policy, are assumed to change it in the proportion
 *   they held. With one activator replica the scale is 1; with several it turns "what I sent" into "what we all
 *   likely sent", which the next reading corrects. An over-estimate only makes the endpoint look busier (the picker
 *   then walks on), never lets it exceed its bound. Never below this replica's own in-flight count. Without a
 *   reading: the own in-flight count.
 * - Admission capacity (how many sequences the engine runs at once: vLLM's `max_num_seqs`, or fewer when the KV
 *   cache is the limit): learnt from readings. A reading with requests waiting says the engine runs all it can, so
 *   its `running` is the capacity; a reading with more running than the learnt capacity raises it. Unknown until a
 *   reading has shown requests waiting. A capacity learnt while the KV cache was the limit is low until a reading shows
 *   more running; meanwhile the endpoint is walked past sooner than it need be (the bound still holds).
 * - Waiting: outstanding − capacity when the capacity is known (0 or more); otherwise the reading's `waiting`, plus
 *   what this replica added since when the engine was already queueing.
 * - Full: one more request would wait for a slot (outstanding + 1 > capacity); with the capacity unknown, when
 *   requests are estimated waiting.
 *
 * This is the correction llm-d's endpoint picker and the Gateway API Inference Extension apply to scraped gauges
 * (their queue filter / queue scorer read `num_requests_waiting` at the last scrape); here the stale part is brought
 * forward with the replica's own sends, so a burst in one scrape interval does not herd onto one endpoint. Each
 * activator replica keeps its own estimates: no state is shared.
 */
import { endpointLoad, type EngineReading } from "./endpointPicker";

export interface EngineEstimate {
  /** Requests at the engine now (running + waiting), estimated. */
  outstanding: number;
  /** Requests estimated waiting for a slot now. */
  waiting: number;
  /** Learnt admission capacity, undefined until a reading showed requests waiting. */
  capacity: number | undefined;
  /** One more request would wait for a slot. */
  full: boolean;
  /** The load the picker compares (`endpointLoad` of the estimate): outstanding + waiting + KV-cache penalty. */
  load: number;
}

interface Seen {
  reading: EngineReading;
  /** This replica's in-flight count to the endpoint when the reading was first seen. */
  inFlightThen: number;
  capacity: number | undefined;
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
    const before = this.seen.get(endpoint);
    if (before?.reading === reading) return;
    let capacity = before?.capacity;
    if (reading.waiting > 0 && reading.running > 0) capacity = reading.running;
    else if (capacity !== undefined && reading.running > capacity) capacity = reading.running;
    this.seen.set(endpoint, { reading, inFlightThen: inFlight, capacity });
  }

  /** The endpoint's engine now; `reading` undefined (none, or stale) gives the own in-flight count alone, never full. */
  estimate(endpoint: string, inFlight: number, reading: EngineReading | undefined): EngineEstimate {
    this.observe(endpoint, inFlight, reading);
    const seen = this.seen.get(endpoint);
    if (!reading || !seen) return { outstanding: inFlight, waiting: 0, capacity: undefined, full: false, load: endpointLoad(inFlight, undefined) };
    // Other activator replicas are assumed to change the endpoint's count in the proportion they held at the reading.
    const scale = Math.max(1, (reading.running + reading.waiting + 1) / (seen.inFlightThen + 1));
    const added = (inFlight - seen.inFlightThen) * scale;
    const outstanding = Math.max(inFlight, reading.running + reading.waiting + added);
    const { capacity } = seen;
    const waiting = capacity !== undefined ? Math.max(0, outstanding - capacity) : reading.waiting > 0 ? reading.waiting + Math.max(0, added) : 0;
    const full = capacity !== undefined ? outstanding + 1 > capacity : waiting > 0;
    return { outstanding, waiting, capacity, full, load: endpointLoad(outstanding, { running: outstanding - waiting, waiting, kvCache: reading.kvCache }) };
  }

  /** Drops endpoints no longer listed. */
  retain(listed: ReadonlySet<string>): void {
    for (const endpoint of this.seen.keys()) if (!listed.has(endpoint)) this.seen.delete(endpoint);
  }
}
