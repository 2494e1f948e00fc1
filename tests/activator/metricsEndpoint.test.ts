/**
 * The admin `/metrics` endpoint over a real socket: gzip-compressed when the scraper's Accept-Encoding asks for it (as
 * Prometheus does by default), plain otherwise, the same text either way; a scraper that leaves mid-body stops the
 * render. And the two mechanisms behind a scrape of a large catalog: the series index the renderer walks instead of
 * `Object.values(hashMap)` stays in step with prom-client, and the scrape-time gauges update their series in place.
 */
import { strict as assert } from "node:assert";
import { execFile, spawnSync } from "node:child_process";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { createAdminServer } from "../../activator/src/admin";
import { acceptsGzip, exposeSlices, renderExposition, writeExposition } from "../../activator/src/base/exposition";
import { createMetrics } from "../../activator/src/base/metrics";
import type { ModelRegistry } from "../../activator/src/holding/registry";
import { activatorFamilies } from "../../testing/activator/metricsText";

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body as it came over the wire (still compressed when content-encoding says so). */
  body: Buffer;
}

function get(url: string, headers: Record<string, string> = {}, method = "GET"): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false });
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.end();
  });
}

const listen = (server: http.Server) => new Promise<string>((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));

describe("activator: /metrics over a socket, gzip negotiated by Accept-Encoding", () => {
  const models = Array.from({ length: 200 }, (_, i) => `ns/m${i}`);
  const metrics = createMetrics({ forEachModel: (visit) => models.forEach((m, i) => visit(m, i % 3, i % 2)) });
  for (const m of models) metrics.initModel(m);
  let server: http.Server;
  let base: string;

  before(async () => {
    server = createAdminServer({ accepting: true }, {} as ModelRegistry, metrics);
    base = await listen(server);
  });
  after(() => server.close());

  it("answers `Accept-Encoding: gzip` (what Prometheus sends) with a gzip body that is the exposition", async () => {
    const res = await get(`${base}/metrics`, { "accept-encoding": "gzip" });
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-encoding"], "gzip");
    assert.equal(res.headers["content-type"], metrics.registry.contentType);
    assert.match(String(res.headers["vary"]), /accept-encoding/i);
    const text = gunzipSync(res.body).toString("utf8");
    assert.deepEqual(activatorFamilies(text), activatorFamilies(await metrics.registry.metrics()));
    assert.ok(res.body.length * 5 < Buffer.byteLength(text), `gzip: ${res.body.length} bytes on the wire for ${Buffer.byteLength(text)} of text`);
  });

  it("sends a gzip body that curl --compressed (an operator's check) and Python's gzip read whole", async () => {
    // Asynchronously: the server answers from this process.
    const expected = activatorFamilies(await metrics.registry.metrics());
    if (spawnSync("curl", ["--version"]).error) console.log("      curl part skipped: curl is not installed");
    else assert.deepEqual(activatorFamilies(await run("curl", ["-sS", "--compressed", `${base}/metrics`])), expected);
    const script = "import gzip, sys, urllib.request; sys.stdout.write(gzip.decompress(urllib.request.urlopen(urllib.request.Request(sys.argv[1], headers={'Accept-Encoding': 'gzip'})).read()).decode())";
    assert.deepEqual(activatorFamilies(await run("python3", ["-c", script, `${base}/metrics`])), expected);
  });

  it("answers without Accept-Encoding, and with gzip refused, in plain text", async () => {
    for (const headers of [{} as Record<string, string>, { "accept-encoding": "identity" }, { "accept-encoding": "gzip;q=0, deflate" }]) {
      const res = await get(`${base}/metrics`, headers);
      assert.equal(res.status, 200);
      assert.equal(res.headers["content-encoding"], undefined, JSON.stringify(headers));
      assert.deepEqual(activatorFamilies(res.body.toString("utf8")), activatorFamilies(await metrics.registry.metrics()));
    }
  });

  it("answers HEAD with the headers a GET would have and no body", async () => {
    const res = await get(`${base}/metrics`, { "accept-encoding": "gzip" }, "HEAD");
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-encoding"], "gzip");
    assert.equal(res.body.length, 0);
  });

  it("reads Accept-Encoding as RFC 9110 does: listed codings, weights, `*`", () => {
    const cases: Array<[string | undefined, boolean]> = [
      [undefined, false],
      ["", false],
      ["gzip", true],
      ["GZip", true],
      ["identity", false],
      ["deflate, gzip;q=0.5", true],
      ["gzip;q=0", false],
      ["gzip; q=0.0, *", false],
      ["*", true],
      ["*;q=0", false],
      ["br, x-gzip", true],
    ];
    for (const [header, expected] of cases) assert.equal(acceptsGzip(header), expected, `Accept-Encoding: ${header}`);
  });

  it("writes slices of any size and width through its two buffers: the body is the text, byte for byte", async () => {
    const registry = new Registry();
    const counter = new Counter({ name: "t_wide_total", help: "wide", labelNames: ["model"] as const, registers: [registry] });
    for (let i = 0; i < 8000; i++) counter.inc({ model: `ns/modèle-ünïcode-日本-${i}` }, i);
    const expected = Buffer.from(await registry.metrics(), "utf8");
    assert.ok(expected.length > 2 * 192 * 1024, `${expected.length} bytes: more than both buffers`);
    // Slices as /metrics cuts them (60 000 characters: up to 3 bytes each here), then one slice of the whole text (4 × a buffer).
    for (const opts of [{}, { sliceChars: 1e9, sliceMs: 1e9, batchLines: 1e9 }]) {
      const server = http.createServer((_req, res) => void writeExposition(res, exposeSlices(registry, opts), registry.contentType, false));
      const url = await listen(server);
      try {
        const res = await get(url);
        assert.equal(res.body.length, expected.length, JSON.stringify(opts));
        assert.ok(res.body.equals(expected), JSON.stringify(opts));
      } finally {
        server.close();
      }
    }
  });

  it("stops rendering when the scraper leaves mid-body", async () => {
    const registry = new Registry();
    const counter = new Counter({ name: "t_requests_total", help: "h", labelNames: ["model"] as const, registers: [registry] });
    for (let i = 0; i < 20_000; i++) counter.inc({ model: `ns/model-with-a-long-name-${i}` });
    let slices = 0;
    let finished = false;
    async function* counted() {
      try {
        for await (const slice of exposeSlices(registry, { batchLines: 64, sliceMs: 0 })) {
          slices++;
          yield slice;
        }
      } finally {
        finished = true;
      }
    }
    const total = (await renderExposition(registry, { batchLines: 64, sliceMs: 0 })).length;
    const done: Promise<void>[] = [];
    const slow = http.createServer((_req, res) => void done.push(writeExposition(res, counted(), registry.contentType, false)));
    const url = await listen(slow);
    try {
      await new Promise<void>((resolve, reject) => {
        const req = http.get(`${url}/metrics`, { agent: false }, (res) => res.once("data", () => (req.destroy(), resolve())));
        req.on("error", reject);
      });
      await Promise.all(await waitFor(() => done.length === 1, () => done));
      assert.ok(finished, "the render was ended");
      assert.ok(slices < total, `${slices} of ${total} slices rendered`);
    } finally {
      slow.close();
    }
  });
});

/** `command`'s stdout; rejects with its stderr when it fails (.ci/run installs python3; curl is checked where present). */
const run = (command: string, args: string[]) =>
  new Promise<string>((resolve, reject) => execFile(command, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(new Error(`${command}: ${stderr || err.message}`)) : resolve(stdout))));

async function waitFor<T>(ready: () => boolean, value: () => T): Promise<T> {
  for (let i = 0; i < 200 && !ready(); i++) await new Promise((r) => setTimeout(r, 10));
  return value();
}

describe("activator: the series a scrape walks stay in step with prom-client", () => {
  it("renders series added, removed, changed, reset and added again after the index began as prom-client does", async () => {
    const registry = new Registry();
    const registers = [registry];
    const counter = new Counter({ name: "t_total", help: "c", labelNames: ["model"] as const, registers });
    const gauge = new Gauge({ name: "t_gauge", help: "g", registers });
    const histogram = new Histogram({ name: "t_seconds", help: "h", labelNames: ["model"] as const, buckets: [1, 5], registers });
    const text = async () => Buffer.concat(await renderExposition(registry, { batchLines: 3, sliceMs: 0 })).toString("utf8");
    for (let i = 0; i < 10; i++) counter.inc({ model: `m${i}` });
    assert.equal(await text(), await registry.metrics()); // the index begins here, with 10 series
    counter.remove({ model: "m3" });
    counter.inc({ model: "m10" });
    counter.inc({ model: "m3" }, 2); // back, now last, as in prom-client's hashMap
    gauge.set(7);
    histogram.observe({ model: "a" }, 2);
    histogram.observe({ model: "a" }, 9);
    assert.equal(await text(), await registry.metrics());
    // Values changed in place since the last scrape: the text kept for those series is not written again.
    counter.inc({ model: "m0" }, 5);
    histogram.observe({ model: "a" }, 0); // the sum stays 11: the count and the buckets change
    gauge.set(8);
    assert.equal(await text(), await registry.metrics());
    assert.match(await text(), /^t_total\{model="m0"\} 6$/m);
    assert.match(await text(), /^t_seconds_bucket\{le="1",model="a"\} 1$/m);
    counter.reset();
    histogram.reset();
    gauge.reset();
    counter.inc({ model: "after-reset" });
    assert.equal(await text(), await registry.metrics());
    assert.match(await text(), /^t_total\{model="after-reset"\} 1$/m);
    assert.doesNotMatch(await text(), /model="m3"/);
  });

  it("exports held and in-flight per model at scrape time: changed values, new models and models gone", async () => {
    const queue = new Map<string, [number, number]>([
      ["ns/a", [2, 0]],
      ["ns/b", [0, 3]],
    ]);
    const metrics = createMetrics({ forEachModel: (visit) => queue.forEach(([held, inFlight], model) => visit(model, held, inFlight)) });
    const lines = async () => {
      const text = Buffer.concat(await metrics.exposition()).toString("utf8");
      assert.deepEqual(activatorFamilies(text), activatorFamilies(await metrics.registry.metrics()));
      return text.split("\n").filter((l) => /^activator_(held|in_flight)_requests\{/.test(l)).sort();
    };
    assert.deepEqual(await lines(), [
      'activator_held_requests{model="ns/a"} 2',
      'activator_held_requests{model="ns/b"} 0',
      'activator_in_flight_requests{model="ns/a"} 0',
      'activator_in_flight_requests{model="ns/b"} 3',
    ]);
    queue.set("ns/a", [0, 1]);
    queue.delete("ns/b");
    queue.set("ns/c", [5, 0]);
    assert.deepEqual(await lines(), [
      'activator_held_requests{model="ns/a"} 0',
      'activator_held_requests{model="ns/c"} 5',
      'activator_in_flight_requests{model="ns/a"} 1',
      'activator_in_flight_requests{model="ns/c"} 0',
    ]);
    metrics.registry.resetMetrics(); // empties every series: the next scrape sets them again
    assert.deepEqual((await lines()).length, 4);
  });
});
