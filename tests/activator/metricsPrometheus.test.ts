/**
 * The admin `/metrics` endpoint scraped by a real Prometheus server (Debian's `prometheus` 2.42, which .ci/run installs;
 * skipped, saying so, without it). Prometheus asks for gzip and inflates the body with Go's compress/gzip
 * (prometheus/prometheus scrape/scrape.go: `targetScraper.scrape` in 2.42, `readResponse` in later releases); the activator renders the text in slices, from series text
 * kept while values hold, and compresses it as a stream (activator/src/base/exposition.ts, writeExposition). The
 * scrape must be healthy, hold every sample of the exposition, and follow values that change between scrapes.
 */
import { strict as assert } from "node:assert";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type * as http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createAdminServer } from "../../activator/src/admin";
import { createMetrics } from "../../activator/src/base/metrics";
import type { ModelRegistry } from "../../activator/src/holding/registry";
import { freePort } from "../../testing/activator/backend";
import { activatorFamilies } from "../../testing/activator/metricsText";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("activator: /metrics scraped by a real Prometheus (gzip)", function () {
  this.timeout(60_000);
  const models = Array.from({ length: 150 }, (_, i) => `ns/m${i}`);
  const metrics = createMetrics({ forEachModel: (visit) => models.forEach((m, i) => visit(m, i % 3, i % 2)) });
  let admin: http.Server;
  let prometheus: ChildProcess | undefined;
  let dir: string;
  let api = "";

  /** The result of an instant query, as [labels, value] pairs. */
  const query = async (expr: string): Promise<Array<[Record<string, string>, number]>> => {
    const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
    return body.data.result.map((r) => [r.metric, Number(r.value[1])]);
  };
  /**
   * Waits for a scrape that started after now, then returns the value of `expr` (one series). A scrape's timestamp is
   * its start, aligned by up to 2 ms (scrape.go, ScrapeTimestampTolerance): one 10 ms after now began after it.
   */
  const afterNextScrape = async (expr: string): Promise<number | undefined> => {
    const since = Date.now() / 1000 + 0.01;
    for (let i = 0; ; i++) {
      await sleep(100);
      const [last] = await query('timestamp(up{job="activator"})');
      if (last && last[1] > since) break;
      if (i === 100) throw new Error("Prometheus made no scrape of the activator in 10 s");
    }
    return (await query(expr))[0]?.[1];
  };

  before(async function () {
    if (spawnSync("prometheus", ["--version"]).error) {
      console.log("      skipped: prometheus is not installed (apt-get install prometheus; .ci/run installs it)");
      this.skip();
    }
    for (const [i, model] of models.entries()) {
      metrics.initModel(model);
      metrics.recordColdStart(model, "served", "", 20 + i);
      metrics.proxyLatency.observe({ model }, 0.002 * (i + 1));
      metrics.requests.inc({ model, status: "200" }, i);
    }
    admin = createAdminServer({ accepting: true }, {} as ModelRegistry, metrics);
    await new Promise<void>((resolve) => admin.listen(0, "127.0.0.1", resolve));
    dir = mkdtempSync(path.join(tmpdir(), "metrics-prometheus-"));
    const target = `127.0.0.1:${(admin.address() as AddressInfo).port}`;
    writeFileSync(path.join(dir, "prometheus.yml"), JSON.stringify({ global: { scrape_interval: "1s", scrape_timeout: "1s" }, scrape_configs: [{ job_name: "activator", static_configs: [{ targets: [target] }] }] }));
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    prometheus = spawn("prometheus", [`--config.file=${path.join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${path.join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    prometheus.stderr!.setEncoding("utf8").on("data", (d: string) => (log = (log + d).slice(-4000)));
    for (let i = 0; i < 200; i++) {
      if ((await query('up{job="activator"}').catch(() => [])).length > 0) return;
      await sleep(100);
    }
    throw new Error(`Prometheus did not scrape the activator within 20 s; its log ends:\n${log}`);
  });

  after(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus!.once("exit", resolve));
      prometheus.kill("SIGKILL");
      await exited;
    }
    admin?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("scrapes it healthy, every sample of the exposition in", async () => {
    // The activator's own families: Node's default metrics (GC, handles) gain series between two reads.
    const samples = activatorFamilies(await metrics.registry.metrics()).flatMap((family) => family.split("\n")).filter((l) => l !== "" && !l.startsWith("#")).length;
    assert.equal(await afterNextScrape('up{job="activator"}'), 1);
    assert.equal(await afterNextScrape('count({job="activator",__name__=~"activator_.*"})'), samples, "samples of the activator_ families Prometheus stored / in the exposition");
    assert.equal(await afterNextScrape('activator_requests_total{model="ns/m77",status="200"}'), 77);
  });

  it("follows values changed between scrapes, beside the series that did not change", async () => {
    metrics.requests.inc({ model: "ns/m77", status: "200" }, 1000);
    metrics.proxyLatency.observe({ model: "ns/m3" }, 7);
    assert.equal(await afterNextScrape('activator_requests_total{model="ns/m77",status="200"}'), 1077);
    assert.equal(await afterNextScrape('activator_proxy_latency_seconds_count{model="ns/m3"}'), 2);
    assert.equal(await afterNextScrape('activator_requests_total{model="ns/m78",status="200"}'), 78);
    assert.equal(await afterNextScrape('up{job="activator"}'), 1);
  });
});
