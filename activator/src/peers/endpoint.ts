/**
 * The receiving end of the peers' links, on the admin listener: `GET /peers/demand` upgraded to a WebSocket.
 *
 * - Refused before the upgrade, with a JSON error: a wrong path (404), no or a wrong shared token (401).
 * - Once open, this replica sends its hello (`PeerAck`), then reads `PeerMessage`s (text, one JSON snapshot each)
 *   and hands each valid one to the peer table. One that is not JSON or not a peer message closes the link with
 *   1008 (policy violation) and the reason; the sender logs it and reconnects.
 * - A link silent for `idleLinkMs()` (read when it opens) is cut: its sender sends at least every heartbeat, so it is
 *   gone, maybe without a FIN (a node that vanished), and this side, which never writes after the hello, would
 *   otherwise keep the socket for good. A sender still alive reconnects.
 */
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { WebSocketServer } from "ws";
import { bearer } from "./link";
import { MAX_PEER_MESSAGE_BYTES, PEER_PATH, peerMessageSchema, type PeerAck, type PeerMessage } from "./protocol";

export interface PeerReceiver {
  /** False while this replica has no `peers` configured: links are refused (404), nobody may add demand to it. */
  readonly accepting: boolean;
  /** Shared secret required of every link; null: none. */
  readonly token: string | null;
  hello(): PeerAck;
  receive(msg: PeerMessage): void;
  /** A link with no message for this long is closed, ms. */
  idleLinkMs(): number;
}

export interface PeerEndpoint {
  /** Closes every open link (peers reconnect elsewhere or see this replica gone). */
  close(): void;
}

function authorized(req: IncomingMessage, token: string | null): boolean {
  if (token === null) return true;
  const given = Buffer.from(req.headers.authorization ?? "");
  const expected = Buffer.from(bearer(token));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Answers an upgrade request with an HTTP error and closes the socket. Destroyed once the answer is written, not left
 * to the client: the HTTP server lets sockets half-open (`allowHalfOpen`) and its timeouts no longer watch a socket
 * handed to `upgrade`, so `end()` alone would keep it as long as the client does (as ws's own `abortHandshake` does,
 * websockets/ws 8.x lib/websocket-server.js).
 */
function refuse(socket: Duplex, status: number, reason: string, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.once("finish", () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** A close reason within the 123 bytes a WebSocket close frame allows (ws throws beyond): ASCII, cut to 120. */
const closeReason = (text: string): string => text.replace(/[^\x20-\x7e]/g, "?").slice(0, 120);

/** Accepts peers' links on `server` (the admin listener). */
export function acceptPeerLinks(server: Server, peers: PeerReceiver, logger: Logger): PeerEndpoint {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PEER_MESSAGE_BYTES, perMessageDeflate: false });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    const path = (req.url ?? "/").split("?")[0];
    if (path !== PEER_PATH || !peers.accepting) {
      const why = path !== PEER_PATH ? `no WebSocket endpoint ${path}; peers connect to ${PEER_PATH}` : "this replica has no peers configured (peers)";
      refuse(socket, 404, "Not Found", "not_found", why);
      return;
    }
    if (!authorized(req, peers.token)) {
      refuse(socket, 401, "Unauthorized", "unauthorized", "peer links need the peers' shared token (peers.tokenFile)");
      return;
    }
    const acceptedUnder = peers.token;
    wss.handleUpgrade(req, socket, head, (ws) => {
      const idleMs = peers.idleLinkMs();
      const idle = setTimeout(() => {
        logger.info({ from: req.socket.remoteAddress, idleMs }, "peer link silent: closed (its sender reconnects if alive)");
        ws.terminate();
      }, idleMs);
      idle.unref();
      ws.on("close", () => clearTimeout(idle));
      ws.on("error", () => ws.terminate());
      ws.on("message", (data, isBinary) => {
        idle.refresh();
        // The shared token was rotated since this link opened: it counts no more (its sender reconnects with the new one).
        if (peers.token !== acceptedUnder) {
          logger.info({ from: req.socket.remoteAddress }, "peer link opened under the previous token: closed");
          ws.close(1008, "the peers' token changed");
          return;
        }
        let parsed: ReturnType<typeof peerMessageSchema.safeParse>;
        try {
          parsed = peerMessageSchema.safeParse(JSON.parse(isBinary ? Buffer.from(data as Buffer).toString("utf8") : String(data)));
        } catch {
          logger.warn({ from: req.socket.remoteAddress }, "peer message is not JSON: link closed");
          ws.close(1008, "not JSON");
          return;
        }
        if (!parsed.success) {
          const why = parsed.error.issues[0]?.message ?? "invalid";
          logger.warn({ from: req.socket.remoteAddress, why }, "not a peer message: link closed");
          ws.close(1008, closeReason(`not a peer message: ${why}`));
          return;
        }
        peers.receive(parsed.data);
      });
      ws.send(JSON.stringify(peers.hello()));
    });
  });
  return {
    close() {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}
