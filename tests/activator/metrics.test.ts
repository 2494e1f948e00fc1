/**
 * Cold starts and queues as metrics, scraped from the real activator's admin `/metrics` over real sockets: the
 * cold-start duration histogram by outcome (served, timeout, failed with its cause, client_gone), the held,
 * rejected and warm counters, the held / in-flight gauges per model, and Prometheus' naming conventions.
 */
import { strict as assert } from "node:assert";
import type { ClientRequest } from "node:http";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { TestBackend } from "../../testing/activator/backend";
import { config, model } from "../../testing/activator/config";
import { eventually, keepAliveAgent, send, sendJson } from "../../testing/activator/http";
import { KedaClient } from "../../testing/activator/kedaClient";

/** One sample's value from the text exposition, by exact name and label set (label order as prom-client writes it). */
function sample(body: string, name: string, labels: Record<string, string>): number | undefined {
  const set = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(",");
  for (const line of body.split("\n")) {
    const prefix = set ? `${name}{${set}} ` : `${name} `;
    if (line.startsWith(prefix)) return Number(line.slice(prefix.length));
  }
  return undefined;
}

describe("activator: metrics", function () {
  this.timeout(30_000);
  const agent = keepAliveAgent();
  let act: ActivatorProcess;
  let down: TestBackend; // never started: its models stay cold
  let late: TestBackend; // started while requests are held
  let warm: TestBackend;
  const models = () => [
    model("warm", warm.url),
    model("late", late.url, { coldStartTimeoutSeconds: 20 }),
    model("never", down.url, { coldStartTimeoutSeconds: 0.4 }),
    model("gone", down.url, { coldStartTimeoutSeconds: 20 }),
    model("removed", down.url, { coldStartTimeoutSeconds: 20 }),
    model("capped", warm.url, { maxConcurrencyPerReplica: 1 }),
  ];

  before(async () => {
    down = await TestBackend.create();
    late = await TestBackend.create();
    warm = await TestBackend.create();
    await warm.start();
    act = await ActivatorProcess.start(config(models()));
  });
  after(async () => {
    agent.destroy();
    await act.stop();
    await Promise.all([warm.stop(), late.stop()]);
  });

  const get = (name: string, extra: { headers?: Record<string, string>; onRequest?: (req: ClientRequest) => void } = {}) =>
    send(`${act.proxyUrl}/predict`, { headers: { host: `${name}.test`, ...extra.headers }, agent, ...(extra.onRequest ? { onRequest: extra.onRequest } : {}) });
  const scrape = async () => (await send(`${act.adminUrl}/metrics`)).body;
  /** Cold starts of `test/<m>` with this outcome; every known outcome is exported from the start (undefined fails). */
  const coldStarts = (body: string, m: string, outcome: string, cause = "") => sample(body, "activator_cold_starts_total", { model: `test/${m}`, outcome, cause });
  /** Served cold starts of `test/<m>` in the duration histogram (count, seconds); exported as 0 from the start. */
  const served = (body: string, m: string) => ({
    count: sample(body, "activator_cold_start_duration_seconds_count", { model: `test/${m}` }),
    seconds: sample(body, "activator_cold_start_duration_seconds_sum", { model: `test/${m}` }),
  });

  it("counts a request forwarded at once as served warm, never as held or as a cold start", async () => {
    await eventually(async () => (await sendJson<{ models: Record<string, { ready: boolean }> }>(`${act.adminUrl}/queue`)).json.models["test/warm"]!.ready, "readiness to see the warm backend");
    for (let i = 0; i < 3; i++) assert.equal((await get("warm")).status, 200);
    const body = await scrape();
    assert.equal(sample(body, "activator_requests_served_warm_total", { model: "test/warm" }), 3);
    assert.equal(sample(body, "activator_requests_held_total", { model: "test/warm", reason: "no_ready_replica" }), 0);
    for (const outcome of ["served", "timeout", "client_gone"]) assert.equal(coldStarts(body, "warm", outcome), 0, `exported as 0: ${outcome}`);
    assert.equal(coldStarts(body, "warm", "failed", "model_removed"), 0);
    assert.deepEqual(served(body, "warm"), { count: 0, seconds: 0 }, "the served duration histogram exported as 0");
  });

  it("exports activator_rejections_total as 0 before any rejection: per model for every reason the README lists but the 3 answered before a model is known, those once with model \"\"", async () => {
    const body = await scrape();
    for (const reason of ["unauthorized", "no_route", "unknown_model"]) {
      assert.equal(sample(body, "activator_rejections_total", { model: "", reason }), 0, `no model, ${reason}`);
      assert.equal(sample(body, "activator_rejections_total", { model: "test/warm", reason }), undefined, `${reason}: never with a model`);
    }
    // The reasons as activator/README.md's metrics table lists them, less those three.
    const reasons = ["bad_request", "client_timeout", "body_too_large", "unsupported_content_encoding", "body_buffer_full", "model_queue_full", "global_queue_full", "cold_start_timeout", "request_timeout", "upstream_unavailable", "model_removed", "shutting_down", "model_cannot_start"];
    for (const m of ["warm", "capped", "gone"]) {
      for (const reason of reasons) assert.equal(sample(body, "activator_rejections_total", { model: `test/${m}`, reason }), 0, `test/${m} ${reason}: ${body.split("\n").filter((l) => l.startsWith("activator_rejections_total")).join("; ")}`);
    }
  });

  it("exports when KEDA last called about each model: 0 until it does, then the time of its IsActive", async () => {
    const lastCall = async (m: string) => sample(await scrape(), "activator_keda_last_call_timestamp_seconds", { model: `test/${m}` });
    assert.equal(await lastCall("gone"), 0, "exported as 0 before any call");
    const keda = new KedaClient(act.scalerAddress);
    try {
      const before = Date.now() / 1000;
      await keda.isActive("test/gone");
      const at = (await lastCall("gone"))!;
      assert.ok(at >= before - 1 && at <= Date.now() / 1000 + 1, `last call ${at} is the time of the IsActive (${before})`);
      assert.equal(await lastCall("capped"), 0, "another model KEDA did not ask about stays at 0");
    } finally {
      keda.close();
    }
  });

  it("records a served cold start once, with its duration, while the held and in-flight gauges show the queue", async () => {
    const held = [get("late"), get("late", { headers: { "x-backend-delay": "600" } })];
    await eventually(async () => sample(await scrape(), "activator_held_requests", { model: "test/late" }) === 2, "2 requests held");
    let body = await scrape();
    assert.equal(sample(body, "activator_requests_held_total", { model: "test/late", reason: "no_ready_replica" }), 2);
    assert.equal(coldStarts(body, "late", "served"), 0, "not recorded before it ends");

    const startedAt = performance.now();
    await late.start();
    // The slow request is in flight at the backend for 600 ms: the gauges move from held to in flight.
    await eventually(async () => {
      const b = await scrape();
      return sample(b, "activator_held_requests", { model: "test/late" }) === 0 && sample(b, "activator_in_flight_requests", { model: "test/late" }) === 1;
    }, "held 0 and in flight 1");
    for (const res of await Promise.all(held)) assert.equal(res.status, 200);
    const readyWithin = (performance.now() - startedAt) / 1000;

    body = await scrape();
    assert.equal(coldStarts(body, "late", "served"), 1, "one cold start for two held requests");
    const { count, seconds } = served(body, "late");
    assert.equal(count, 1, "its duration observed once");
    assert.ok(seconds! > 0 && seconds! < readyWithin + 5, `duration ${seconds}s is the hold, not a constant`);
    assert.equal(sample(body, "activator_cold_start_duration_seconds_bucket", { le: "+Inf", model: "test/late" }), 1);
    assert.equal(sample(body, "activator_in_flight_requests", { model: "test/late" }), 0);
    assert.equal(sample(body, "activator_requests_served_warm_total", { model: "test/late" }), 0);
    for (const [outcome, cause] of [["timeout", ""], ["client_gone", ""], ["failed", "model_removed"]] as const) assert.equal(coldStarts(body, "late", outcome, cause), 0, outcome);
  });

  it("records a cold start that timed out as outcome timeout, beside the cold_start_timeout rejections", async () => {
    const results = await Promise.all([get("never"), get("never")]);
    for (const res of results) assert.equal(res.status, 504);
    const body = await scrape();
    assert.equal(coldStarts(body, "never", "timeout"), 1);
    assert.equal(coldStarts(body, "never", "served"), 0);
    assert.deepEqual(served(body, "never"), { count: 0, seconds: 0 }, "a timeout is no served duration");
    assert.doesNotMatch(body, /^activator_cold_start_duration_seconds_\w+\{[^}]*outcome=/m, "the duration histogram has no outcome series");
    assert.equal(sample(body, "activator_rejections_total", { model: "test/never", reason: "cold_start_timeout" }), 2);
    assert.equal(sample(body, "activator_requests_held_total", { model: "test/never", reason: "no_ready_replica" }), 2);
  });

  it("records a cold start every client left as outcome client_gone", async () => {
    let request: ClientRequest | undefined;
    const pending = get("gone", { onRequest: (req) => (request = req) }).catch((err: Error) => err);
    await eventually(async () => sample(await scrape(), "activator_held_requests", { model: "test/gone" }) === 1, "the request to be held");
    request!.destroy();
    assert.ok((await pending) instanceof Error);
    await eventually(async () => coldStarts(await scrape(), "gone", "client_gone") === 1, "a client_gone cold start");
    const body = await scrape();
    assert.equal(coldStarts(body, "gone", "timeout"), 0);
    assert.equal(sample(body, "activator_requests_total", { model: "test/gone", status: "499" }), 1);
  });

  it("records a cold start cut by the model's removal as outcome failed with cause model_removed", async () => {
    const pending = get("removed");
    await eventually(async () => sample(await scrape(), "activator_held_requests", { model: "test/removed" }) === 1, "the request to be held");
    act.writeConfig(config(models().filter((m) => m.name !== "removed")));
    assert.equal((await pending).status, 503);
    const body = await scrape();
    assert.equal(coldStarts(body, "removed", "failed", "model_removed"), 1);
    assert.equal(coldStarts(body, "removed", "client_gone"), 0);
    assert.equal(sample(body, "activator_rejections_total", { model: "test/removed", reason: "model_removed" }), 1);
    act.writeConfig(config(models()));
    await eventually(async () => sample(await scrape(), "activator_held_requests", { model: "test/removed" }) === 0, "the model back");
    assert.equal(coldStarts(await scrape(), "removed", "failed", "model_removed"), 1, "a model added again keeps its counts");
  });

  it("counts requests held for a concurrency slot under reason concurrency_limit, not as cold starts", async () => {
    const results = await Promise.all([get("capped", { headers: { "x-backend-delay": "300" } }), get("capped", { headers: { "x-backend-delay": "300" } })]);
    for (const res of results) assert.equal(res.status, 200);
    const body = await scrape();
    assert.equal(sample(body, "activator_requests_held_total", { model: "test/capped", reason: "concurrency_limit" }), 1);
    assert.equal(sample(body, "activator_requests_served_warm_total", { model: "test/capped" }), 1);
    for (const outcome of ["served", "timeout", "client_gone"]) assert.equal(coldStarts(body, "capped", outcome), 0, outcome);
  });

  it("names every activator metric by Prometheus conventions: _total counters, base units, documented", async () => {
    const body = await scrape();
    const families = [...body.matchAll(/^# TYPE (activator_\w+) (\w+)$/gm)].map((m) => ({ name: m[1]!, type: m[2]! }));
    assert.ok(families.length >= 12, `${families.length} activator metric families`);
    for (const { name, type } of families) {
      if (type === "counter") assert.match(name, /_total$/, `counter ${name}`);
      else assert.doesNotMatch(name, /_total$/, `${type} ${name} is not a counter`);
      if (type === "histogram") assert.match(name, /_seconds$/, `histogram ${name} in seconds`);
      assert.doesNotMatch(name, /_(ms|milliseconds|minutes)$/, `${name}: base units`);
      assert.match(body, new RegExp(`^# HELP ${name} \\S`, "m"), `${name} has help`);
    }
    const readme = (await import("node:fs")).readFileSync(require.resolve("../../activator/README.md"), "utf8");
    for (const { name } of families) assert.ok(readme.includes(`\`${name}\``), `${name} is documented in activator/README.md`);
  });
});
