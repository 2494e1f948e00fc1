/**
 * Closing a client connection in stages (RFC 9112 §9.6, "tear-down"): a server that closes while the client is
 * still sending makes the client's TCP stack receive a reset, and a reset discards the answer not yet read: a
 * client that writes the whole body before reading (Node `http` and `fetch`, Python `http.client`, most SDKs)
 * sees EPIPE / ECONNRESET instead of the 413 or 401 sent first. So: answer, half-close (FIN after the answer),
 * keep reading and discarding what the client still sends, for a bounded time and size, then close.
 *
 * Node's HTTP server ends a `Connection: close` exchange with `socket.destroySoon()` (FIN, then destroy once the
 * FIN is written, not once the client stopped sending): `closeInStages` makes that call close in stages for
 * one socket. Bounds (like nginx's `lingering_time` 30 s / `lingering_timeout` 5 s, plus a byte cap):
 */
import type { Socket } from "node:net";

/** Longest time a closing connection is kept to drain the client's upload. */
export const LINGER_MAX_MS = 30_000;
/** Closed earlier when the client sends nothing for this long. */
export const LINGER_IDLE_MS = 5_000;
/** Bytes discarded at most (beyond them the client is cut off: it is not sending a request body any more). */
export const LINGER_MAX_BYTES = 256 * 1024 * 1024;

const STAGED = Symbol("close in stages");
type StagedSocket = Socket & { [STAGED]?: boolean };

/** From now on, closing `socket` (Node's `destroySoon`) half-closes and drains first. Idempotent. */
export function closeInStages(socket: Socket | null): void {
  const s = socket as StagedSocket | null;
  if (!s || s[STAGED]) return;
  s[STAGED] = true;
  s.destroySoon = lingeringClose;
}

/** How often a lingering connection's progress is checked. */
const LINGER_CHECK_MS = 250;

/**
 * Half-closes now, lets the HTTP parser keep reading and discarding (Node dumps a request body nobody consumed)
 * until the client closes too or a bound is reached, then destroys. No `data` listener is added: on a socket
 * Node's parser consumes natively, one would take the socket away from the parser and stall its reads.
 */
export function lingeringClose(this: Socket): void {
  if (this.destroyed) return;
  if (this.writable) this.end(); // the answer is flushed first, then our FIN
  const socket = this;
  const started = performance.now();
  const startBytes = socket.bytesRead;
  let lastBytes = startBytes;
  let lastProgress = started;
  const check = setInterval(() => {
    const now = performance.now();
    const bytes = socket.bytesRead;
    if (bytes !== lastBytes) {
      lastBytes = bytes;
      lastProgress = now;
    }
    if (now - started > LINGER_MAX_MS || now - lastProgress > LINGER_IDLE_MS || bytes - startBytes > LINGER_MAX_BYTES) done();
  }, LINGER_CHECK_MS);
  check.unref();
  const done = (): void => {
    clearInterval(check);
    socket.destroy();
  };
  socket.once("end", done); // the client closed its side: nothing more to drain
  socket.once("close", () => clearInterval(check));
}
