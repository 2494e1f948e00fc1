/**
 * A peer link over real sockets: the WebSocket client (../../../activator/src/peers/link) against the admin
 * listener's peer endpoint (../../../activator/src/peers/endpoint) with a recording peer table.
 */
import { strict as assert } from "node:assert";
import { createServer, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import pino from "pino";
import WebSocket from "ws";
import { acceptPeerLinks, type PeerEndpoint } from "../../../activator/src/peers/endpoint";
import { webSocketLink, type PeerLink } from "../../../activator/src/peers/link";
import { PEER_PATH, type PeerMessage } from "../../../activator/src/peers/protocol";
import { WebSocketServer } from "ws";
import { sleep } from "../../../testing/activator/http";

const logger = pino({ level: "silent" });
const TOKEN = "peer-link-token-0123456789";

interface Receiver {
  server: Server;
  endpoint: PeerEndpoint;
  address: string;
  received: PeerMessage[];
  /** Every upgraded connection, to pause them. */
  sockets: Duplex[];
  /** What the endpoint reads: whether this replica has peers configured, and the token it requires. */
  state: { accepting: boolean; token: string };
  stop(): Promise<void>;
}

async function receiver(port = 0, idleLinkMs = 60_000): Promise<Receiver> {
  const received: PeerMessage[] = [];
  const sockets: Duplex[] = [];
  const server = createServer((_, res) => res.writeHead(404).end());
  server.prependListener("upgrade", (_req, socket: Duplex) => void sockets.push(socket));
  const state = { accepting: true, token: TOKEN };
  const peers = {
    get accepting() {
      return state.accepting;
    },
    get token() {
      return state.token;
    },
    hello: () => ({ name: "r", incarnation: "r-1" }),
    receive: (m: PeerMessage) => void received.push(m),
    idleLinkMs: () => idleLinkMs,
  };
  const endpoint = acceptPeerLinks(server, peers, logger);
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server,
    endpoint,
    address,
    received,
    sockets,
    state,
    stop: async () => {
      endpoint.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const msg = (seq: number, demand = 1): string =>
  JSON.stringify({ name: "s", incarnation: "s-1", seq, leaving: false, kedaStreams: false, models: { "m/x": { demand, cold: false } } });

async function until(ok: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = performance.now() + ms;
  while (!ok() && performance.now() < end) await sleep(5);
  assert.ok(ok(), what);
}

describe("activator peers: a link over real sockets", () => {
  let r: Receiver | undefined;
  let link: PeerLink | undefined;
  let events: string[];
  const handlers = { onUp: (hello: { name: string }) => void events.push(`up ${hello.name}`), onDown: (reason: string) => void events.push(`down ${reason}`) };
  beforeEach(() => (events = []));
  afterEach(async () => {
    await link?.close();
    link = undefined;
    await r?.stop();
    r = undefined;
  });

  it("connects, hears the receiver's hello, and delivers messages in order", async () => {
    r = await receiver();
    link = webSocketLink(r.address, handlers, { token: () => TOKEN, retryMs: 100, timeoutMs: 1000 });
    assert.equal(link.send(msg(1)), false, "nothing is sent before the link is up");
    await until(() => events.includes("up r"), "the hello");
    for (let i = 1; i <= 100; i++) assert.equal(link.send(msg(i)), true);
    await until(() => r!.received.length === 100, "100 messages");
    assert.deepEqual(r.received.map((m) => m.seq), Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it("is refused without the right token, says why once per attempt, and connects once the token is right", async () => {
    r = await receiver();
    let token = "wrong-token";
    link = webSocketLink(r.address, handlers, { token: () => token, retryMs: 50, timeoutMs: 1000 });
    await until(() => events.length >= 2, "two refused attempts");
    assert.match(events[0]!, /^down .*401/);
    token = TOKEN;
    await until(() => events.includes("up r"), "the next attempt to carry the new token");
  });

  it("closes a link opened under a token that was rotated since, at its next message; the sender reconnects with the new one", async () => {
    r = await receiver();
    let token = TOKEN;
    link = webSocketLink(r.address, handlers, { token: () => token, retryMs: 50, timeoutMs: 1000 });
    await until(() => events.includes("up r"), "up");
    assert.equal(link.send(msg(1)), true);
    await until(() => r!.received.length === 1, "a message under the token it opened with");
    r.state.token = `${TOKEN}-rotated`;
    link.send(msg(2));
    await until(() => events.some((e) => e.startsWith("down")), "the link closed");
    assert.match(events.find((e) => e.startsWith("down"))!, /1008 the peers' token changed/);
    assert.deepEqual(r.received.map((m) => m.seq), [1], "the message sent under the old token is not counted");
    token = `${TOKEN}-rotated`; // the sender's copy of the Secret is updated
    await until(() => events.filter((e) => e === "up r").length === 2, "reconnected with the new token");
    link.send(msg(3));
    await until(() => r!.received.some((m) => m.seq === 3), "and counted again");
  });

  it("retries a peer that is not listening yet, and one that went away, every retryMs", async () => {
    const first = await receiver();
    const port = Number(first.address.split(":")[1]);
    await first.stop();
    link = webSocketLink(first.address, handlers, { token: () => TOKEN, retryMs: 50, timeoutMs: 1000 });
    await until(() => events.some((e) => e.startsWith("down")), "refused while nobody listens");
    r = await receiver(port);
    await until(() => events.includes("up r"), "up once it listens");
    await r.stop();
    r = undefined;
    const downs = events.filter((e) => e.startsWith("down")).length;
    await until(() => events.filter((e) => e.startsWith("down")).length > downs, "the loss reported");
    r = await receiver(port);
    await until(() => events.filter((e) => e === "up r").length === 2, "up again once it is back");
    assert.equal(link.send(msg(7)), true);
    await until(() => r!.received.some((m) => m.seq === 7), "and messages flow again");
  });

  it("sends the last message on close, and never reconnects after", async () => {
    r = await receiver();
    link = webSocketLink(r.address, handlers, { token: () => TOKEN, retryMs: 20, timeoutMs: 1000 });
    await until(() => events.includes("up r"), "up");
    await link.close(msg(9, 0));
    link = undefined;
    await until(() => r!.received.some((m) => m.seq === 9), "the last message");
    await sleep(100);
    assert.deepEqual(events, ["up r"], "no loss reported, no new attempt");
  });

  it("refuses other paths (404) and a wrong token (401) with a JSON error, and closes the socket itself (a client that keeps it open holds nothing)", async () => {
    r = await receiver();
    const [host, port] = r.address.split(":") as [string, string];
    for (const [path, authorization, status, code] of [
      ["/metrics", `Bearer ${TOKEN}`, 404, "not_found"],
      ["/peers/demand", "Bearer wrong-token", 401, "unauthorized"],
      ["/peers/demand", undefined, 401, "unauthorized"],
    ] as const) {
      const before = r.sockets.length;
      // A raw client that never closes its side, as an intruder holding sockets would.
      const client = connect({ host, port: Number(port), allowHalfOpen: true });
      let answer = "";
      client.setEncoding("utf8").on("data", (chunk: string) => (answer += chunk));
      const auth = authorization ? `Authorization: ${authorization}\r\n` : "";
      client.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${auth}\r\n`);
      try {
        await until(() => r!.sockets.length > before && r!.sockets[before]!.destroyed, `the server to close the refused socket (${path}, ${status})`);
        await until(() => answer.includes("}"), "the whole answer");
      } finally {
        client.destroy();
      }
      assert.match(answer, new RegExp(`^HTTP/1.1 ${status} `));
      assert.equal((JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)) as { error: { code: string } }).error.code, code);
    }
    assert.equal(r.received.length, 0);
  });

  it("refuses links (404) while the replica has no peers configured: nobody may add demand to one that is alone", async () => {
    r = await receiver();
    r.state.accepting = false;
    link = webSocketLink(r.address, handlers, { token: () => TOKEN, retryMs: 50, timeoutMs: 1000 });
    await until(() => events.length > 0, "the refusal");
    assert.match(events[0]!, /^down .*404/);
    r.state.accepting = true; // peers configured by a config change
    await until(() => events.includes("up r"), "accepted at the next attempt");
  });

  it("cuts a link upgraded by a server that never says hello (not an activator), and retries", async () => {
    const server = createServer();
    const wss = new WebSocketServer({ noServer: true });
    server.on("upgrade", (req, socket, head) => wss.handleUpgrade(req, socket, head, () => undefined)); // upgrades, then silence
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      link = webSocketLink(address, handlers, { token: () => TOKEN, retryMs: 50, timeoutMs: 200 });
      await until(() => events.filter((e) => e.startsWith("down")).length >= 2, "two attempts cut");
      assert.match(events[0]!, /^down no hello within 200 ms/);
      assert.ok(!events.some((e) => e.startsWith("up")));
    } finally {
      await link?.close();
      link = undefined;
      for (const ws of wss.clients) ws.terminate();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("closes a link its sender left silent (gone without a FIN), and keeps one that keeps sending", async () => {
    r = await receiver(0, 300);
    const silent = new WebSocket(`ws://${r.address}${PEER_PATH}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const silentClosed = new Promise<number>((resolve) => silent.once("close", (code) => resolve(code)));
    const talking = new WebSocket(`ws://${r.address}${PEER_PATH}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    let talkingClosed = false;
    talking.once("close", () => (talkingClosed = true));
    await new Promise((resolve) => talking.once("open", resolve));
    const started = performance.now();
    let seq = 0;
    const every = setInterval(() => talking.send(msg(++seq)), 50);
    try {
      assert.equal(await silentClosed, 1006, "cut, without a closing handshake");
      const after = performance.now() - started;
      assert.ok(after >= 250, `not before the idle bound (closed after ${after.toFixed(0)} ms)`);
      await sleep(400);
      assert.equal(talkingClosed, false, "a link that keeps sending stays open past the bound");
    } finally {
      clearInterval(every);
      talking.terminate();
      silent.terminate();
    }
  });

  it("cuts a peer that stops reading, instead of buffering without bound, and reconnects", async () => {
    r = await receiver();
    link = webSocketLink(r.address, handlers, { token: () => TOKEN, retryMs: 50, timeoutMs: 1000 });
    await until(() => events.includes("up r"), "up");
    for (const socket of r.sockets) socket.pause(); // the receiver stops reading
    const big = msg(1).replace('"m/x"', `"${"m".repeat(150)}/x"`);
    let cut = false;
    for (let i = 0; i < 200_000 && !cut; i++) {
      if (!link.send(big)) cut = true;
      if (i % 1000 === 0) await sleep(0);
    }
    assert.ok(cut, "sending stops succeeding once over the bound");
    await until(() => events.some((e) => e.startsWith("down")), "the cut reported");
    await until(() => events.filter((e) => e === "up r").length === 2, "and a fresh link opened");
  });
});
