/**
 * The Prometheus text exposition of a prom-client registry, rendered in slices that yield to the event loop, so that
 * a scrape of a large catalog (1000 models: about 100 000 series) does not stall the requests the activator proxies
 * meanwhile. prom-client's own `registry.metrics()` renders every metric at once: its promises resolve as microtasks,
 * so the whole exposition (11.7 MiB at 1000 models) is one block of the event loop, 0.2–0.5 s.
 *
 * The text is byte for byte what `registry.metrics()` returns (Prometheus text format 0.0.4). It reads the series from
 * two internals of prom-client 15 (each metric's `hashMap` series store and histograms' `upperBounds`) and formats
 * them as prom-client does; tests/activator/metricsExposition.test.ts compares the result with `registry.metrics()`,
 * so an upgrade that changes either fails there.
 */
import type { Registry } from "prom-client";

/** What the renderer reads of a prom-client 15 metric. */
interface MetricInternals {
  name: string;
  help: string;
  type: string;
  /** Series by label hash: `{labels, value}`, or `{labels, bucketValues, sum, count}` for a histogram. */
  hashMap: Record<string, unknown>;
  /** Runs at scrape time (gauges read from elsewhere, default metrics). */
  collect?: () => unknown;
  /** A histogram's buckets. */
  upperBounds?: number[];
}

interface ValueSeries {
  labels: Record<string, string | number>;
  value: number;
}

interface HistogramSeries {
  labels: Record<string, string | number>;
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

interface RegistryInternals {
  getMetricsAsString(metric: object): Promise<string>;
}

export interface ExpositionOptions {
  /** Longest run of rendering between two yields to the event loop, ms. Default 1. */
  sliceMs?: number;
  /** Text lines rendered between two looks at the clock (a histogram series counts its buckets + 3). Default 256. */
  batchLines?: number;
  /** How to yield; default setImmediate (pending I/O runs first). */
  yieldToLoop?: () => Promise<void>;
  /** Clock, ms. Default performance.now. */
  now?: () => number;
}

const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

/** prom-client's value text: `Nan`, `+Inf`, `-Inf`, else the number. */
const valueText = (v: number): string => (Number.isNaN(v) ? "Nan" : v === Infinity ? "+Inf" : v === -Infinity ? "-Inf" : `${v}`);
const escapeText = (s: string): string => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
const labelText = (labels: Record<string, string | number>): string => {
  let out = "";
  for (const name in labels) {
    const v = labels[name]!;
    out += `${out ? "," : ""}${name}="${typeof v === "string" ? escapeText(v).replace(/"/g, '\\"') : v}"`;
  }
  return out;
};

/** One counter or gauge series, as prom-client writes it. */
function valueLines(name: string, series: ValueSeries): string {
  const labels = labelText(series.labels);
  return `\n${name}${labels ? `{${labels}}` : ""} ${valueText(series.value)}`;
}

/** One histogram series: cumulative buckets (`le` first, as prom-client writes it), `+Inf`, sum and count. */
function histogramLines(name: string, upperBounds: number[], series: HistogramSeries): string {
  const labels = labelText(series.labels);
  const rest = labels ? `,${labels}}` : "}";
  let out = "";
  let cumulative = 0;
  for (const bound of upperBounds) {
    cumulative += series.bucketValues[bound]!;
    out += `\n${name}_bucket{le="${bound}"${rest} ${valueText(cumulative)}`;
  }
  out += `\n${name}_bucket{le="+Inf"${rest} ${valueText(series.count)}`;
  const own = labels ? `{${labels}}` : "";
  return `${out}\n${name}_sum${own} ${valueText(series.sum)}\n${name}_count${own} ${valueText(series.count)}`;
}

/**
 * Renders `registry` as Prometheus text, yielding to the event loop whenever `sliceMs` has passed since the last
 * yield. Counters, gauges and histograms are written here, series by series (no per-line objects: a scrape of a large
 * catalog leaves little garbage); any other kind by prom-client's own formatter, whole. Returns the text as UTF-8
 * chunks (one per slice; their concatenation is `registry.metrics()`'s string; default labels and exemplars, which
 * the activator does not use, are not written). Series added while it runs appear in the next scrape; a series' own
 * values are read at once (a histogram's buckets, sum and count agree). Throws when prom-client's internals are not
 * as expected (see the module comment).
 */
export async function renderExposition(registry: Registry, opts: ExpositionOptions = {}): Promise<Buffer[]> {
  const sliceMs = opts.sliceMs ?? 1;
  const batchLines = opts.batchLines ?? 256;
  const yieldToLoop = opts.yieldToLoop ?? immediate;
  const now = opts.now ?? (() => performance.now());
  const format = registry as unknown as RegistryInternals;
  if (typeof format.getMetricsAsString !== "function") throw new Error("prom-client's Registry has no getMetricsAsString: the exposition renderer needs prom-client 15");

  const chunks: Buffer[] = [];
  let pending = "";
  let sliceStart = now();
  const maybeYield = async () => {
    if (now() - sliceStart < sliceMs) return;
    if (pending) chunks.push(Buffer.from(pending, "utf8"));
    pending = "";
    await yieldToLoop();
    sliceStart = now();
  };

  const metrics = registry.getMetricsAsArray() as unknown as MetricInternals[];
  for (let i = 0; i < metrics.length; i++) {
    const metric = metrics[i]!;
    if (i > 0) pending += "\n\n";
    if (metric.type !== "counter" && metric.type !== "gauge" && metric.type !== "histogram") {
      pending += await format.getMetricsAsString(metric);
      await maybeYield();
      continue;
    }
    if (typeof metric.hashMap !== "object" || metric.hashMap === null) throw new Error(`prom-client metric ${metric.name} has no hashMap: the exposition renderer needs prom-client 15`);
    if (typeof metric.collect === "function") await metric.collect();
    const series = Object.values(metric.hashMap);
    const name = escapeText(metric.name);
    pending += `# HELP ${name} ${escapeText(metric.help)}\n# TYPE ${name} ${metric.type}`;
    const bounds = metric.upperBounds;
    const batch = Math.max(1, Math.floor(batchLines / (bounds ? bounds.length + 3 : 1)));
    for (let start = 0; start < series.length; start += batch) {
      const end = Math.min(series.length, start + batch);
      for (let j = start; j < end; j++) {
        pending += bounds ? histogramLines(name, bounds, series[j] as HistogramSeries) : valueLines(name, series[j] as ValueSeries);
      }
      await maybeYield();
    }
    if (series.length === 0) await maybeYield();
  }
  pending += "\n";
  chunks.push(Buffer.from(pending, "utf8"));
  return chunks;
}
