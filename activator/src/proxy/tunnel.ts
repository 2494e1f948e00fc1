/**
 * Protocol upgrades (`Upgrade: websocket`: vLLM's realtime API, for one): the request goes through the same chain
 * (auth, routing by host and path, held while the model is cold, counted in flight for KEDA), is forwarded with
 * its Upgrade, and when the backend switches protocols (101) the two connections are joined byte for byte until
 * either side closes. A backend that answers anything else is relayed as a plain response and the connection
 * closed. Other upgrade tokens (`h2c`) are ignored, as RFC 9110 §7.8 lets a server do: the request is served as
 * plain HTTP/1.1 and the connection closed.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Socket } from "node:net";
import type { Dispatcher } from "undici";
import type { Exchange } from "../request/exchange";

/** The upgrade tokens tunnelled to the backend (compared lowercased). */
export const TUNNELLED_PROTOCOLS: ReadonlySet<string> = new Set(["websocket"]);

/** Response headers never relayed on a 101 (hop-by-hop ones other than Connection and Upgrade themselves). */
const DROPPED_101 = new Set(["keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "content-length"]);

/** Joins the client's connection to the backend's after the backend answered 101 Switching Protocols. */
export function tunnel(x: Exchange, status: number, headers: IncomingHttpHeaders, upstream: Socket, _controller: Dispatcher.DispatchController): void {
  const client = x.upgradeSocket!;
  x.tunnelled = true;
  let head = `HTTP/1.1 ${status} Switching Protocols\r\n`;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || DROPPED_101.has(name)) continue;
    for (const v of Array.isArray(value) ? value : [value]) head += `${name}: ${v}\r\n`;
  }
  head += `x-activator-cold-start: ${x.cold ? "true" : "false"}\r\n`;
  if (x.waitMs >= 0) head += `x-activator-wait-ms: ${Math.round(x.waitMs)}\r\n`;
  client.write(`${head}\r\n`);
  if (x.upgradeHead !== null && x.upgradeHead.length > 0) upstream.write(x.upgradeHead);
  x.upgradeHead = null;
  const close = (): void => {
    upstream.destroy();
    client.destroy();
  };
  upstream.on("error", close).on("close", close);
  client.on("error", close).on("close", close);
  upstream.pipe(client);
  client.pipe(upstream);
}
