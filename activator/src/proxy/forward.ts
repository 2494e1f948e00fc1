/**
 * Chain step 4, forwarding: the request goes to the model's undici pool (created once per backend, keep-alive),
 * bodies streamed both ways with backpressure, each response chunk written as it arrives (server-sent events
 * included). One small dispatch handler (`Attempt`) per try; its callbacks do not allocate per chunk.
 *
 * A request no model server received never fails at once:
 * - the connection could not be made (refused, timed out, unreachable): the replica is gone or not reachable yet,
 *   so the request is held again like a cold one, within its cold-start budget (`holding/admit.ts`, `holdAgain`);
 * - a connection that failed after the request was written (reset, closed before any response byte) proves nothing:
 *   a server closing an idle keep-alive socket as we reused it read nothing, but a model server that read the request,
 *   worked on it and crashed looks the same (a RST says data reached a closed socket, not that none was read). undici
 *   itself re-sends only requests it had not written yet (client-h1 `onHttpSocketClose` fails the running request and
 *   re-queues the pending ones). So only an idempotent method (RFC 9110 §9.2.2: GET, HEAD, OPTIONS, TRACE, PUT,
 *   DELETE; RFC 9112 §9.3.1 defers to it) whose body can be sent again is sent again, once, on a fresh connection.
 *   Any other request gets 502 `upstream_connection_lost` with `x-should-retry: false` (the OpenAI SDKs would
 *   otherwise send it twice more). The stale keep-alive race is avoided rather than retried: ../holding/idleClose.
 * An upgrade the backend accepts (101) becomes a tunnel (`tunnel.ts`).
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Socket } from "node:net";
import { Readable } from "node:stream";
import { Client, type Dispatcher } from "undici";
import { holdAgain } from "../holding/admit";
import type { ModelState } from "../holding/modelState";
import { grantContinue, Phase, releaseBuffered, type Exchange, type ProxyResponse } from "../request/exchange";
import { reject } from "../request/respond";
import { corsGoverned, withoutUpstreamCors } from "./cors";
import { clientResponseHeaders } from "./headers";
import { tunnel } from "./tunnel";

type ForwardExchange = Exchange<ModelState>;

/** Thrown into the upstream body stream when a chunked request body exceeds the limit. */
class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body exceeds ${limit} bytes (limits.maxBodyBytes raises it)`);
  }
}

/** Connection errors that mean no request was written: the connection itself failed. */
const CONNECT_FAILED = new Set(["ECONNREFUSED", "UND_ERR_CONNECT_TIMEOUT", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
/** Errors of an established connection that closed before answering (the stale keep-alive race among them). */
const CLOSED_EARLY = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED"]);
/** Idempotent methods (RFC 9110 §9.2.2): sending one twice has the effect of sending it once. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

export function forward(x: ForwardExchange): void {
  const model = x.model!;
  dispatch(x, model.chooseReplica(x)?.pool ?? model.pool);
}

function dispatch(x: ForwardExchange, dispatcher: Dispatcher): void {
  const model = x.model!;
  grantContinue(x); // the body is about to be read: a client waiting on `Expect: 100-continue` may send it now
  x.forwardedAt = performance.now();
  dispatcher.dispatch(
    {
      path: x.req.url!,
      method: x.req.method!,
      headers: x.upstreamHeaders,
      body: upstreamBody(x),
      headersTimeout: model.requestTimeoutMs,
      bodyTimeout: model.requestTimeoutMs,
      upgrade: x.upgrade === "" ? null : x.upgrade,
    },
    new Attempt(x),
  );
}

function upstreamBody(x: ForwardExchange): Dispatcher.DispatchOptions["body"] {
  if (x.body) return x.body;
  releaseBuffered(x); // what was read ahead of an unread body now streams to the backend, with backpressure
  if (x.upgrade !== "") return null;
  if (x.chunked) return Readable.from(limitedBody(x.req, x.ctx.limits.maxBodyBytes), { objectMode: false });
  return x.contentLength > 0 ? x.req : null;
}

/** A chunked body (length unknown up front) is counted as it streams; past the limit the upload fails with 413. */
async function* limitedBody(body: AsyncIterable<Buffer>, limit: number): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > limit) throw new BodyTooLargeError(limit);
    yield chunk;
  }
}

/** One try at the backend: the undici dispatch handler. Stale once superseded (a retry) or once the client left. */
class Attempt implements Dispatcher.DispatchHandler {
  /** The backend sent a response head: from here on nothing is retried. */
  responded = false;

  constructor(readonly x: ForwardExchange) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.x.controller = controller;
    if (this.x.phase !== Phase.InFlight) controller.abort(new Error("client left"));
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders, socket: Socket): void {
    this.responded = true;
    if (this.x.phase !== Phase.InFlight) {
      socket.destroy();
      return;
    }
    tunnel(this.x, status, headers, socket, controller);
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>): void {
    if (status < 200) return;
    this.responded = true;
    const x = this.x;
    // No retry past this point: a buffered body is no longer needed once the backend answers.
    releaseBuffered(x);
    x.body = null;
    if (x.phase !== Phase.InFlight || x.res.headersSent) return;
    x.model!.proxyLatency.observe((performance.now() - x.forwardedAt) / 1000);
    if (x.cold) x.model!.timeline.firstByte();
    x.res.writeHead(status, clientResponseHeaders(x, corsGoverned(x.res) ? withoutUpstreamCors(headers) : headers));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const x = this.x;
    if (x.phase !== Phase.InFlight) return;
    if (!x.res.write(chunk)) {
      controller.pause();
      x.res.once("drain", resumeUpstream);
    }
  }

  onResponseEnd(): void {
    if (this.x.phase === Phase.InFlight) this.x.res.end();
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    onForwardError(this.x, err, this.responded);
  }
}

function resumeUpstream(this: ProxyResponse): void {
  (this.exchange as ForwardExchange | null)?.controller?.resume();
}

function onForwardError(x: ForwardExchange, err: Error, responded: boolean): void {
  if (x.phase !== Phase.InFlight) return; // the client left and the upstream request was aborted for it
  const { ctx, res } = x;
  const model = x.model!;
  const code = (err as { code?: string }).code;
  if (res.headersSent) {
    ctx.logger.warn({ model: model.key, err: describe(err, code) }, "backend failed mid-response; client response cut");
    cutResponse(res, err);
    return;
  }
  if (!responded && code !== undefined && bodyReplayable(x)) {
    if (CONNECT_FAILED.has(code)) {
      if (x.endpoint !== "") model.replicas.refused(x.endpoint);
      ctx.logger.debug({ model: model.key, err: describe(err, code) }, "backend not reachable; request held again");
      holdAgain(ctx, x, `backend not reachable (${code})`);
      return;
    }
    if (CLOSED_EARLY.has(code) && !x.sentFresh && IDEMPOTENT.has(x.req.method!)) {
      ctx.logger.debug({ model: model.key, err: describe(err, code) }, "backend connection closed before answering; sent again on a fresh connection");
      x.sentFresh = true;
      const fresh = new Client(x.endpoint || model.config.backend, { connect: { timeout: 10_000 } });
      dispatch(x, fresh);
      void fresh.close(); // closes once this request is done
      return;
    }
  }
  if (!responded && code !== undefined && CLOSED_EARLY.has(code) && !IDEMPOTENT.has(x.req.method!)) {
    ctx.logger.warn({ model: model.key, method: x.req.method, err: describe(err, code) }, "backend connection lost after the request was sent; not sent again");
    const message = `model ${model.key} backend closed the connection before answering (${code}) after the ${x.req.method} request was sent: it may have received it, so it is not sent again`;
    reject(ctx, x, "upstream_connection_lost", message, { model: model.key });
  } else if (err instanceof BodyTooLargeError) {
    reject(ctx, x, "body_too_large", err.message, { limit: err.limit });
  } else if (code === "UND_ERR_HEADERS_TIMEOUT") {
    reject(ctx, x, "request_timeout", `model ${model.key} did not answer within ${model.config.requestTimeoutSeconds}s`, { model: model.key });
  } else {
    ctx.logger.warn({ model: model.key, err: describe(err, code) }, "backend request failed");
    reject(ctx, x, "upstream_unavailable", `model ${model.key} backend failed: ${describe(err, code)}`, { model: model.key });
  }
}

/**
 * Ends a response the backend failed to finish so that every client sees it cut. A chunked or length-framed body
 * cut by a close is visibly incomplete (no last chunk; fewer bytes than declared). A close-delimited body (an
 * HTTP/1.0 client, e.g. nginx's default `proxy_http_version 1.0`, gets no chunked framing; RFC 9112 §6.3 rule 8)
 * ends at the close, so a FIN would make the cut look like the complete answer: it ends with a reset (RST, via
 * `SO_LINGER` 0), which the client reads as ECONNRESET.
 */
function cutResponse(res: ProxyResponse, err: Error): void {
  const socket = res.socket;
  if (socket && !res.chunkedEncoding && !/\r\ncontent-length:/i.test(headerBlock(res))) {
    socket.resetAndDestroy();
    return;
  }
  res.destroy(err);
}

/** The response head as written (Node's `_header`; `getHeader` misses headers passed to `writeHead`). */
function headerBlock(res: ProxyResponse): string {
  const header = (res as unknown as { _header?: unknown })._header;
  return typeof header === "string" ? header : "";
}

/** Nothing of the body is lost yet: it is buffered, absent, or not read from the client yet. */
function bodyReplayable(x: ForwardExchange): boolean {
  return x.body !== null || x.upgrade !== "" || (!x.chunked && x.contentLength <= 0) || !x.req.readableDidRead;
}

function describe(err: Error, code: string | undefined): string {
  return code ? `${code}: ${err.message}` : err.message;
}
