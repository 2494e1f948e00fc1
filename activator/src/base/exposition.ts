/**
 * The Prometheus text exposition of a prom-client registry, rendered in slices that yield to the event loop, so that
 * a scrape of a large catalog (1000 models: about 100 000 series) does not stall the requests the activator proxies
 * meanwhile, and written to the scraper slice by slice, gzip-compressed when it asks (writeExposition). prom-client's
 * own `registry.metrics()` renders every metric at once: its promises resolve as microtasks, so the whole exposition
 * (7.7 MiB at 1000 models) is one block of the event loop, 0.2–1 s.
 *
 * Three mechanisms keep every step short and a scrape's garbage small: each metric's series are walked through an
 * index kept in step with prom-client's store (seriesOf; no `Object.values` of 16 000 series in one step), each
 * series' text is kept and written again until its value changes (Entry), and a slice's text is one flat string under
 * V8's large-object size (exposeSlices).
 *
 * The text is byte for byte what `registry.metrics()` returns (Prometheus text format 0.0.4). It relies on two
 * internals of prom-client 15 (each metric's `hashMap` series store, which it wraps, and histograms' `upperBounds`) and
 * formats series as prom-client does; tests/activator/metricsExposition.test.ts and metricsEndpoint.test.ts compare the
 * result with `registry.metrics()`, so an upgrade that changes either fails there.
 */
import type { ServerResponse } from "node:http";
import { pipeline, type Writable } from "node:stream";
import { constants as zlibConstants, createGzip } from "node:zlib";
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
  /**
   * A slice's text is handed on once it reaches this many characters, even before `sliceMs`: strings stay below V8's
   * large-object size (128 KiB), so what a scrape leaves is young-generation garbage. Default 60 000.
   */
  sliceChars?: number;
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

// Both return a flat string (Array#join), not a rope of the parts: the text is kept until the series' value changes.

/** One counter or gauge series, as prom-client writes it. */
function valueLines(name: string, series: ValueSeries): string {
  const labels = labelText(series.labels);
  return ["\n", name, labels ? `{${labels}}` : "", " ", valueText(series.value)].join("");
}

/** One histogram series: cumulative buckets (`le` first, as prom-client writes it), `+Inf`, sum and count. */
function histogramLines(name: string, upperBounds: number[], series: HistogramSeries): string {
  const labels = labelText(series.labels);
  const rest = labels ? `,${labels}} ` : "} ";
  const own = labels ? `{${labels}} ` : " ";
  const lines: string[] = [];
  let cumulative = 0;
  for (const bound of upperBounds) {
    cumulative += series.bucketValues[bound]!;
    lines.push(`\n${name}_bucket{le="${bound}"`, rest, valueText(cumulative));
  }
  lines.push(`\n${name}_bucket{le="+Inf"`, rest, valueText(series.count), `\n${name}_sum`, own, valueText(series.sum), `\n${name}_count`, own, valueText(series.count));
  return lines.join("");
}

/**
 * One series as the renderer keeps it: prom-client's series object, and the text last rendered for it with the value
 * (a histogram: sum and count) it was rendered at. A series whose value has not changed since the last scrape is
 * written from that text, not rendered again: at 1000 models most series are per-model zeros and idle models' counts.
 */
interface Entry {
  series: unknown;
  text: string | undefined;
  /** A counter's or gauge's value, a histogram's sum, when `text` was rendered. */
  value: number;
  /** A histogram's count when `text` was rendered (every observation adds one; zero() and reset() make a new series). */
  count: number;
}

/**
 * A metric's series in the order prom-client writes them (its `hashMap`'s insertion order), kept in step with the
 * `hashMap`: a Proxy on it mirrors every set and delete into a Map, and an accessor wraps the object prom-client's
 * `reset()` assigns. The renderer walks the Map with a live iterator, a batch at a time, instead of
 * `Object.values(hashMap)`, which lists every series in one step: 3.7 ms for the 16 000 series of
 * `activator_rejections_total` at 1000 models, a block of the event loop that grows with the catalog. The hot path pays
 * a Proxy's get on each `inc()`/`observe()` (and a Map lookup where prom-client stores a series object again).
 */
const indexes = new WeakMap<object, { store: Record<string, unknown>; series: Map<string, Entry> }>();

function seriesOf(metric: MetricInternals): Map<string, Entry> {
  const known = indexes.get(metric);
  if (known) return known.series;
  let current = mirror(metric.hashMap);
  Object.defineProperty(metric, "hashMap", {
    configurable: true,
    enumerable: true,
    get: () => current.store,
    set: (store: Record<string, unknown>) => {
      current = mirror(store);
      indexes.set(metric, current);
    },
  });
  indexes.set(metric, current);
  return current.series;
}

const entry = (series: unknown): Entry => ({ series, text: undefined, value: 0, count: -1 });

function mirror(target: Record<string, unknown>): { store: Record<string, unknown>; series: Map<string, Entry> } {
  const series = new Map<string, Entry>();
  for (const key in target) series.set(key, entry(target[key]));
  const store = new Proxy(target, {
    set(t, key, value) {
      (t as Record<string | symbol, unknown>)[key] = value;
      if (typeof key === "string" && series.get(key)?.series !== value) series.set(key, entry(value));
      return true;
    },
    deleteProperty(t, key) {
      delete (t as Record<string | symbol, unknown>)[key];
      if (typeof key === "string") series.delete(key);
      return true;
    },
  });
  return { store, series };
}

/**
 * Starts tracking the series of every metric now in `registry` (see seriesOf), while their `hashMap`s are small: a
 * metric first seen by a scrape is indexed then, in one step that lists its series once. Call it after the metrics are
 * registered, before series are added (createMetrics does). Idempotent.
 */
export function indexSeries(registry: Registry): void {
  for (const metric of registry.getMetricsAsArray() as unknown as MetricInternals[]) {
    if (typeof metric.hashMap === "object" && metric.hashMap !== null) seriesOf(metric);
  }
}

/** The text of `e`'s series, rendered again only when its value (a histogram: sum or count) changed since the last. */
function seriesText(name: string, bounds: number[] | undefined, e: Entry): string {
  if (bounds) {
    const h = e.series as HistogramSeries;
    if (e.text === undefined || e.count !== h.count || !Object.is(e.value, h.sum)) {
      e.text = histogramLines(name, bounds, h);
      e.count = h.count;
      e.value = h.sum;
    }
  } else {
    const v = e.series as ValueSeries;
    if (e.text === undefined || !Object.is(e.value, v.value)) {
      e.text = valueLines(name, v);
      e.value = v.value;
    }
  }
  return e.text;
}

/**
 * `registry` as Prometheus text, in slices: it yields to the event loop whenever `sliceMs` has passed since the last
 * yield, and hands the text rendered meanwhile to the consumer (who writes it to a socket or a gzip stream, so the whole
 * exposition is never held), in strings of at most about `sliceChars` characters. Counters, gauges and histograms are
 * written here, series by series, each from the text kept since the last scrape unless its value changed (Entry); any
 * other kind by prom-client's own formatter, whole. The concatenation of the strings is `registry.metrics()`'s text
 * (default labels and exemplars, which the activator does not use, are not written). A series added while it runs may
 * appear in this scrape or the next; a series' own values are read at once (a histogram's buckets, sum and count
 * agree). Throws, at the first `next()`, when prom-client's internals are not as expected (see the module comment).
 */
export async function* exposeSlices(registry: Registry, opts: ExpositionOptions = {}): AsyncGenerator<string, void, undefined> {
  const sliceMs = opts.sliceMs ?? 1;
  const batchLines = opts.batchLines ?? 256;
  const sliceChars = opts.sliceChars ?? 60_000;
  const yieldToLoop = opts.yieldToLoop ?? immediate;
  const now = opts.now ?? (() => performance.now());
  const format = registry as unknown as RegistryInternals;
  if (typeof format.getMetricsAsString !== "function") throw new Error("prom-client's Registry has no getMetricsAsString: the exposition renderer needs prom-client 15");

  // Joined, not concatenated: one flat string per slice, no rope of a node per series.
  const parts: string[] = [];
  let chars = 0;
  const add = (text: string) => {
    parts.push(text);
    chars += text.length;
  };
  const take = () => {
    const text = parts.join("");
    parts.length = 0;
    chars = 0;
    return text;
  };
  let sliceStart = now();
  const metrics = registry.getMetricsAsArray() as unknown as MetricInternals[];
  for (let i = 0; i < metrics.length; i++) {
    const metric = metrics[i]!;
    if (i > 0) add("\n\n");
    if (metric.type !== "counter" && metric.type !== "gauge" && metric.type !== "histogram") {
      add(await format.getMetricsAsString(metric));
      if (now() - sliceStart >= sliceMs) {
        yield take();
        await yieldToLoop();
        sliceStart = now();
      }
      continue;
    }
    if (typeof metric.hashMap !== "object" || metric.hashMap === null) throw new Error(`prom-client metric ${metric.name} has no hashMap: the exposition renderer needs prom-client 15`);
    if (typeof metric.collect === "function") await metric.collect();
    const name = escapeText(metric.name);
    add(`# HELP ${name} ${escapeText(metric.help)}\n# TYPE ${name} ${metric.type}`);
    const bounds = metric.upperBounds;
    const batch = Math.max(1, Math.floor(batchLines / (bounds ? bounds.length + 3 : 1)));
    const series = seriesOf(metric);
    let inBatch = 0;
    // A live iterator: no list of every series up front.
    for (const e of series.values()) {
      add(seriesText(name, bounds, e));
      if (++inBatch < batch) continue;
      inBatch = 0;
      if (now() - sliceStart >= sliceMs) {
        yield take();
        await yieldToLoop();
        sliceStart = now();
      } else if (chars >= sliceChars) {
        yield take(); // to the socket now; the event loop's turn comes when the slice's time is up
      }
    }
    if ((inBatch > 0 || series.size === 0) && now() - sliceStart >= sliceMs) {
      yield take();
      await yieldToLoop();
      sliceStart = now();
    }
  }
  add("\n");
  yield take();
}

/** exposeSlices' strings as UTF-8 Buffers, all of them: what the text is, for tests and in-process benches. */
export async function renderExposition(registry: Registry, opts: ExpositionOptions = {}): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const slice of exposeSlices(registry, opts)) chunks.push(Buffer.from(slice, "utf8"));
  return chunks;
}

/**
 * Whether an `Accept-Encoding` header value accepts gzip (RFC 9110 §12.5.3): `gzip` (or `x-gzip`) listed with a weight
 * above 0, or `*` above 0 with gzip not listed. Prometheus sends `gzip` unless the scrape config sets
 * `enable_compression: false`, then `identity` (prometheus/prometheus scrape/scrape.go, `acceptEncodingHeader`).
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  let any = false;
  for (const part of header.split(",")) {
    const [coding = "", ...params] = part.split(";");
    const name = coding.trim().toLowerCase();
    const weight = params.map((p) => /^\s*q\s*=\s*([\d.]+)\s*$/i.exec(p)).find((m) => m)?.[1];
    const accepted = weight === undefined || Number(weight) > 0;
    if (name === "gzip" || name === "x-gzip") return accepted;
    if (name === "*") any = accepted;
  }
  return any;
}

/** The headers of a /metrics answer (GET or HEAD): the registry's content type, gzip when the scraper takes it. */
export function expositionHeaders(contentType: string, gzip: boolean): Record<string, string> {
  return { "content-type": contentType, vary: "Accept-Encoding", ...(gzip ? { "content-encoding": "gzip" } : {}) };
}

/** Bytes of each of a scrape's two write buffers: a slice of 60 000 characters (+ a batch) fits, in UTF-8, at 2 bytes each. */
const SLAB_BYTES = 192 * 1024;

/**
 * Writes an exposition to `res` slice by slice, as it is rendered: 200 with `contentType`, chunked; gzip-compressed
 * when `gzip` (level 1: at 1000 models 17 MB of text become 0.8 MB in 20 ms, where level 6 takes 4 times as long for
 * 0.65 MB), by node:zlib's stream, whose work runs on libuv's threadpool, off the event loop. Each slice is encoded into
 * one of two buffers allocated once per scrape, written while the next slice renders into the other; a buffer is filled
 * again once its write completed (the socket, or zlib, took it), which is the back-pressure: a slow scraper slows the
 * render, and a scrape holds 2 × 192 KiB whatever its size. (A socket write of a string allocates a buffer per write,
 * freed only by a garbage collection: scraped back to back at 1000 models, 7.7 MiB 10 times a second, the activator's
 * RSS rose by 400–600 MiB.) Stops rendering when the scraper leaves. Rejects before anything is written when the
 * first slice fails (the caller answers 500); a failure later destroys the response, which the scraper sees as a
 * truncated body (a failed scrape).
 */
export async function writeExposition(res: ServerResponse, slices: AsyncGenerator<string, void, undefined>, contentType: string, gzip: boolean): Promise<void> {
  const first = await slices.next();
  res.writeHead(200, expositionHeaders(contentType, gzip));
  const zip = gzip ? createGzip({ level: zlibConstants.Z_BEST_SPEED }) : undefined;
  if (zip) pipeline(zip, res, () => undefined); // a failure on either side destroys both: the loop below stops
  const sink: Writable = zip ?? res;
  let gone = false;
  const left = new Promise<void>((resolve) => res.once("close", () => resolve(void (gone = true))));
  const slabs = [Buffer.allocUnsafe(SLAB_BYTES), Buffer.allocUnsafe(SLAB_BYTES)];
  const written: Array<Promise<unknown>> = [Promise.resolve(), Promise.resolve()];
  let which = 0;
  const write = (chunk: string | Buffer) => new Promise((resolve) => sink.write(chunk, resolve));
  try {
    for (let next = first; !next.done; next = await slices.next()) {
      await Promise.race([written[which], left]);
      if (gone || sink.destroyed) return;
      const text = next.value;
      if (text.length * 3 > SLAB_BYTES && Buffer.byteLength(text) > SLAB_BYTES) {
        written[which] = write(text); // wider than a buffer (prom-client's own text of a kind we do not render): as is
      } else {
        const slab = slabs[which]!;
        written[which] = write(slab.subarray(0, slab.write(text)));
      }
      which ^= 1;
    }
    sink.end();
  } catch (err) {
    res.destroy(err as Error);
    sink.destroy();
  } finally {
    await slices.return();
  }
}
