/**
 * The request chain, in one place. Every request goes through the same steps, each in its own file:
 *
 *   0. head      readRequestHead      headers read once: host, body framing, upstream headers  (headers.ts)
 *                                     (malformed heads Node's parser refuses are answered in server.ts)
 *      cors      applyCors            with `cors`: preflights answered, CORS headers set         (cors.ts)
 *   1. auth      authenticate         with `auth` configured: bearer API key, else 401         (auth.ts)
 *      batch     ctx.batch.serve      with `batch`: /v1/files, /v1/batches (streamed, no limit) (../batch/api.ts)
 *      limit     checkDeclaredBody    Content-Length over `limits.maxBodyBytes`: 413 now       (this file)
 *   2. route     routeByHostPath      host (exact > wildcard) + longest path prefix            (route.ts)
 *                routeByBody          OpenAI endpoints: the JSON body's `model` field,         (route.ts)
 *                                     decoded first when compressed (bounded)                  (decode.ts)
 *                answerUnrouted       `GET /v1/models[/{id}]` from the routing table, else 404 (models.ts)
 *   3. admit     admit                counted as pending now; forwarded, held or rejected      (../holding/admit.ts)
 *   4. forward   forward              streamed to the model's backend pool; a request no model (forward.ts)
 *                                     server received is sent again or held again, not failed
 *                tunnel               an accepted Upgrade (101): both connections joined       (tunnel.ts)
 *   5. finish    finishExchange       on response close: uncounted, outcome recorded           (this file)
 *
 * Three ways in, one chain: plain requests, requests with `Expect: 100-continue` (the 100 is sent only when the
 * body is about to be read, so a request refused before never uploads it), and `Upgrade` requests (Node hands
 * over the socket; a response object is attached to it so errors and plain answers are written the same way).
 * Errors are answered by `reject` (../request/respond.ts), which closes a connection still uploading in stages.
 *
 * Authentication comes first once the head is parsed (it needs the Authorization header, and the body framing
 * to answer 401 without reading a body): nothing about models (routes, body limit, holding, activation) is
 * reached without a key. Whether it runs at all was decided at config load (`ctx.apiKeys` null or not).
 * Held requests re-enter at step 4 when their model's state releases them (`ModelState.drain`).
 */
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { abandonHeld, admit } from "../holding/admit";
import type { ModelState } from "../holding/modelState";
import { Exchange, Phase, releaseBuffered, type ProxyRequest, ProxyResponse } from "../request/exchange";
import { closeInStages } from "../request/linger";
import { reject } from "../request/respond";
import { authenticate } from "./auth";
import { applyCors } from "./cors";
import type { ProxyContext, ProxyExchange } from "./context";
import { forward } from "./forward";
import { readRequestHead } from "./headers";
import { answerUnrouted } from "./models";
import { needsBodyRouting, routeByBody, routeByHostPath } from "./route";
import { TUNNELLED_PROTOCOLS } from "./tunnel";

export interface RequestHandlers {
  /** Node's `request` event. */
  request(req: ProxyRequest, res: ProxyResponse): void;
  /** Node's `checkContinue` event: a request with `Expect: 100-continue`. */
  checkContinue(req: ProxyRequest, res: ProxyResponse): void;
  /** Node's `upgrade` event: a request with `Connection: upgrade` + `Upgrade`. */
  upgrade(req: ProxyRequest, socket: Duplex, head: Buffer): void;
}

export function createRequestHandlers(ctx: ProxyContext): RequestHandlers {
  function proceed(x: ProxyExchange, model: ModelState): void {
    x.model = model.split === null ? model : model.split.choose(x); // a canary's version is drawn first (../holding/canary)
    if (admit(ctx, x)) forward(x);
  }

  function handle(x: ProxyExchange): void {
    if (ctx.cors !== null && x.upgradeSocket === null && applyCors(ctx.cors, x.req, x.res)) return; // a preflight, answered
    const invalid = readRequestHead(x);
    if (invalid !== null) {
      reject(ctx, x, "invalid_request", invalid);
      return;
    }
    const apiKeys = ctx.apiKeys;
    if (apiKeys !== null && !authenticate(ctx, apiKeys, x)) return;
    if (ctx.batch !== null && x.upgradeSocket === null && ctx.batch.serve(ctx, x)) return;
    if (x.contentLength > ctx.limits.maxBodyBytes) {
      reject(ctx, x, "body_too_large", `request body of ${x.contentLength} bytes exceeds ${ctx.limits.maxBodyBytes} (limits.maxBodyBytes raises it)`, {
        limit: ctx.limits.maxBodyBytes,
      });
      return;
    }
    if (x.upgradeSocket !== null && (x.contentLength > 0 || x.chunked)) {
      // Node stops parsing at the head of an upgrade request: its body cannot be read as HTTP.
      reject(ctx, x, "invalid_request", `an Upgrade (${x.req.headers.upgrade ?? ""}) request with a body is not supported; send it without Upgrade`);
      return;
    }
    const model = routeByHostPath(ctx, x);
    if (model) proceed(x, model);
    else if (x.upgrade === "" && needsBodyRouting(ctx, x)) routeByBody(x, proceed);
    else answerUnrouted(ctx, x);
  }

  function start(req: ProxyRequest, res: ProxyResponse): ProxyExchange {
    const x: ProxyExchange = new Exchange(ctx, req, res, performance.now());
    req.exchange = x;
    res.exchange = x;
    res.on("close", finishExchange);
    if (res.socket === null) trackPipelined(x);
    if (ctx.draining) res.shouldKeepAlive = false;
    return x;
  }

  return {
    request(req, res) {
      handle(start(req, res));
    },
    checkContinue(req, res) {
      const x = start(req, res);
      x.expectContinue = true;
      handle(x);
    },
    upgrade(req, duplex, head) {
      const socket = duplex as Socket;
      const res = new ProxyResponse(req);
      res.assignSocket(socket);
      res.shouldKeepAlive = false; // an upgrade connection serves this one request (or becomes a tunnel)
      res.on("finish", endUpgradeConnection);
      socket.on("error", () => undefined); // a client gone mid-tunnel; "close" finishes the exchange
      const x = start(req, res);
      const protocol = (req.headers.upgrade ?? "").trim().toLowerCase();
      if (TUNNELLED_PROTOCOLS.has(protocol)) x.upgrade = protocol;
      x.upgradeSocket = socket;
      x.upgradeHead = head;
      handle(x);
    },
  };
}

/** A plain answer on an upgrade connection (an error, or a backend that did not switch): close it in stages. */
function endUpgradeConnection(this: ProxyResponse): void {
  const socket = this.socket;
  if (!socket) return;
  closeInStages(socket);
  socket.destroySoon();
}

/** Step 5, for every exchange however it ended: stop counting it, abort its upstream request if the client left. */
function finishExchange(this: ProxyResponse): void {
  const x = this.exchange as ProxyExchange | null;
  if (!x) return; // a pipelined exchange already finished by its connection's close
  const model = x.model;
  if (x.pipelined) (x.req.socket as PipelinedSocket)[PIPELINED]!.delete(x);
  releaseBuffered(x);
  if (x.phase === Phase.Held) abandonHeld(x);
  else if (x.phase === Phase.InFlight) {
    model!.endFlight(x);
    if (!this.writableFinished) x.controller?.abort(new Error("client closed the connection"));
  }
  const status = x.tunnelled ? 101 : this.writableFinished ? this.statusCode : 499;
  if (model) model.countRequest(status);
  else x.ctx.metrics.requests.inc({ model: "", status });
  x.req.exchange = null;
  this.exchange = null;
}

/**
 * A pipelined request's response waits, without a socket, for the responses ahead of it: if the client leaves,
 * Node never emits that response's "close", so the exchange would stay counted (held, or in flight for KEDA)
 * forever. The connection's own "close" finishes them. Only pipelining clients pay for this.
 */
const PIPELINED = Symbol("pipelined exchanges");
type PipelinedSocket = Socket & { [PIPELINED]?: Set<Exchange> };

function trackPipelined(x: Exchange): void {
  const socket = x.req.socket as PipelinedSocket;
  let waiting = socket[PIPELINED];
  if (!waiting) {
    waiting = socket[PIPELINED] = new Set();
    socket.once("close", finishPipelined);
  }
  x.pipelined = true;
  waiting.add(x);
}

function finishPipelined(this: PipelinedSocket): void {
  for (const x of this[PIPELINED]!) finishExchange.call(x.res);
}
