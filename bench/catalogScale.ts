/**
 * Catalog scale: one activator serving N path-routed models (100 and 1000; 20 and 60 in smoke mode), every model
 * behind the fake EndpointSlice API in kubernetes readiness mode, sharing one backend. Each model first goes through
 * one served cold start (held, then its slice turns ready), so the per-model series of today exist: cold-start
 * duration and phase histograms, wait, proxy latency, replica choices, rejections, KEDA call gauge.
 *
 * Per size: RSS idle at zero and after the cold starts; `/metrics` size, series and scrape time; then the same
 * proxied traffic (CONNECTIONS keep-alive connections, each sending GETs to random models back to back) for
 * PHASE_MS without scraping (the reference), and, for each scraper — one that sends `Accept-Encoding: gzip` and
 * inflates the body as Prometheus does, then one that sends none (identity) — for PHASE_MS while a separate process
 * scrapes `/metrics` back to back and for PHASE_MS while it fetches a body of the same text, as often as it scraped the
 * activator, from a decoy server (no activator involved; a process of its own on the activator's core): what scraping
 * and serving the bytes cost by themselves, on a machine where the scraper and the clients share cores. p50/p99/max of each, in the same run. Peak RSS (VmHWM) over the whole run against the pod
 * limit the stack's memory rule (activator/src/config/memory.ts) gives for N models with the default limits; the
 * activator runs in a memory cgroup with that limit, as in the pod (bench/lib/podMemory.ts: Node sizes its heap from it).
 */
import * as http from "node:http";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { activatorStackSchema } from "../components/config/models";
import { requiredMemoryBytes } from "../activator/src/config/memory";
import { endpointSlice, FakeKubeApi } from "../testing/activator/fakeKubeApi";
import { TestBackend } from "../testing/activator/backend";
import { keepAliveAgent, send } from "../testing/activator/http";
import { podMemoryFigures, startActivator } from "./lib/activator";
import { renderFigures, type RenderFigures } from "./lib/metricsRender";
import { rssOf, spawnChild } from "./lib/processes";
import { deadline, fixed, sleep, summarize, type Bench, type BenchContext, type BenchResult, type Summary } from "./lib/report";

const MiB = 1024 * 1024;
const CONNECTIONS = 4;
/** Models cold-started at once. */
const COLD_BATCH = 100;

/**
 * A child process that GETs `url` back to back and appends each scrape's milliseconds, bytes on the wire and bytes of
 * text to `outFile` (a file, not stdout: spawnChild keeps only the last 64 KiB of a child's output, and small
 * catalogs are scraped thousands of times). With argv[2] "gzip" it sends `Accept-Encoding: gzip`, as Prometheus does unless a scrape config sets
 * `enable_compression: false` (prometheus/prometheus scrape/scrape.go, `acceptEncodingHeader`), and inflates the body
 * as Prometheus does; otherwise no Accept-Encoding (identity).
 */
const SCRAPER = `
const http = require("node:http");
const zlib = require("node:zlib");
const fs = require("node:fs");
const [url, mode, outFile, everyMs] = process.argv.slice(1);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const headers = mode === "gzip" ? { "accept-encoding": "gzip" } : {};
const scrape = () => new Promise((resolve, reject) => {
  const t = performance.now();
  http.get(url, { agent, headers }, (res) => {
    const wire = [];
    res.on("data", (c) => wire.push(c));
    res.on("error", reject);
    res.on("end", () => {
      const body = Buffer.concat(wire);
      const text = res.headers["content-encoding"] === "gzip" ? zlib.gunzipSync(body) : body;
      resolve({ ms: performance.now() - t, bytes: text.length, wireBytes: body.length, status: res.statusCode });
    });
  }).on("error", reject);
});
(async () => {
  for (;;) {
    const started = performance.now();
    fs.appendFileSync(outFile, JSON.stringify(await scrape()) + "\\n");
    const left = Number(everyMs || 0) - (performance.now() - started);
    if (left > 0) await new Promise((r) => setTimeout(r, left));
  }
})().catch((e) => { process.stderr.write(String(e)); process.exit(1); });
`;

/** The decoy: serves argv[1]'s text (gzip level 1 when asked, as /metrics), writes its port to argv[2]. */
const DECOY = `
const http = require("node:http");
const fs = require("node:fs");
const zlib = require("node:zlib");
const [bodyFile, portFile] = process.argv.slice(1);
const body = fs.readFileSync(bodyFile);
const zipped = zlib.gzipSync(body, { level: 1 });
const server = http.createServer((req, res) => {
  if (/gzip/.test(req.headers["accept-encoding"] || "")) res.writeHead(200, { "content-encoding": "gzip" }).end(zipped);
  else res.end(body);
});
server.listen(0, "127.0.0.1", () => fs.writeFileSync(portFile, String(server.address().port)));
`;

interface Scrape {
  ms: number;
  /** Bytes of text. */
  bytes: number;
  /** Bytes on the wire (gzip-compressed when the scraper asked). */
  wireBytes: number;
  status: number;
}

/** How the scraper asks: gzip (Prometheus' default) or identity. */
type ScrapeEncoding = "gzip" | "identity";

/** Back-to-back GETs to random models on `connections` keep-alive connections for `ms`: each latency, in ms. */
async function traffic(base: string, models: number, connections: number, ms: number): Promise<{ latencies: number[]; errors: number }> {
  const agent = keepAliveAgent();
  const latencies: number[] = [];
  let errors = 0;
  const until = performance.now() + ms;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        const started = performance.now();
        const res = await send(`${base}/m${Math.floor(Math.random() * models)}/x`, { agent }).catch(() => undefined);
        if (res?.status === 200) latencies.push(performance.now() - started);
        else errors++;
      }
    }),
  );
  agent.destroy();
  return { latencies, errors };
}

/** Proxied latency while one kind of scraper scrapes back to back: the activator, then a decoy with the same body. */
interface ScrapedRow {
  encoding: ScrapeEncoding;
  withScrape: Summary;
  /** Proxied while a same-size body is scraped from a decoy server as often as the activator was (the scraper's own cost). */
  withDecoyScrape: Summary;
  addedP50Ms: number;
  addedP99Ms: number;
  /** p99 with the activator scraped − p99 with the decoy scraped: the activator's share of the added p99. */
  activatorShareP99Ms: number;
  scrapesDuringTraffic: number;
  /** Scrapes of the activator during traffic, ms. */
  scrapeMs: Summary;
  /** One scrape's bytes on the wire. */
  wireBytes: number;
}

/** One catalog size; the top-level scrape fields are the gzip row's (how Prometheus scrapes). */
interface SizeResult extends Omit<ScrapedRow, "scrapeMs"> {
  models: number;
  rssIdleMiB: number;
  rssAfterColdStartsMiB: number;
  rssPeakMiB: number;
  podLimitMiB: number;
  /** How the pod's memory limit was applied to the activator (bench/lib/podMemory.ts), or why it was not. */
  podMemory: string;
  /** The cgroup's own peak (page cache and kernel memory included), MiB; NaN without one. */
  cgroupPeakMiB: number;
  peakShareOfLimit: number;
  metricsBytes: number;
  metricsSeries: number;
  /** Scrape time, ms: the 5 before traffic and the median under each scraper. */
  scrapeMs: Summary;
  withoutScrape: Summary;
  /** gzip (Prometheus' default), then identity. */
  scraped: ScrapedRow[];
  /** Proxied requests without a 200, cold starts included. */
  errors: number;
  /** Cold-start requests answered other than 200, by status or error. */
  coldStartFailures: Record<string, number>;
}

export async function measure(models: number, phaseMs: number, ctx: BenchContext): Promise<SizeResult> {
  const stack = activatorStackSchema.parse({});
  const api = await FakeKubeApi.start();
  const backend = await TestBackend.create();
  await backend.start();
  const names = Array.from({ length: models }, (_, i) => `m${i}`);
  const slice = (name: string, ready: boolean) => endpointSlice({ namespace: "bench", service: name, name: `${name}-a`, ready: [ready], address: "127.0.0.1", port: backend.port });
  for (const name of names) api.apply(slice(name, false));
  const model = (name: string) => ({ name, namespace: "bench", backend: backend.url, serviceName: name, readinessPath: "/health", pathPrefix: `/${name}` });
  const podLimit = requiredMemoryBytes(stack.limits, models);
  const act = await startActivator({ readiness: { mode: "kubernetes" }, limits: { ...stack.limits }, models: names.map(model) }, ctx.cores.proxy, { kubeApi: api, listenTimeoutMs: 120_000, podMemoryBytes: podLimit });
  let scraper: ReturnType<typeof spawnChild> | undefined;
  let decoy: ReturnType<typeof spawnChild> | undefined;
  try {
    await act.waitQueue((q) => Object.keys(q.models).length === models && Object.values(q.models).every((m) => !m.ready), "models at zero", 60_000);
    await sleep(1000);
    const rssIdle = rssOf(act.pid).rss;
    ctx.log(`catalog-scale: ${models} models at zero`);
    // One served cold start per model: held, then released when its slice turns ready; COLD_BATCH models at a time.
    const agent = new http.Agent({ keepAlive: false });
    const coldStartFailures: Record<string, number> = {};
    for (let start = 0; start < models; start += COLD_BATCH) {
      const batch = names.slice(start, start + COLD_BATCH);
      const held = Promise.all(batch.map((n) => send(`${act.proxyUrl}/${n}/x`, { agent }).then((r) => r.status, (err: Error) => err.message)));
      await act.waitQueue((q) => q.held === batch.length, `${batch.length} requests held`, 60_000);
      for (const name of batch) api.apply(slice(name, true));
      for (const answer of await held) if (answer !== 200) coldStartFailures[answer] = (coldStartFailures[answer] ?? 0) + 1;
    }
    agent.destroy();
    if (Object.keys(coldStartFailures).length > 0) ctx.log(`catalog-scale: cold starts not answered 200: ${JSON.stringify(coldStartFailures)}`);
    await sleep(1000);
    const rssAfter = rssOf(act.pid).rss;

    const scrapeTimes: number[] = [];
    let text = "";
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      text = await act.metrics();
      scrapeTimes.push(performance.now() - started);
    }
    const series = text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).length;
    const phaseNames = new Set([...text.matchAll(/^activator_cold_start_phase_seconds_count\{model="bench\/m0",phase="([a-z_]+)"\}/gm)].map((m) => m[1]));
    if (phaseNames.size === 0) throw new Error("no cold-start phase series for bench/m0 after its served cold start");

    await traffic(act.proxyUrl, models, CONNECTIONS, Math.min(1000, phaseMs)); // warm the connections and the JIT
    const without = await traffic(act.proxyUrl, models, CONNECTIONS, phaseMs);
    // Proxied traffic while `url` is scraped back to back, the scraper on the clients' core(s).
    // `everyMs`: a scrape starts at most every so many ms (the decoy's: as often as the activator was scraped).
    const scrapedPhase = async (url: string, encoding: ScrapeEncoding, everyMs = 0) => {
      const outFile = path.join(tmpdir(), `catalog-scale-scrapes-${process.pid}-${encoding}-${models}.jsonl`);
      rmSync(outFile, { force: true });
      const started = performance.now();
      scraper = spawnChild(process.execPath, ["-e", SCRAPER, url, encoding, outFile, String(everyMs)], { cpuList: ctx.cores.others });
      await sleep(200);
      const proxied = await traffic(act.proxyUrl, models, CONNECTIONS, phaseMs);
      await scraper.stop();
      const ranMs = performance.now() - started;
      scraper = undefined;
      const lines = readFileSync(outFile, "utf8").split("\n");
      rmSync(outFile, { force: true });
      // The last line may be cut where the scraper was stopped.
      const during = lines.filter((l) => l.endsWith("}")).map((l) => JSON.parse(l) as Scrape);
      if (during.some((s) => s.status !== 200)) throw new Error(`a scrape (${encoding}) failed`);
      return { proxied, during, ranMs };
    };
    // The decoy: a server of its own on the activator's core that answers with the same text, gzip-compressed (level 1,
    // as /metrics) when asked: serving the bytes costs that core what it costs the activator, and the clients' process
    // (this one) does nothing for it. What the activator adds beyond that is rendering and compressing them.
    const bodyFile = path.join(tmpdir(), `catalog-scale-decoy-${process.pid}-${models}.txt`);
    writeFileSync(bodyFile, text);
    const portFile = `${bodyFile}.port`;
    rmSync(portFile, { force: true });
    decoy = spawnChild(process.execPath, ["-e", DECOY, bodyFile, portFile], { cpuList: ctx.cores.proxy });
    const overdue = deadline(10_000, "the decoy server to listen");
    while (!existsSync(portFile) || readFileSync(portFile, "utf8") === "") {
      overdue();
      await sleep(20);
    }
    const decoyUrl = `http://127.0.0.1:${readFileSync(portFile, "utf8")}/metrics`;
    rmSync(bodyFile, { force: true });
    rmSync(portFile, { force: true });
    const a = summarize(without.latencies);
    const scraped: ScrapedRow[] = [];
    let errors = without.errors;
    for (const encoding of ["gzip", "identity"] as const) {
      const real = await scrapedPhase(`${act.process.adminUrl}/metrics`, encoding);
      const fake = await scrapedPhase(decoyUrl, encoding, real.ranMs / Math.max(1, real.during.length));
      const b = summarize(real.proxied.latencies);
      const c = summarize(fake.proxied.latencies);
      errors += real.proxied.errors + fake.proxied.errors;
      scraped.push({
        encoding,
        withScrape: b,
        withDecoyScrape: c,
        addedP50Ms: b.p50 - a.p50,
        addedP99Ms: b.p99 - a.p99,
        activatorShareP99Ms: b.p99 - c.p99,
        scrapesDuringTraffic: real.during.length,
        scrapeMs: summarize(real.during.map((s) => s.ms)),
        wireBytes: real.during.at(-1)?.wireBytes ?? 0,
      });
    }
    const peak = rssOf(act.pid).peak;
    const memory = podMemoryFigures(act, `${fixed(podLimit / MiB, 0)} MiB`);
    const { scrapeMs: _gzipScrapeMs, ...prometheus } = scraped[0]!;
    const result: SizeResult = {
      ...prometheus,
      models,
      rssIdleMiB: rssIdle / MiB,
      rssAfterColdStartsMiB: rssAfter / MiB,
      rssPeakMiB: peak / MiB,
      podLimitMiB: podLimit / MiB,
      ...memory,
      peakShareOfLimit: peak / podLimit,
      metricsBytes: Buffer.byteLength(text),
      metricsSeries: series,
      scrapeMs: summarize([...scrapeTimes, ...scraped.map((r) => r.scrapeMs.p50)]),
      withoutScrape: a,
      scraped,
      errors: errors + Object.values(coldStartFailures).reduce((a, b) => a + b, 0),
      coldStartFailures,
    };
    ctx.log(
      `catalog-scale: ${models} models: RSS idle ${fixed(result.rssIdleMiB, 0)} MiB, peak ${fixed(result.rssPeakMiB, 0)} MiB of ${fixed(result.podLimitMiB, 0)}; /metrics ${fixed(result.metricsBytes / MiB, 2)} MiB; ` +
        scraped
          .map((r) => `${r.encoding} (${fixed(r.wireBytes / MiB, 2)} MiB on the wire, ${fixed(r.scrapeMs.p50, 0)} ms): p99 ${fixed(a.p99, 2)} → ${fixed(r.withScrape.p99, 2)} ms with ${r.scrapesDuringTraffic} scrapes (decoy ${fixed(r.withDecoyScrape.p99, 2)} ms)`)
          .join("; "),
    );
    return result;
  } finally {
    await scraper?.stop();
    await decoy?.stop();
    await act.stop();
    await backend.stop();
    await api.stop();
  }
}

export const catalogScale: Bench = {
  name: "catalog-scale",
  description: "100 and 1000 models in one activator: RSS vs the memory rule, /metrics size, latency added while scraped",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const sizes = ctx.smoke ? [20, 60] : [100, 1000];
    const phaseMs = ctx.smoke ? 1500 : 10_000;
    const rows: SizeResult[] = [];
    for (const models of sizes) rows.push(await measure(models, phaseMs, ctx));
    // The same registry in this process, by both renderers: the longest event-loop block, whatever the proxy's latency.
    const renders: Array<{ models: number; series: string; promClient: RenderFigures; sliced: RenderFigures }> = [];
    for (const [models, future] of [...sizes.map((n) => [n, false] as const), [sizes.at(-1)!, true] as const]) {
      const r = await renderFigures(models, future, ctx.smoke ? 1 : 3);
      renders.push({ models, series: future ? "today's + canary versions and endpoints" : "today's", ...r });
      ctx.log(`catalog-scale: render ${models} models (${renders.at(-1)!.series}): prom-client blocks ${fixed(r.promClient.longestBlockMs, 0)} ms, sliced ${fixed(r.sliced.longestBlockMs, 1)} ms`);
    }
    const largestRender = renders.at(-1)!;
    const [small, large] = [rows[0]!, rows.at(-1)!];
    const perModelKiB = ((large.rssAfterColdStartsMiB - small.rssAfterColdStartsMiB) * 1024) / (large.models - small.models);
    const peakPerModelKiB = ((large.rssPeakMiB - small.rssPeakMiB) * 1024) / (large.models - small.models);
    return {
      name: "catalog-scale",
      method: {
        readiness: "kubernetes (fake EndpointSlice API), N path-routed models on one backend, each after one served cold start",
        limits: "the stack's defaults (gpu-serverless:activator limits)",
        traffic: `${CONNECTIONS} keep-alive connections, GETs to random models back to back, ${phaseMs} ms without scraping (reference), then for each scraper (Accept-Encoding: gzip as Prometheus sends it, inflating the body; then none, identity) ${phaseMs} ms while another process scrapes /metrics back to back and ${phaseMs} ms while it scrapes a same-size body (gzip level 1 when asked), as many times, from a decoy server of its own on the activator's core`,
        rss: "/proc/<activator pid>/status: VmRSS idle at zero (1 s after start), after the cold starts (1 s later), VmHWM (peak) at the end",
        podLimit: "requiredMemoryBytes(default limits, N) (activator/src/config/memory.ts), applied as a memory cgroup (bench/lib/podMemory.ts)",
      },
      figures: { sizes: rows, rssPerModelKiB: perModelKiB, peakPerModelKiB, renders },
      tables: [
        {
          title: "Catalog scale: memory and /metrics (MiB, ms)",
          columns: ["models", "RSS idle", "after cold starts", "peak", "pod limit", "peak ÷ limit", "/metrics MiB", "series", "scrape p50", "scrape max"],
          rows: rows.map((r) => [
            r.models,
            fixed(r.rssIdleMiB, 0),
            fixed(r.rssAfterColdStartsMiB, 0),
            fixed(r.rssPeakMiB, 0),
            fixed(r.podLimitMiB, 0),
            fixed(r.peakShareOfLimit, 2),
            fixed(r.metricsBytes / MiB, 2),
            r.metricsSeries,
            fixed(r.scrapeMs.p50, 0),
            fixed(r.scrapeMs.max, 0),
          ]),
        },
        {
          title: "Catalog scale: proxied request latency without and with /metrics scraped back to back, by the scraper's Accept-Encoding (ms)",
          columns: ["models", "requests", "p50", "p99", "max", "scraper", "wire MiB", "scrape p50", "scraped: requests", "p50", "p99", "max", "scrapes", "added p99", "decoy scraped: p99", "activator's share"],
          rows: rows.flatMap((r) =>
            r.scraped.map((x) => [
              r.models,
              r.withoutScrape.count,
              fixed(r.withoutScrape.p50, 2),
              fixed(r.withoutScrape.p99, 2),
              fixed(r.withoutScrape.max, 1),
              x.encoding,
              fixed(x.wireBytes / MiB, 2),
              fixed(x.scrapeMs.p50, 0),
              x.withScrape.count,
              fixed(x.withScrape.p50, 2),
              fixed(x.withScrape.p99, 2),
              fixed(x.withScrape.max, 1),
              x.scrapesDuringTraffic,
              fixed(x.addedP99Ms, 2),
              fixed(x.withDecoyScrape.p99, 2),
              fixed(x.activatorShareP99Ms, 2),
            ]),
          ),
        },
        {
          title: "Catalog scale: rendering the activator's registry in-process, prom-client's registry.metrics() against the sliced renderer /metrics serves (ms)",
          columns: ["models", "series kinds", "MiB", "series", "prom-client wall", "CPU", "longest block", "sliced wall", "CPU", "longest block"],
          rows: renders.map((r) => [
            r.models,
            r.series,
            fixed(r.sliced.bytes / MiB, 2),
            r.sliced.series,
            fixed(r.promClient.renderMs, 0),
            fixed(r.promClient.cpuMs, 0),
            fixed(r.promClient.longestBlockMs, 1),
            fixed(r.sliced.renderMs, 0),
            fixed(r.sliced.cpuMs, 0),
            fixed(r.sliced.longestBlockMs, 1),
          ]),
        },
      ],
      targets: [
        {
          what: `longest event-loop block while /metrics renders, ${largestRender.models} models with future per-model series`,
          target: "≤ 5 ms",
          value: largestRender.sliced.longestBlockMs,
          unit: "ms",
          met: largestRender.sliced.longestBlockMs <= 5,
        },
        { what: `peak RSS ÷ pod limit from the memory rule, ${large.models} models`, target: "≤ 0.8", value: large.peakShareOfLimit, unit: "", met: large.peakShareOfLimit <= 0.8 },
        { what: `p99 added to proxied requests while /metrics is scraped as Prometheus does (gzip), ${large.models} models`, target: "≤ 5 ms", value: large.addedP99Ms, unit: "ms", met: large.addedP99Ms <= 5 },
        { what: "proxied requests failed", target: "0", value: rows.reduce((s, r) => s + r.errors, 0), unit: "", met: rows.every((r) => r.errors === 0) },
      ],
    };
  },
};
