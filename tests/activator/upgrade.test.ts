/**
 * Protocol upgrades through the activator: a WebSocket handshake is tunnelled to the model (held while the model is
 * cold, like any request), frames flow both ways; an upgrade no route takes, or without an API key, is refused
 * explicitly with the usual JSON error; never a silent downgrade to a plain request.
 */
import { strict as assert } from "node:assert";
import { createHash, randomBytes } from "node:crypto";
import net from "node:net";
import { apiKeyDigest } from "../../activator/src/config/apiKeys";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { TestBackend } from "../../testing/activator/backend";
import { config, model } from "../../testing/activator/config";

const KEY = "upgrade-test-key-0123456789abcdef";

/** Opens a raw connection, sends a WebSocket handshake, and collects what comes back. */
function handshake(port: number, path: string, extra = ""): { socket: net.Socket; received: () => string; closed: Promise<void>; key: string } {
  const key = randomBytes(16).toString("base64");
  const socket = net.connect(port, "127.0.0.1", () => {
    socket.write(`GET ${path} HTTP/1.1\r\nHost: models.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`);
  });
  let text = "";
  socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
  socket.on("error", () => undefined);
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  return { socket, received: () => text, closed, key };
}

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const accept = (key: string) => createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");

describe("activator: protocol upgrades (WebSocket)", function () {
  this.timeout(30_000);
  let act: ActivatorProcess;
  let authed: ActivatorProcess;
  let warm: TestBackend;
  let cold: TestBackend;

  before(async () => {
    warm = await TestBackend.create();
    cold = await TestBackend.create();
    await warm.start();
    const models = [model("rt", warm.url, { pathPrefix: "/v1/realtime" }), model("cold", cold.url, { pathPrefix: "/cold" })];
    act = await ActivatorProcess.start(config(models));
    authed = await ActivatorProcess.start(config(models, { auth: { apiKeysFile: "keys/digests" } }), { files: { "keys/digests": `${apiKeyDigest(KEY)}\n` } });
  });
  after(async () => {
    await act.stop();
    await authed.stop();
    await warm.stop();
    await cold.stop();
  });

  it("tunnels the handshake to the model and relays frames both ways, counted in flight until closed", async () => {
    const c = handshake(act.proxyPort, "/v1/realtime?model=rt");
    await until(() => c.received().includes("\r\n\r\n"), "the 101");
    const head = c.received();
    assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(head, new RegExp(`sec-websocket-accept: ${accept(c.key).replace(/[+/=]/g, "\\$&")}`, "i"));
    assert.match(head, /upgrade: websocket/i);
    assert.equal(warm.upgrades, 1);
    assert.equal(warm.lastUpgradeUrl, "/v1/realtime?model=rt");
    const queue = (await (await fetch(`${act.adminUrl}/queue`)).json()) as { inFlight: number };
    assert.equal(queue.inFlight, 1, "an open tunnel counts in flight (keeps the model up)");
    c.socket.write("frame-1");
    await until(() => c.received().endsWith("frame-1"), "the echoed frame");
    c.socket.end();
    await c.closed;
    let metrics = "";
    const counted = /activator_requests_total\{model="test\/rt",status="101"\} 1/;
    for (let i = 0; i < 100 && !counted.test(metrics); i++) metrics = await (await fetch(`${act.adminUrl}/metrics`)).text();
    assert.match(metrics, counted, "counted as 101 once closed");
  });

  it("holds an upgrade for a cold model until it is ready, then tunnels it", async () => {
    const c = handshake(act.proxyPort, "/cold/ws");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(c.received(), "", "nothing answered while the model is cold");
    await cold.start();
    await until(() => c.received().includes("\r\n\r\n"), "the 101 after the cold start", 10_000);
    assert.match(c.received(), /^HTTP\/1\.1 101 /);
    assert.match(c.received(), /x-activator-cold-start: true/);
    c.socket.write("after-cold");
    await until(() => c.received().endsWith("after-cold"), "the echoed frame");
    c.socket.destroy();
  });

  it("refuses explicitly, with the JSON error, an upgrade without a route or without an API key", async () => {
    const unrouted = handshake(act.proxyPort, "/nowhere");
    await unrouted.closed;
    assert.match(unrouted.received(), /^HTTP\/1\.1 404 /);
    assert.match(unrouted.received(), /"code":"no_route"/);
    const anonymous = handshake(authed.proxyPort, "/v1/realtime");
    await anonymous.closed;
    assert.match(anonymous.received(), /^HTTP\/1\.1 401 /);
    assert.match(anonymous.received(), /"code":"unauthorized"/);
    const keyed = handshake(authed.proxyPort, "/v1/realtime", `Authorization: Bearer ${KEY}\r\n`);
    await until(() => keyed.received().includes("\r\n\r\n"), "the 101");
    assert.match(keyed.received(), /^HTTP\/1\.1 101 /);
    keyed.socket.destroy();
  });

  it("serves an upgrade to a protocol it does not tunnel (h2c) as plain HTTP/1.1", async () => {
    const socket = net.connect(act.proxyPort, "127.0.0.1", () =>
      socket.write("GET /v1/realtime/plain HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"),
    );
    let text = "";
    socket.on("data", (d: Buffer) => (text += d.toString()));
    await new Promise<void>((resolve) => socket.on("close", () => resolve()));
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.match(text, /"url":"\/v1\/realtime\/plain"/);
    assert.doesNotMatch(text, /"upgrade"/i, "the model got no Upgrade header");
  });
});
