/**
 * Learning the idle time after which a model server closes kept-alive connections, so the pool closes them first.
 *
 * A request written on a kept-alive connection the server is closing at that moment (its FIN crosses our request) may
 * or may not have been read: nothing on the wire tells (a TCP RST says data arrived at a closed socket, not that none
 * was read before), so a non-idempotent request that fails there cannot be sent again (RFC 9110 §9.2.2; RFC 9112
 * §9.3.1: a client "MUST NOT automatically retry a request with a non-idempotent method unless it has some means to
 * know that the request semantics are actually idempotent ... or some means to detect that the original request was
 * never applied"). The race is avoided instead: undici's pool keeps an idle socket `keepAliveTimeout` (config
 * `upstreamKeepAliveSeconds`, or the server's `Keep-Alive: timeout` hint), and a server that closes idle sockets
 * sooner without a hint (a proxy's idle timeout, a uvicorn with --timeout-keep-alive below ours) is caught here: a
 * socket whose peer ends it (FIN) with nothing written since its last response bytes was closed while idle, after
 * `now − last response bytes`. The shortest such time is reported once it shrinks; the owner of the pool replaces it
 * with one that keeps idle sockets IDLE_SHARE of that (./registry.ts).
 *
 * The first idle close of a backend is only learned from, so one race per backend and process remains possible
 * (such a request gets a 502 naming why, not a replay: ../proxy/forward.ts).
 */
import type { Socket } from "node:net";
import type { buildConnector } from "undici";

/** The pool keeps an idle socket this share of the server's learned idle timeout. */
export const IDLE_SHARE = 0.75;
/** Idle closes shorter than this are not learned (a close right after a response is `Connection: close`, not idling). */
const MIN_LEARNED_MS = 20;

/**
 * Wraps an undici connector: every socket it makes is watched, and `onLearned(ms)` is called when a socket is closed by
 * the server while idle sooner than any before (ms: idle time before the close).
 */
export function learnIdleClose(base: buildConnector.connector, onLearned: (idleMs: number) => void, now: () => number = () => performance.now()): buildConnector.connector {
  let learned = Infinity;
  const watch = (socket: Socket): void => {
    let lastDataAt = now();
    let writtenAtData = socket.bytesWritten;
    socket.on("data", () => {
      lastDataAt = now();
      writtenAtData = socket.bytesWritten;
    });
    socket.on("end", () => {
      const idleMs = now() - lastDataAt;
      if (socket.bytesWritten !== writtenAtData || idleMs < MIN_LEARNED_MS || idleMs >= learned) return; // a request was out, or nothing new
      learned = idleMs;
      onLearned(idleMs);
    });
  };
  return (options, callback) =>
    base(options, (err, socket) => {
      if (!err && socket) watch(socket as Socket);
      // undici types the callback as an overload pair: hand back what it gave.
      (callback as (e: Error | null, s: Socket | null) => void)(err, socket as Socket | null);
    });
}
