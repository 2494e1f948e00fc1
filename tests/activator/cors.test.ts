/**
 * Browser apps through the real activator process (issue 21, field case 21): preflights answered before
 * authentication and routing, CORS headers on every answer (the activator's errors included), the model server's own
 * `Access-Control-*` replaced by ours, the key still required on the real request, and `allowedOrigins: []` off.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { config, model } from "../../testing/activator/config";
import { sendRaw, send } from "../../testing/activator/http";

const ORIGIN = "https://chat.example.org";
const KEY = "sk-test-cors-0123456789";
const files = { "keys/digests": `${createHash("sha256").update(KEY).digest("hex")}\n` };

describe("activator: CORS for browser apps", function () {
  this.timeout(30_000);
  let backend: http.Server;
  let backendUrl: string;
  const seen: string[] = [];
  let act: ActivatorProcess | undefined;

  before(async () => {
    // A model server that answers CORS itself, as vLLM does (`access-control-allow-origin: *`).
    backend = http.createServer((req, res) => {
      if (req.url !== "/health") seen.push(`${req.method} ${req.url}`);
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json", "access-control-allow-origin": "*", "access-control-allow-credentials": "true" });
        res.end('{"ok":true}');
      });
    });
    await new Promise<void>((resolve) => backend.listen(0, "127.0.0.1", resolve));
    backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await act?.stop();
    act = undefined;
    seen.length = 0;
  });
  after(() => new Promise<void>((resolve) => backend.close(() => resolve())));

  const start = (cors: Record<string, unknown>) =>
    ActivatorProcess.start(config([model("llm", backendUrl, { openaiModels: ["llm"] })], { auth: { apiKeysFile: "keys/digests" }, cors }), { files });
  const preflight = (port: number, origin: string) =>
    sendRaw(
      port,
      `OPTIONS /v1/chat/completions HTTP/1.1\r\nHost: gw.example.com\r\nOrigin: ${origin}\r\nAccess-Control-Request-Method: POST\r\n` +
        `Access-Control-Request-Headers: authorization, content-type\r\nConnection: close\r\n\r\n`,
    );
  const head = (raw: string) => raw.split("\r\n\r\n")[0]!;
  const values = (raw: string, name: string) => [...head(raw).matchAll(new RegExp(`^${name}: *(.*)$`, "gim"))].map((m) => m[1]!.trim());

  it("answers a preflight without a key or a model, 204, for an allowed origin only", async () => {
    act = await start({ allowedOrigins: [ORIGIN], maxAgeSeconds: 120 });
    const ok = (await preflight(act.proxyPort, ORIGIN)).received;
    assert.match(ok, /^HTTP\/1\.1 204 /);
    assert.deepEqual(values(ok, "access-control-allow-origin"), [ORIGIN]);
    assert.deepEqual(values(ok, "access-control-allow-headers"), ["authorization, content-type"]);
    assert.match(values(ok, "access-control-allow-methods")[0] ?? "", /\bPOST\b/);
    assert.deepEqual(values(ok, "access-control-max-age"), ["120"]);
    assert.deepEqual(values(ok, "vary"), ["Origin"]);
    const other = (await preflight(act.proxyPort, "https://evil.example.net")).received;
    assert.match(other, /^HTTP\/1\.1 204 /);
    assert.deepEqual(values(other, "access-control-allow-origin"), [], "an origin not listed is not allowed");
    assert.deepEqual(seen, [], "the model server saw no preflight");
  });

  it("still requires the key on the real request, and puts our CORS headers on the 401 and in place of the model server's", async () => {
    act = await start({ allowedOrigins: [ORIGIN] });
    const body = JSON.stringify({ model: "llm", messages: [] });
    const anonymous = await send(`${act.proxyUrl}/v1/chat/completions`, { body, headers: { "content-type": "application/json", origin: ORIGIN } });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers["access-control-allow-origin"], ORIGIN, "a browser script can read why it failed");
    assert.match(String(anonymous.headers["access-control-expose-headers"]), /x-should-retry/);
    const real = await send(`${act.proxyUrl}/v1/chat/completions`, { body, headers: { "content-type": "application/json", origin: ORIGIN, authorization: `Bearer ${KEY}` } });
    assert.equal(real.status, 200);
    assert.equal(real.headers["access-control-allow-origin"], ORIGIN, "one value, ours: not the model server's `*` as well");
    assert.equal(real.headers["access-control-allow-credentials"], undefined, "the model server's CORS headers are dropped");
    assert.deepEqual(seen, ["POST /v1/chat/completions"]);
  });

  it("is off with allowedOrigins []: a preflight meets authentication like any request, the model's headers pass", async () => {
    act = await start({ allowedOrigins: [] });
    const res = (await preflight(act.proxyPort, ORIGIN)).received;
    assert.match(res, /^HTTP\/1\.1 401 /);
    assert.deepEqual(values(res, "access-control-allow-origin"), []);
    const real = await send(`${act.proxyUrl}/v1/chat/completions`, { body: '{"model":"llm"}', headers: { origin: ORIGIN, authorization: `Bearer ${KEY}` } });
    assert.equal(real.headers["access-control-allow-origin"], "*");
  });
});
