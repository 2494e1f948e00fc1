/**
 * Routing and forwarding through the real activator process: host/path/OpenAI routing, headers, streaming,
 * client errors (400/404/413), backend failures (reset mid-stream, refused connection retried, timeout),
 * and slow clients.
 */
import { strict as assert } from "node:assert";
import net from "node:net";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { TestBackend } from "../../testing/activator/backend";
import { config, model } from "../../testing/activator/config";
import { eventually, keepAliveAgent, send, sendJson, sendRaw, sseData } from "../../testing/activator/http";
import { KedaClient } from "../../testing/activator/kedaClient";

type Echo = { method: string; url: string; headers: Record<string, string>; body: string; bodyBytes: number; port: number };
type ErrorBody = { error: { code: string; message: string; models?: string[]; model?: string } };

describe("activator: routing and forwarding", function () {
  this.timeout(30_000);
  const agent = keepAliveAgent();
  let act: ActivatorProcess;
  const b: Record<"exact" | "wild" | "deep" | "iris" | "special" | "llm" | "flaky", TestBackend> = {} as never;

  before(async () => {
    for (const name of ["exact", "wild", "deep", "iris", "special", "llm", "flaky"] as const) {
      b[name] = await TestBackend.create();
      if (name !== "flaky") await b[name].start();
    }
    act = await ActivatorProcess.start(
      config(
        [
          model("exact", b.exact.url, { hosts: ["api.example.com"] }),
          model("wild", b.wild.url, { hosts: ["*.example.com"] }),
          model("deep", b.deep.url, { hosts: ["*.eu.example.com"] }),
          model("iris", b.iris.url, { pathPrefix: "/v2/models/iris" }),
          model("special", b.special.url, { hosts: ["api.example.com"], pathPrefix: "/special" }),
          model("llm", b.llm.url, { openaiModels: ["llm-a", "llm-b"], requestTimeoutSeconds: 0.5 }),
          model("flaky", b.flaky.url, { hosts: ["flaky.test"] }),
        ],
        { limits: { maxBodyBytes: 1000, headersTimeoutSeconds: 0.5 } },
      ),
    );
    await b.flaky.start(); // after the activator's first probe failed: it must notice by itself
  });
  after(async () => {
    agent.destroy();
    await act.stop();
    await Promise.all(Object.values(b).map((backend) => backend.stop()));
  });

  const echo = async (path: string, host: string, opts: { method?: string; body?: string; headers?: Record<string, string | string[]> } = {}) => {
    const res = await sendJson<Echo>(`${act.proxyUrl}${path}`, { ...opts, headers: { host, ...opts.headers }, agent });
    assert.equal(res.status, 200, res.body);
    return res;
  };
  const chat = (body: string) => sendJson<ErrorBody>(`${act.proxyUrl}/v1/chat/completions`, { body, headers: { "content-type": "application/json" }, agent });

  it("routes by host (exact beats wildcard, most specific wildcard first) and longest path prefix", async () => {
    const cases: [path: string, host: string, backend: TestBackend][] = [
      ["/anything", "api.example.com", b.exact],
      ["/anything", "API.Example.com:8080", b.exact],
      ["/anything", "foo.example.com", b.wild],
      ["/anything", "a.b.example.com", b.wild],
      ["/anything", "x.eu.example.com", b.deep],
      ["/special", "api.example.com", b.special],
      ["/special/x?q=1", "api.example.com", b.special],
      ["/specialty", "api.example.com", b.exact],
      ["/special", "foo.example.com", b.wild],
      ["/v2/models/iris/infer", "whatever.local", b.iris],
      ["/v2/models/iris", "foo.example.com", b.wild],
    ];
    for (const [path, host, backend] of cases) {
      const res = await echo(path, host);
      assert.equal(res.json.port, backend.port, `${host}${path}`);
      assert.equal(res.json.url, path, "path and query forwarded unchanged");
    }
    const unrouted = await sendJson<ErrorBody>(`${act.proxyUrl}/nope`, { headers: { host: "example.com" }, agent });
    assert.equal(unrouted.status, 404);
    assert.equal(unrouted.json.error.code, "no_route");
    assert.ok(unrouted.json.error.models!.includes("test/iris"));
    // The 404 names the routes that would work: host + path prefix per model, and the OpenAI models.
    const routes = (unrouted.json.error as unknown as { routes: string[] }).routes;
    assert.ok(routes.includes("*/v2/models/iris"), routes.join("; "));
    assert.ok(routes.includes("api.example.com/special"), routes.join("; "));
    assert.ok(routes.some((r) => r.startsWith("POST /v1/chat/completions") && r.includes('"llm-b"')), routes.join("; "));
    assert.match(unrouted.json.error.message, /routes: .*\*\/v2\/models\/iris/);
  });

  it("routes OpenAI requests by the body's model field and forwards the body byte for byte", async () => {
    const body = `{"model": "llm-b",   "messages":[{"role":"user","content":"héllo ✓ \\u00e9"}], "n": 1.50}`;
    const res = await sendJson<Echo>(`${act.proxyUrl}/v1/chat/completions`, { body, headers: { "content-type": "application/json" }, agent });
    assert.equal(res.status, 200);
    assert.equal(res.json.port, b.llm.port);
    assert.equal(res.json.body, body);
    assert.equal(res.json.bodyBytes, Buffer.byteLength(body));
    assert.equal(res.json.headers["content-length"], String(Buffer.byteLength(body)));

    const models = await sendJson<{ object: string; data: { id: string }[] }>(`${act.proxyUrl}/v1/models`, { agent });
    assert.equal(models.status, 200);
    assert.deepEqual(
      models.json.data.map((m) => m.id),
      ["llm-a", "llm-b"],
    );
    const head = await send(`${act.proxyUrl}/v1/models`, { method: "HEAD", agent });
    assert.equal(head.status, 200, "HEAD answers like GET");
    assert.equal(head.headers["content-length"], models.headers["content-length"]);
  });

  it("answers bad JSON 400, a missing model 400 and an unknown model 404 listing the names served", async () => {
    const bad = await chat('{"model": "llm-a",');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, "invalid_json");
    const missing = await chat('{"messages": []}');
    assert.equal(missing.status, 400);
    assert.equal(missing.json.error.code, "missing_model");
    const unknown = await chat('{"model": "gpt-17"}');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error.code, "model_not_found", "the code OpenAI answers and SDKs match on");
    assert.match(unknown.json.error.message, /gpt-17/);
    assert.deepEqual(unknown.json.error.models, ["llm-a", "llm-b"]);
  });

  it("refuses bodies over the limit with 413, declared or streamed", async () => {
    const big = "x".repeat(1001);
    const declared = await sendJson<ErrorBody>(`${act.proxyUrl}/upload`, { body: big, headers: { host: "api.example.com" }, agent });
    assert.equal(declared.status, 413);
    assert.equal(declared.json.error.code, "body_too_large");
    const openai = await chat(JSON.stringify({ model: "llm-a", pad: big }));
    assert.equal(openai.status, 413);
    const streamed = await sendJson<ErrorBody>(`${act.proxyUrl}/upload`, { body: big, chunked: true, headers: { host: "api.example.com" } });
    assert.equal(streamed.status, 413);
    assert.equal(streamed.json.error.code, "body_too_large");
    const fits = await echo("/upload", "api.example.com", { body: "y".repeat(1000) });
    assert.equal(fits.json.bodyBytes, 1000);
    const fitsChunked = await sendJson<Echo>(`${act.proxyUrl}/upload`, { body: "z".repeat(900), chunked: true, headers: { host: "api.example.com" } });
    assert.equal(fitsChunked.json.bodyBytes, 900, "a chunked body under the limit is streamed through");
  });

  it("drops hop-by-hop headers, sets X-Forwarded-*, marks warm responses", async () => {
    const res = await echo("/h", "api.example.com", {
      headers: {
        connection: ["keep-alive, x-private", "X-Other"], // every Connection header counts
        "x-private": "secret",
        "x-other": "secret too",
        "keep-alive": "timeout=5",
        "proxy-authorization": "Basic abc",
        te: "trailers",
        "x-forwarded-for": "10.0.0.1",
        "x-custom": "kept",
      },
    });
    const h = res.json.headers;
    for (const dropped of ["x-private", "x-other", "keep-alive", "proxy-authorization", "te"]) assert.equal(h[dropped], undefined, dropped);
    assert.equal(h["x-custom"], "kept");
    assert.equal(h["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
    assert.equal(h["x-forwarded-proto"], "http");
    assert.equal(h["x-forwarded-host"], "api.example.com");
    assert.equal(res.headers["x-activator-cold-start"], "false");
    assert.equal(res.headers["x-activator-wait-ms"], undefined, "no wait header on the warm path");
  });

  it("relays server-sent events chunk by chunk, each as it is produced", async () => {
    const res = await send(`${act.proxyUrl}/stream/sse`, { headers: { host: "api.example.com", "x-backend-chunks": "5", "x-backend-interval": "100" }, agent });
    assert.equal(res.status, 200);
    const events = sseData(res.body);
    assert.equal(events.length, 6);
    assert.equal(events.at(-1), "[DONE]");
    const delays: number[] = [];
    for (const chunk of res.chunks) {
      for (const data of sseData(chunk.data)) {
        if (data === "[DONE]") continue;
        delays.push(performance.timeOrigin + chunk.at - (JSON.parse(data) as { t: number }).t);
      }
    }
    assert.equal(delays.length, 5, "every event arrived in its own chunk");
    assert.ok(res.chunks[0]!.at < res.chunks.at(-1)!.at - 300, "the first event arrived well before the stream ended");
    assert.ok(Math.max(...delays) < 50, `each event relayed at once (delays ${delays.map((d) => d.toFixed(1)).join(", ")} ms)`);
    console.log(`      SSE relay delay per event (backend write → client receipt): max ${Math.max(...delays).toFixed(2)} ms`);
  });

  it("cuts the client response when the backend resets mid-stream, and logs it", async () => {
    const sse = await send(`${act.proxyUrl}/stream/sse`, { headers: { host: "api.example.com", "x-backend-crash": "2", "x-backend-interval": "20" }, agent });
    assert.equal(sse.status, 200);
    assert.ok(sse.error, "the client sees an aborted response, not a clean end");
    assert.equal(sseData(sse.body).length, 2, "the events sent before the crash were delivered");
    const json = await send(`${act.proxyUrl}/crash`, { headers: { host: "api.example.com", "x-backend-crash": "1" }, agent });
    assert.ok(json.error, "a JSON body cut short is not ended cleanly");
    await act.waitForLog((l) => l.msg === "backend failed mid-response; client response cut" && l["model"] === "test/exact");
    const after = await echo("/after", "api.example.com");
    assert.equal(after.status, 200, "the next request is served");
  });

  it("answers 502 when the backend resets before any byte, and 504 past the model's request timeout", async () => {
    const reset = await sendJson<ErrorBody>(`${act.proxyUrl}/crash`, { headers: { host: "api.example.com", "x-backend-crash": "0" }, agent });
    assert.equal(reset.status, 502);
    assert.equal(reset.json.error.code, "upstream_unavailable");
    const slow = await sendJson<ErrorBody>(`${act.proxyUrl}/v1/completions`, {
      body: '{"model":"llm-a"}',
      headers: { "content-type": "application/json", "x-backend-delay": "1500" },
      agent,
    });
    assert.equal(slow.status, 504);
    assert.equal(slow.json.error.code, "request_timeout");
    assert.match(slow.json.error.message, /test\/llm did not answer within 0\.5s/);
  });

  it("holds again, like a cold request, a request whose replica went away (connection refused)", async () => {
    await send(`${act.proxyUrl}/warm`, { headers: { host: "flaky.test" }, agent });
    await b.flaky.stop(); // readiness still says ready: its next probe is up to a second away
    const keda = new KedaClient(act.scalerAddress);
    const stream = keda.streamIsActive("test/flaky");
    stream.onEvent((e) => {
      if (e.result && !b.flaky.listening) void b.flaky.startAfter(50);
    });
    try {
      const body = '{"prompt": "again"}';
      const res = await sendJson<Echo>(`${act.proxyUrl}/retry`, { body, headers: { host: "flaky.test" }, agent });
      assert.equal(res.status, 200, res.body);
      assert.equal(res.json.body, body, "the body was sent again, intact");
      assert.equal(res.headers["x-activator-cold-start"], "true", "the retry waited for a ready replica");
      assert.ok(
        act.logs.some((l) => l["model"] === "test/flaky" && l["observed"] === "backend not reachable (ECONNREFUSED)"),
        "the refused connection marked the model unready (rather than a probe noticing first)",
      );
    } finally {
      stream.cancel();
      keda.close();
    }
  });

  it("drops clients that are too slow to send their headers", async () => {
    const socket = net.connect(act.proxyPort, "127.0.0.1");
    socket.write("GET /slow HTTP/1.1\r\nHost: api.example.com\r\n");
    let received = "";
    socket.on("data", (d: Buffer) => (received += d.toString()));
    const started = performance.now();
    await new Promise<void>((resolve) => socket.on("close", () => resolve()));
    const closedAfter = performance.now() - started;
    assert.match(received, /^HTTP\/1\.1 408/);
    assert.match(received, /\r\n\r\n\{"error":\{"message":"[^"]+","type":"invalid_request_error","param":null,"code":"client_timeout"/);
    assert.ok(closedAfter >= 400 && closedAfter < 3000, `closed after ${closedAfter.toFixed(0)} ms`);
  });

  it("answers malformed requests with a JSON error and the right status, and keeps serving", async () => {
    const cases: [what: string, request: string, status: number, code: string][] = [
      ["garbage", "\x00\x01garbage\r\n\r\n", 400, "malformed_request"],
      ["a control character in Host", "GET / HTTP/1.1\r\nHost: a\x01b\r\n\r\n", 400, "malformed_request"],
      ["a bad Content-Length", "POST / HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 1x\r\n\r\n", 400, "malformed_request"],
      ["Content-Length with chunked", "POST / HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "malformed_request"],
      ["headers over Node's limit", `GET / HTTP/1.1\r\nHost: api.example.com\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`, 431, "headers_too_large"],
      ["two Host headers", "GET / HTTP/1.1\r\nHost: api.example.com\r\nHost: flaky.test\r\nConnection: close\r\n\r\n", 400, "invalid_request"],
      ["no Host in HTTP/1.1", "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 400, "invalid_request"],
      ["an asterisk target", "OPTIONS * HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n", 400, "invalid_request"],
    ];
    const warnings = () => act.logs.filter((l) => l.level >= 40).length;
    const warningsBefore = warnings();
    for (const [what, request, status, code] of cases) {
      const { received, closedByServer } = await sendRaw(act.proxyPort, request);
      assert.match(received, new RegExp(`^HTTP/1\\.1 ${status} `), what);
      assert.match(received, /\r\ncontent-type: application\/json\r\n/i, what);
      const body = JSON.parse(received.slice(received.indexOf("\r\n\r\n") + 4)) as ErrorBody;
      assert.equal(body.error.code, code, what);
      assert.ok(closedByServer, `${what}: connection closed`);
    }
    assert.equal((await echo("/after", "api.example.com")).status, 200, "still serving");
    assert.equal(warnings(), warningsBefore, "client mistakes are not logged as warnings");
  });

  it("forgets clients that leave mid-body, and honours Expect: 100-continue", async () => {
    const partial = [
      'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"model":"llm-a"',
      "POST /upload HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 500\r\n\r\nhalf a body",
      "POST /upload HTTP/1.1\r\nHost: api.example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    ];
    for (const request of partial) await sendRaw(act.proxyPort, request, { closeAfterMs: 50 });
    await eventually(async () => {
      const queue = (await sendJson<{ held: number; inFlight: number }>(`${act.adminUrl}/queue`)).json;
      return queue.held === 0 && queue.inFlight === 0;
    }, "nothing counted for the clients that left", 1000);

    const body = '{"model":"llm-b","x":1}';
    const { received } = await sendRaw(
      act.proxyPort,
      `POST /v1/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    assert.match(received, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    const echoed = JSON.parse(received.slice(received.lastIndexOf("\r\n\r\n") + 4)) as Echo;
    assert.equal(echoed.body, body);
    assert.equal(echoed.headers["expect"], undefined, "Expect is the activator's business, not the backend's");
  });

  it("routes an absolute-form request target by its authority and forwards it in origin-form", async () => {
    const { received } = await sendRaw(act.proxyPort, "GET http://API.example.com:80/special/x?q=1 HTTP/1.1\r\nHost: ignored.test\r\nConnection: close\r\n\r\n");
    assert.match(received, /^HTTP\/1\.1 200 /);
    const echoed = JSON.parse(received.slice(received.indexOf("\r\n\r\n") + 4)) as Echo;
    assert.equal(echoed.port, b.special.port, "routed by the target's host and path, not the Host header");
    assert.equal(echoed.url, "/special/x?q=1");
    assert.equal(echoed.headers["x-forwarded-host"], "API.example.com:80");
  });
});
