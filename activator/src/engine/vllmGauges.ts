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
 * three intervals count as 0. Never an error toward KEDA: a failing trigger would block scale-to-zero.
 */
import type { Logger } from "pino";
import { Agent, request } from "undici";
import type { ScalingMetric } from "../scaler/activity";
import { parsePrometheusText } from "./promText";

export const WAITING = "vllm:num_requests_waiting";
export const KV_CACHE_USAGE = "vllm:kv_cache_usage_perc";

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
}

interface Reading {
  waiting: number;
  kvCache: number;
  replicas: number;
  /** performance.now() */
  at: number;
}

/** Totals over one model's replicas from their /metrics texts (undefined for a replica that did not answer). */
export function foldReplicaTexts(texts: ReadonlyArray<string | undefined>): { waiting: number; kvCache: number; replicas: number } {
  let waiting = 0;
  let kvCache = 0;
  let replicas = 0;
  for (const text of texts) {
    if (text === undefined) continue;
    let engines = 0;
    let usage = 0;
    let sawWaiting = false;
    for (const s of parsePrometheusText(text)) {
      if (!Number.isFinite(s.value)) continue;
      if (s.name === WAITING) {
        waiting += Math.max(0, s.value);
        sawWaiting = true;
      } else if (s.name === KV_CACHE_USAGE) {
        usage += Math.min(1, Math.max(0, s.value));
        engines++;
      }
    }
    if (engines > 0) kvCache += usage / engines;
    if (engines > 0 || sawWaiting) replicas++;
  }
  return { waiting, kvCache, replicas };
}

export class EngineGauges {
  private readonly readings = new Map<string, Reading>();
  private readonly failing = new Set<string>();
  private readonly agent: Agent;
  private timer: NodeJS.Timeout;
  private running = false;

  constructor(private readonly opts: EngineGaugesOptions) {
    this.agent = new Agent({ connections: 2, keepAliveTimeout: 30_000, connect: { timeout: opts.timeoutMs } });
    this.timer = setInterval(() => void this.scrapeAll(), opts.intervalMs);
    this.timer.unref();
  }

  /** The two metrics of a vLLM model, none for other models. */
  metrics(modelKey: string, model: EngineModel | undefined): ScalingMetric[] {
    const targets = model?.vllm;
    if (!targets) return [];
    const reading = this.readings.get(modelKey);
    const fresh = reading !== undefined && model!.ready && performance.now() - reading.at <= 3 * this.opts.intervalMs;
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
      await Promise.all(rounds);
    } finally {
      this.running = false;
    }
  }

  close(): void {
    clearInterval(this.timer);
    void this.agent.close();
  }

  private async scrapeModel(key: string, metricsPath: string, endpoints: readonly string[]): Promise<void> {
    const texts = await Promise.all(endpoints.map((base) => this.fetchText(`${base}${metricsPath}`)));
    const folded = foldReplicaTexts(texts);
    this.readings.set(key, { ...folded, at: performance.now() });
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
