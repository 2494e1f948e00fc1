/**
 * A discrete-event model of N vLLM-like engine replicas behind one activator, for bench/replicaChoice.ts. Virtual
 * time (seconds), seeded: the same input gives the same figures on any machine. The replica choice is the
 * activator's own `Replicas` class (`activator/src/holding/replicas.ts`: its in-flight counts, `EngineEstimates`,
 * `pickBounded` / `pickLeastLoaded`), one instance per activator replica, called as the proxy calls it (`choose` on
 * arrival, `done` on completion) and fed the engines' gauges as that activator replica last scraped them (every
 * `scrapeSeconds`, each on its own timer, phases spread over one interval). With `activators` > 1 each request goes
 * to an activator replica drawn at random (the load balancer), from a random stream of its own, so the workload is
 * the same for any count. Each activator knows the engines' `max_num_seqs` (`slots`, as the stack passes it) and how
 * many activator replicas there are. Placements above the bound are counted twice: as the choosing activator replica
 * defined it (its own estimated counts) and on the engines' real state (the global bound over all activators' requests).
 *
 * One replica: `slots` requests run at once (vLLM's `max_num_seqs`); more wait (`vllm:num_requests_waiting`). A
 * request with a slot is prefilled, one at a time per replica (FIFO), taking `overheadSeconds` + uncached prompt
 * tokens / `prefillTokensPerSecond`; its first token comes when its prefill ends (TTFT = arrival → prefill end). It
 * then decodes `outputTokens` at `decodeTokensPerSecond` per sequence and frees its slot. The prefix cache is an LRU
 * of whole shared prefixes holding at most `cacheTokens` tokens: a request whose prefix is cached prefills only its
 * own suffix (the hit speed-up), and its prefix becomes most recent.
 */
import type { ModelConfig } from "../../activator/src/config/schema";
import { Replicas, type ReplicaChoiceDeps } from "../../activator/src/holding/replicas";
import { loadBound, type EngineReading } from "../../activator/src/routing/endpointPicker";
import { EventQueue } from "../../simulator/heap";
import { rng } from "../../simulator/rng";

export interface EngineParams {
  replicas: number;
  slots: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  overheadSeconds: number;
  cacheTokens: number;
  scrapeSeconds: number;
}

export interface Workload {
  /** Tokens of the shared prefix (system prompt + document or history) and of each request's own suffix. */
  prefixTokens: number;
  suffixTokens: number;
  outputTokens: number;
  /** Distinct shared prefixes, drawn Zipf(`zipfS`); 0 = every request has its own prefix (nothing shared). */
  prefixes: number;
  zipfS: number;
}

export type Policy = "service" | "least-loaded" | "prefix-affine";

export interface SimResult {
  requests: number;
  ttftMs: number[];
  hitRate: number;
  /** Completed requests per second over the run. */
  throughput: number;
  /**
   * Placements (prefix-affine) above the bound as the picker defines it: the choosing activator replica's count of the
   * chosen engine + 1 > ceil(c × (its counts' total + 1) ÷ n), from the pick's own `count` and `bound`. 0 by
   * construction with integer counts; with several activator replicas the counts are share-scaled estimates.
   */
  aboveOwnBound: number;
  /**
   * Placements (prefix-affine) where the chosen engine's real outstanding requests (running + waiting, all activator
   * replicas' together) after taking the request exceeded the global bound ceil(c × (real total + 1) ÷ n).
   */
  aboveBound: number;
  /** Highest real outstanding count of the chosen engine after a placement ÷ the global bound at that placement. */
  maxLoadOverBound: number;
  /** Most requests by which a placement's real outstanding count exceeded the global bound (0 when never). */
  maxExcess: number;
}

interface Req {
  at: number;
  prefix: number;
  replica: number;
  how: string;
  admittedAt: number;
  activator: Activator;
}

/** One request's path, for analysis (`opts.trace`): where the time to its first token went. */
export interface Traced {
  prefix: number;
  replica: number;
  /** `service`, or the pick's `how`. */
  how: string;
  hit: boolean;
  /** Seconds waiting for a slot (`vllm:num_requests_waiting`), then for the replica's prefill, then prefilling. */
  slotWait: number;
  prefillWait: number;
  prefill: number;
  ttftMs: number;
}

interface Replica {
  running: number;
  waiting: Req[];
  prefillQueue: Req[];
  prefilling: boolean;
  cache: Map<number, true>; // LRU: insertion order
  cachedTokens: number;
}

/** One activator replica: its last scraped gauges per engine replica, and the activator's own replica choice over them. */
interface Activator {
  gauges: (EngineReading | undefined)[];
  replicas: Replicas;
}

/** A stand-in for the keep-alive pools: the simulation sends nothing over them. */
const newPool = (() => ({ close: async () => {} })) as unknown as ReplicaChoiceDeps["newPool"];

/**
 * Timed callbacks on the simulator's event queue (simulator/heap.ts): earliest first, ties in the order pushed. The
 * queue carries integers, so each callback waits in `pending` under the id the queue holds.
 */
class Events {
  private readonly queue = new EventQueue();
  private readonly pending: ((() => void) | undefined)[] = [];
  private readonly popped: [number, number, number, number] = [0, 0, 0, 0];
  push(t: number, run: () => void): void {
    this.queue.push(t, 0, this.pending.push(run) - 1);
  }
  /** The earliest callback, taken off the queue; undefined when none is left. */
  pop(): { t: number; run: () => void } | undefined {
    if (!this.queue.pop(this.popped)) return undefined;
    const id = this.popped[2];
    const run = this.pending[id]!;
    this.pending[id] = undefined;
    return { t: this.popped[0], run };
  }
}

/** Zipf(s) sampler over 0..n-1 by inverse CDF. */
function zipf(n: number, s: number, next: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) cdf[k] = sum += 1 / (k + 1) ** s;
  return () => {
    const u = next() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/**
 * Runs `requests` requests arriving as a Poisson process of `ratePerSecond` (open loop), or, with `closedClients`,
 * that many clients each sending its next request when its last one completes (to measure saturation throughput).
 * `activators`: activator replicas choosing independently (default 1); `boundFactor`: c (default 1.25);
 * `maxNumSeqsKnown`: whether the activators' model config states `max_num_seqs` (default true, as the stack writes it); `trace`:
 * called once per request at its first token.
 */
export function simulate(engine: EngineParams, workload: Workload, policy: Policy, opts: { requests: number; ratePerSecond?: number; closedClients?: number; seed: number; boundFactor?: number; activators?: number; maxNumSeqsKnown?: boolean; trace?: (t: Traced) => void }): SimResult {
  const random = rng(opts.seed);
  const next = () => random.next();
  const drawPrefix = workload.prefixes > 0 ? zipf(workload.prefixes, workload.zipfS, next) : undefined;
  let unique = workload.prefixes; // private prefixes get ids past the shared ones
  const endpoints = Array.from({ length: engine.replicas }, (_, i) => `http://10.0.0.${i + 1}:8080`);
  const index = new Map(endpoints.map((e, i) => [e, i]));
  const replicas: Replica[] = endpoints.map(() => ({ running: 0, waiting: [], prefillQueue: [], prefilling: false, cache: new Map(), cachedTokens: 0 }));
  const events = new Events();
  const ttft: number[] = [];
  let hits = 0;
  let lookups = 0;
  let completed = 0;
  let sent = 0;
  let lastDone = 0;
  let aboveBound = 0;
  let maxOver = 0;
  let aboveOwnBound = 0;
  let maxExcess = 0;
  const boundFactor = opts.boundFactor ?? 1.25;
  let clock = 0; // virtual seconds, of the event being run
  const count = opts.activators ?? 1;
  // The fields of a model's config that replica choice reads (the rest of ModelConfig is not used by Replicas).
  const config = { replicaChoice: { policy, boundFactor, prefixBytes: 1024 }, vllm: opts.maxNumSeqsKnown === false ? {} : { maxNumSeqs: engine.slots } } as unknown as ModelConfig;
  const activators: Activator[] = Array.from({ length: count }, () => {
    const gauges: (EngineReading | undefined)[] = endpoints.map(() => undefined);
    const replicas = new Replicas("sim", { reading: (_key, e) => gauges[index.get(e)!], newPool, now: () => clock * 1000, activators: () => count });
    return { gauges, replicas };
  });
  const spread = rng(opts.seed + 1); // which activator replica the load balancer sends a request to (own stream: the workload's stays the same)

  const startPrefill = (r: Replica, now: number) => {
    if (r.prefilling || r.prefillQueue.length === 0) return;
    const req = r.prefillQueue.shift()!;
    r.prefilling = true;
    lookups++;
    const hit = r.cache.has(req.prefix);
    if (hit) {
      hits++;
      r.cache.delete(req.prefix);
      r.cache.set(req.prefix, true);
    }
    const tokens = workload.suffixTokens + (hit ? 0 : workload.prefixTokens);
    events.push(now + engine.overheadSeconds + tokens / engine.prefillTokensPerSecond, () => {
      const t = now + engine.overheadSeconds + tokens / engine.prefillTokensPerSecond;
      ttft.push((t - req.at) * 1000);
      opts.trace?.({ prefix: req.prefix, replica: req.replica, how: req.how, hit, slotWait: req.admittedAt - req.at, prefillWait: now - req.admittedAt, prefill: t - now, ttftMs: (t - req.at) * 1000 });
      if (!hit && workload.prefixTokens <= engine.cacheTokens) {
        r.cache.set(req.prefix, true);
        r.cachedTokens += workload.prefixTokens;
        for (const old of r.cache.keys()) {
          if (r.cachedTokens <= engine.cacheTokens) break;
          r.cache.delete(old);
          r.cachedTokens -= workload.prefixTokens;
        }
      }
      r.prefilling = false;
      startPrefill(r, t);
      events.push(t + workload.outputTokens / engine.decodeTokensPerSecond, () => finish(r, req, t + workload.outputTokens / engine.decodeTokensPerSecond));
    });
  };
  const admit = (r: Replica, now: number) => {
    while (r.running < engine.slots && r.waiting.length > 0) {
      r.running++;
      const req = r.waiting.shift()!;
      req.admittedAt = now;
      r.prefillQueue.push(req);
    }
    startPrefill(r, now);
  };
  const finish = (r: Replica, req: Req, now: number) => {
    r.running--;
    const i = replicas.indexOf(r);
    clock = now;
    req.activator.replicas.done(endpoints[i]!);
    completed++;
    lastDone = now;
    admit(r, now);
    if (opts.closedClients && sent < opts.requests) arrive(now);
  };
  const arrive = (now: number) => {
    sent++;
    const prefix = drawPrefix ? drawPrefix() : unique++;
    let endpoint: string;
    let how = "service";
    const a = activators.length > 1 ? activators[Math.floor(spread.next() * activators.length)]! : activators[0]!;
    if (policy === "service") {
      endpoint = endpoints[Math.floor(next() * endpoints.length)]!;
    } else {
      clock = now;
      const pick = a.replicas.choose(config, endpoints, true, policy === "prefix-affine" ? `prefix ${prefix}` : null)!;
      endpoint = pick.endpoint;
      how = pick.how;
      if (policy === "prefix-affine") {
        // Judged on the engines' real state (running + waiting), not on the choosing activator's estimates.
        const outstanding = (r: Replica) => r.running + r.waiting.length;
        let total = 0;
        for (const r of replicas) total += outstanding(r);
        const bound = loadBound(total, replicas.length, boundFactor);
        const after = outstanding(replicas[index.get(endpoint)!]!) + 1;
        if (after > bound) aboveBound++;
        maxExcess = Math.max(maxExcess, after - bound);
        // As the choosing activator replica saw it.
        if (pick.count === undefined || pick.bound === undefined) throw new Error(`prefix-affine pick without count/bound (${pick.how})`);
        if (pick.count + 1 > pick.bound + 1e-9) aboveOwnBound++;
        maxOver = Math.max(maxOver, after / bound);
      }
    }
    const r = replicas[index.get(endpoint)!]!;
    r.waiting.push({ at: now, prefix, replica: index.get(endpoint)!, how, admittedAt: now, activator: a });
    admit(r, now);
  };
  const scrape = (a: Activator, now: number) => {
    replicas.forEach((r, i) => {
      const busyTokens = r.running * (workload.prefixTokens + workload.suffixTokens + workload.outputTokens);
      a.gauges[i] = { waiting: r.waiting.length, running: r.running, kvCache: Math.min(1, (busyTokens + r.cachedTokens) / (engine.cacheTokens * 2)) };
    });
    if (completed < opts.requests) events.push(now + engine.scrapeSeconds, () => scrape(a, now + engine.scrapeSeconds));
  };

  if (opts.closedClients) {
    for (let i = 0; i < opts.closedClients; i++) events.push(0, () => arrive(0));
  } else {
    let t = 0;
    for (let i = 0; i < opts.requests; i++) {
      t += -Math.log(1 - next()) / opts.ratePerSecond!;
      const at = t;
      events.push(at, () => arrive(at));
    }
    sent = opts.requests;
  }
  // Each activator replica scrapes on its own timer: phases spread over one interval.
  activators.forEach((a, k) => {
    const at = (k * engine.scrapeSeconds) / activators.length;
    events.push(at, () => scrape(a, at));
  });
  for (let e = events.pop(); e; e = events.pop()) e.run();
  return { requests: completed, ttftMs: ttft, hitRate: lookups > 0 ? hits / lookups : 0, throughput: completed / lastDone, aboveOwnBound, aboveBound, maxLoadOverBound: maxOver, maxExcess };
}
