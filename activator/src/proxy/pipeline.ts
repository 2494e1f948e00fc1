/**
 * Response order on a client connection (RFC 9112 §9.3.2, pipelining: "A server MUST send its responses to those
 * requests in the same order that the requests were received"). Node's HTTP server keeps that order for the
 * requests it parsed, but a request its parser refuses (`clientError`) is answered outside that queue: writing the
 * 400 at once puts it in the place of a response still pending for an earlier request on the same connection
 * (one the model server may already be working on), and the client reads the wrong answer for that request.
 *
 * So each connection's parsed requests are tracked here until their responses close, and a connection-level error
 * is answered only once the responses owed for requests received before it are done (`afterEarlierResponses`).
 * A request whose body was still arriving when the parser failed is the failed request itself: nothing is waited
 * for on its account (its exchange ends when the connection closes, like any client that left mid-body).
 */
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { ProxyRequest, ProxyResponse } from "../request/exchange";

interface Pending {
  req: ProxyRequest;
  res: ProxyResponse;
}

/** Per client connection: the requests whose responses have not closed yet, oldest first. */
const open = new WeakMap<Duplex, Pending[]>();

/** Records a parsed request on its connection until its response closes (finished, cut, or the client left). */
export function trackResponse(req: ProxyRequest, res: ProxyResponse): void {
  const socket = req.socket as Socket | null;
  if (!socket) return;
  let list = open.get(socket);
  if (!list) open.set(socket, (list = []));
  const entry = { req, res };
  list.push(entry);
  res.once("close", () => {
    const i = list.indexOf(entry);
    if (i >= 0) list.splice(i, 1);
  });
}

/**
 * Calls `then` once every response owed on `socket` for a request fully received before the parser failed has
 * closed, at once when there is none. `then` gets the request that failed mid-body, if one did (the last one, not
 * complete), so the caller can tell whether its response already started. Responses close in order, so waiting
 * for the newest complete one is waiting for all of them.
 */
export function afterEarlierResponses(socket: Duplex, then: (failed: Pending | undefined) => void): void {
  const list = open.get(socket) ?? [];
  const last = list.at(-1);
  const failed = last !== undefined && !last.req.complete ? last : undefined;
  const owed = list.filter((p) => p !== failed);
  const newest = owed.at(-1);
  if (newest === undefined) {
    then(failed);
    return;
  }
  newest.res.once("close", () => then(failed));
}
