/**
 * One replica's connection to one peer: a WebSocket (`ws`) to the peer's admin listener, opened once and kept, over
 * which this replica's demand snapshots flow one way. Compared with one HTTP request per message, a message costs
 * one write on each side and no answer, so a cold request reaches the peer in one loopback write, and steady
 * traffic (counts moving, heartbeats) costs little CPU and garbage on every replica.
 *
 * - The peer speaks first: its hello (`PeerAck`: name, incarnation) tells who it is (a replica finds its own address
 *   in a peer list this way) before anything is sent.
 * - Lost or refused (peer gone, wrong token, not listening yet): reported, and retried after 100 ms, then twice as
 *   long after each failure up to `retryMs` (a peer starting a moment later is reached at once, a gone one costs
 *   one attempt per `retryMs`).
 * - A peer that stops reading (its socket buffer full, `bufferedAmount` over `MAX_PEER_MESSAGE_BYTES`) is cut and
 *   reconnected: what it missed is repaired by the next full snapshot.
 */
import WebSocket from "ws";
import { MAX_PEER_MESSAGE_BYTES, PEER_PATH, type PeerAck } from "./protocol";

/** Called asynchronously, never from within the factory call. */
export interface LinkHandlers {
  /** Connected, with the peer's hello. */
  onUp(hello: PeerAck): void;
  /** Could not connect, or lost (reason in words); retried with backoff up to `retryMs`. */
  onDown(reason: string): void;
}

export interface PeerLink {
  /** Sends one message if connected; false if not (nothing queued: the snapshot sent on reconnect repairs it). */
  send(body: string): boolean;
  /** Reconnects now (e.g. the peer went silent while this side looked connected). */
  reset(): void;
  /** Sends `last` if connected, then closes; resolves once closed, or after `timeoutMs`. Never retries after. */
  close(last?: string): Promise<void>;
}

export interface LinkOptions {
  /** Authorization token sent when connecting (read at each attempt: a rotated token is used from the next one). */
  token(): string | null;
  /** Longest delay between attempts after failures, ms (the first retry comes after 100 ms, or this if shorter). */
  retryMs: number;
  /** Opening handshake and closing bound, ms. */
  timeoutMs: number;
}

/** Opens a link to `address` (`host:port` of a peer's admin listener). */
export type LinkFactory = (address: string, handlers: LinkHandlers, opts: LinkOptions) => PeerLink;

/** `Authorization` value for a shared token. */
export const bearer = (token: string) => `Bearer ${token}`;

/** First retry delay after a failure, ms. */
const FIRST_RETRY_MS = 100;

export const webSocketLink: LinkFactory = (address, handlers, opts) => new WebSocketLink(address, handlers, opts);

class WebSocketLink implements PeerLink {
  private socket: WebSocket | null = null;
  /** Failed attempts since the link was last up. */
  private failures = 0;
  private up = false;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly address: string,
    private readonly handlers: LinkHandlers,
    private readonly opts: LinkOptions,
  ) {
    this.connect();
  }

  send(body: string): boolean {
    const socket = this.socket;
    if (!this.up || socket === null || socket.readyState !== WebSocket.OPEN) return false;
    if (socket.bufferedAmount > MAX_PEER_MESSAGE_BYTES) {
      socket.terminate(); // not reading: cut, reconnect, and send a fresh snapshot then
      return false;
    }
    socket.send(body);
    return true;
  }

  reset(): void {
    this.socket?.terminate();
  }

  close(last?: string): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const socket = this.socket;
    if (socket === null || socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const force = setTimeout(() => {
        socket.terminate();
        resolve();
      }, this.opts.timeoutMs);
      socket.once("close", () => {
        clearTimeout(force);
        resolve();
      });
      if (this.up && last !== undefined && socket.readyState === WebSocket.OPEN) socket.send(last);
      if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
      else socket.close(1001, "going away");
    });
  }

  /** Delay before the next attempt, ms: 100, 200, 400 ... up to retryMs. */
  private backoff(): number {
    const delay = Math.min(this.opts.retryMs, FIRST_RETRY_MS * 2 ** Math.min(this.failures, 16));
    this.failures++;
    return delay;
  }

  private connect(): void {
    const token = this.opts.token();
    const socket = new WebSocket(`ws://${this.address}${PEER_PATH}`, {
      headers: token === null ? {} : { authorization: bearer(token) },
      handshakeTimeout: this.opts.timeoutMs,
      perMessageDeflate: false,
      maxPayload: MAX_PEER_MESSAGE_BYTES,
    });
    this.socket = socket;
    let reason = "connection closed";
    // Upgraded but silent: not an activator on that port (or a stuck one). Cut, and retried like any other loss.
    let helloWait: NodeJS.Timeout | undefined;
    socket.on("open", () => {
      helloWait = setTimeout(() => {
        reason = `no hello within ${this.opts.timeoutMs} ms of the upgrade`;
        socket.terminate();
      }, this.opts.timeoutMs);
      helloWait.unref();
    });
    socket.on("message", (data) => {
      if (this.up) return; // the peer sends its hello only
      clearTimeout(helloWait);
      let hello: PeerAck;
      try {
        hello = JSON.parse(String(data)) as PeerAck;
      } catch {
        reason = "peer's hello is not JSON";
        socket.terminate();
        return;
      }
      if (typeof hello?.name !== "string" || typeof hello?.incarnation !== "string") {
        reason = "peer's hello has no name and incarnation";
        socket.terminate();
        return;
      }
      this.up = true;
      this.failures = 0;
      this.handlers.onUp(hello);
    });
    socket.on("error", (err) => {
      reason = err.message;
    });
    socket.on("close", (code, why) => {
      clearTimeout(helloWait);
      if (code !== 1006 && code !== 1005) reason = `closed by the peer (${code}${why.length > 0 ? ` ${String(why)}` : ""})`;
      this.up = false;
      if (this.socket === socket) this.socket = null;
      if (this.closed) return;
      this.handlers.onDown(reason);
      this.retry = setTimeout(() => this.connect(), this.backoff());
      this.retry.unref();
    });
  }
}
