/**
 * vLLM's own saturation gauges, read by the activator from every ready replica while a model is up, and reported to
 * KEDA as two more metrics of the model's one trigger, so no Prometheus sits in the scaling path.
 *
 * Names as vLLM exports them (vllm-project/vllm, vllm/v1/metrics/loggers.py `PrometheusStatLogger`): the gauges
 * `vllm:num_requests_waiting` (requests queued in the scheduler) and `vllm:kv_cache_usage_perc` (KV-cache blocks in
 * use, a fraction 0..1), one sample per engine (label `engine`; several with data parallelism).
 *
 * Per model, with AverageValue targets (the HPA divides the value by the replica count):
 * - `vllm-waiting`: waiting requests summed over every engine of every replica; target `waitingRequestsPerReplica`.
 * - `vllm-kv-cache`: each replica's mean KV-cache usage over its engines, summed over replicas; target `kvCacheUsage`
 *   (the HPA's average is then the mean usage per replica), as the former Prometheus query
 *   `sum(vllm:kv_cache_usage_perc{...})` meant for one engine per replica.
 * A replica that does not answer within the timeout, or whose text lacks a gauge, adds nothing; values older than
 * three intervals count as 0.
 * Per replica it also keeps `vllm:num_requests_running` and the gauges above for replica choice (`replicaReading`),
 * and folds the increases of the counters `vllm:prefix_cache_hits_total` / `vllm:prefix_cache_queries_total` into a
 * per-model hit ratio over the last HIT_RATIO_ROUNDS rounds (`onPrefixCacheHitRatio`). Never an error toward KEDA: a failing trigger would block scale-to-zero.
 */
import type { Logger } from "pino";
import { Agent, request } from "undici";
import type { ScalingMetric } from "../scaler/activity";
import type { EngineReading } from "../routing/endpointPicker";
import { parsePrometheusText } from "./promText";

export const WAITING = "vllm:num_requests_waiting";
export const RUNNING = "vllm:num_requests_running";
export const KV_CACHE_USAGE = "vllm:kv_cache_usage_perc";
/** Counters of prompt tokens looked up in / found in the prefix cache (vllm/v1/metrics/loggers.py, `vllm:prefix_cache_queries`, `_hits`). */
export const PREFIX_CACHE_QUERIES = "vllm:prefix_cache_queries_total";
export const PREFIX_CACHE_HITS = "vllm:prefix_cache_hits_total";
/** Readings older than this many scrape intervals are stale: KEDA gets 0, replica choice ignores them. */
export const STALE_INTERVALS = 3;
/** Scrape rounds the prefix-cache hit ratio is computed over (30 × the 2 s default: the last minute). */
export const HIT_RATIO_ROUNDS = 30;

export interface VllmTargets {
  waitingRequestsPerReplica: number;
  kvCacheUsage: number;
  metricsPath: string;
}

/** What the gauges need to know about a model. */
export interface EngineModel {
  vllm?: VllmTargets | undefined;
  ready: boolean;
  /** Base URLs of the ready replicas. */
  endpoints: readonly string[];
}

export interface EngineGaugesOptions {
  models(): Iterable<[string, EngineModel]>;
  logger: Logger;
  intervalMs: number;
  timeoutMs: number;
  /**
   * Called after each round for each scraped model: prompt tokens found in the replicas' prefix caches / looked up,
   * over the last HIT_RATIO_ROUNDS rounds (undefined when no replica reported a lookup then). Also called with
   * undefined for a model no longer scraped. Default: nothing.
   */
  onPrefixCacheHitRatio?(modelKey: string, ratio: number | undefined): void;
  /** The clock, ms; default performance.now (tests inject one). */
  now?(): number;
}

/** One replica's `/metrics`, as read: undefined fields were absent. */
export interface ReplicaReading extends EngineReading {
  /** Cumulative prompt tokens looked up in / found in the prefix cache (counters, summed over engines); -1 when absent. */
  prefixQueries: number;
  prefixHits: number;
}

/**
 * One replica's text, parsed once: its reading (undefined when it carries none of the gauges), and whether it carried
 * a scaling gauge (`vllm:num_requests_waiting` or `vllm:kv_cache_usage_perc`), which is what counts it in a model's
 * `replicas` total (a replica reporting only `vllm:num_requests_running` has a reading but is not counted).
 */
interface ParsedReplica {
  reading: ReplicaReading | undefined;
  scaling: boolean;
}

function parseReplicaText(text: string): ParsedReplica {
  let waiting = 0;
  let running = 0;
  let usage = 0;
  let engines = 0;
  let seen = false;
  let sawWaiting = false;
  let prefixQueries = -1;
  let prefixHits = -1;
  for (const s of parsePrometheusText(text)) {
    if (!Number.isFinite(s.value)) continue;
    if (s.name === WAITING) {
      waiting += Math.max(0, s.value);
      seen = true;
      sawWaiting = true;
    } else if (s.name === RUNNING) {
      running += Math.max(0, s.value);
      seen = true;
    } else if (s.name === KV_CACHE_USAGE) {
      usage += Math.min(1, Math.max(0, s.value));
      engines++;
      seen = true;
    } else if (s.name === PREFIX_CACHE_QUERIES) {
      prefixQueries = Math.max(0, prefixQueries) + Math.max(0, s.value);
    } else if (s.name === PREFIX_CACHE_HITS) {
      prefixHits = Math.max(0, prefixHits) + Math.max(0, s.value);
    }
  }
  const reading = seen ? { waiting, running, kvCache: engines > 0 ? usage / engines : 0, prefixQueries, prefixHits } : undefined;
  return { reading, scaling: engines > 0 || sawWaiting };
}

/** The gauges and counters of one replica's text; undefined when it carries none of the gauges. */
export function readReplicaText(text: string): ReplicaReading | undefined {
  return parseReplicaText(text).reading;
}

interface Reading {
  waiting: number;
  kvCache: number;
  replicas: number;
  /** performance.now() */
  at: number;
}

/** Totals over one model's parsed replicas (undefined for a replica that did not answer). */
function foldParsed(parsed: ReadonlyArray<ParsedReplica | undefined>): { waiting: number; kvCache: number; replicas: number } {
  let waiting = 0;
  let kvCache = 0;
  let replicas = 0;
  for (const p of parsed) {
    if (!p?.reading) continue;
    waiting += p.reading.waiting;
    kvCache += p.reading.kvCache;
    if (p.scaling) replicas++;
  }
  return { waiting, kvCache, replicas };
}

/** Totals over one model's replicas from their /metrics texts (undefined for a replica that did not answer). */
export function foldReplicaTexts(texts: ReadonlyArray<string | undefined>): { waiting: number; kvCache: number; replicas: number } {
  return foldParsed(texts.map((text) => (text === undefined ? undefined : parseReplicaText(text))));
}

/** Per model: each replica's last reading, and the prefix-cache deltas of the last rounds. */
interface ModelReadings {
  replicas: Map<string, { reading: ReplicaReading; at: number }>;
  /** [hits, queries] added per round, oldest first, at most HIT_RATIO_ROUNDS. */
  rounds: Array<[number, number]>;
}

export class EngineGauges {
  private readonly readings = new Map<string, Reading>();
  private readonly perReplica = new Map<string, ModelReadings>();
  private readonly now: () => number;
  private readonly failing = new Set<string>();
  private readonly agent: Agent;
  private timer: NodeJS.Timeout;
  private running = false;

  constructor(private readonly opts: EngineGaugesOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.agent = new Agent({ connections: 2, keepAliveTimeout: 30_000, connect: { timeout: opts.timeoutMs } });
    this.timer = setInterval(() => void this.scrapeAll(), opts.intervalMs);
    this.timer.unref();
  }

  /** The two metrics of a vLLM model, none for other models. */
  metrics(modelKey: string, model: EngineModel | undefined): ScalingMetric[] {
    const targets = model?.vllm;
    if (!targets) return [];
    const reading = this.readings.get(modelKey);
    const fresh = reading !== undefined && model!.ready && this.now() - reading.at <= STALE_INTERVALS * this.opts.intervalMs;
    return [
      { suffix: "vllm-waiting", target: targets.waitingRequestsPerReplica, value: fresh ? reading.waiting : 0 },
      { suffix: "vllm-kv-cache", target: targets.kvCacheUsage, value: fresh ? reading.kvCache : 0 },
    ];
  }

  /** One round over every ready vLLM model (rounds never overlap). Exposed for tests. */
  async scrapeAll(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const rounds: Promise<void>[] = [];
      const seen = new Set<string>();
      for (const [key, model] of this.opts.models()) {
        if (!model.vllm || !model.ready || model.endpoints.length === 0) continue;
        seen.add(key);
        rounds.push(this.scrapeModel(key, model.vllm.metricsPath, model.endpoints));
      }
      for (const key of this.readings.keys()) if (!seen.has(key)) this.readings.delete(key);
      for (const key of this.perReplica.keys()) {
        if (seen.has(key)) continue;
        this.perReplica.delete(key);
        this.opts.onPrefixCacheHitRatio?.(key, undefined);
      }
      await Promise.all(rounds);
    } finally {
      this.running = false;
    }
  }

  /**
   * One replica's gauges for replica choice: undefined when it has none, or when its last reading is older than
   * STALE_INTERVALS scrape intervals (a replica whose `/metrics` stopped answering is placed on in-flight counts).
   */
  replicaReading(modelKey: string, endpoint: string): EngineReading | undefined {
    const entry = this.perReplica.get(modelKey)?.replicas.get(endpoint);
    if (!entry || this.now() - entry.at > STALE_INTERVALS * this.opts.intervalMs) return undefined;
    return entry.reading;
  }

  close(): void {
    clearInterval(this.timer);
    void this.agent.close();
  }

  private async scrapeModel(key: string, metricsPath: string, endpoints: readonly string[]): Promise<void> {
    const texts = await Promise.all(endpoints.map((base) => this.fetchText(`${base}${metricsPath}`)));
    const at = this.now();
    const parsed = texts.map((text) => (text === undefined ? undefined : parseReplicaText(text)));
    this.readings.set(key, { ...foldParsed(parsed), at });
    let model = this.perReplica.get(key);
    if (!model) this.perReplica.set(key, (model = { replicas: new Map(), rounds: [] }));
    let hits = 0;
    let queries = 0;
    const listed = new Set(endpoints);
    endpoints.forEach((base, i) => {
      const reading = parsed[i]?.reading;
      if (!reading) return;
      const before = model.replicas.get(base)?.reading;
      // Counters: the increase since the previous reading; a replica that restarted (counter went down) counts from 0.
      if (before && reading.prefixQueries >= 0 && before.prefixQueries >= 0) {
        const q = reading.prefixQueries - before.prefixQueries;
        const h = reading.prefixHits - before.prefixHits;
        if (q >= 0 && h >= 0) {
          queries += q;
          hits += h;
        } else {
          queries += reading.prefixQueries;
          hits += Math.max(0, reading.prefixHits);
        }
      }
      model.replicas.set(base, { reading, at });
    });
    for (const base of model.replicas.keys()) if (!listed.has(base)) model.replicas.delete(base);
    model.rounds.push([hits, queries]);
    if (model.rounds.length > HIT_RATIO_ROUNDS) model.rounds.shift();
    let h = 0;
    let q = 0;
    for (const [rh, rq] of model.rounds) {
      h += rh;
      q += rq;
    }
    this.opts.onPrefixCacheHitRatio?.(key, q > 0 ? Math.min(1, h / q) : undefined);
  }

  private async fetchText(url: string): Promise<string | undefined> {
    try {
      const res = await request(url, {
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.opts.timeoutMs),
        headersTimeout: this.opts.timeoutMs,
        bodyTimeout: this.opts.timeoutMs,
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
      if (this.failing.delete(url)) this.opts.logger.info({ url }, "engine metrics readable again");
      return text;
    } catch (err) {
      if (!this.failing.has(url)) {
        this.failing.add(url);
        this.opts.logger.warn({ url, err: (err as Error).message }, "engine metrics unreadable: this replica adds nothing to the vLLM metrics");
      }
      return undefined;
    }
  }
}
