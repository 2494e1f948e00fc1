/**
 * The request chain, in one place. Every request goes through the same steps, each in its own file:
 *
 *   0. head      readRequestHead      headers read once: host, body framing, upstream headers  (headers.ts)
 *                                     (malformed heads Node's parser refuses are answered in server.ts)
 *   1. auth      authenticate         with `auth` configured: bearer API key, else 401         (auth.ts)
 *   2. route     routeByHostPath      host (exact > wildcard) + longest path prefix            (route.ts)
 *                routeByBody          OpenAI endpoints: the JSON body's `model` field          (route.ts)
 *   3. admit     admit                counted as pending now; forwarded, held or rejected      (../holding/admit.ts)
 *   4. forward   forward              streamed to the model's backend pool                     (forward.ts)
 *   5. finish    finishExchange       on response close: uncounted, outcome recorded
 *
 * Authentication comes first once the head is parsed (it needs the Authorization header, and the body framing
 * to answer 401 without reading a body): nothing about models (routes, body limit, holding, activation) is
 * reached without a key. Whether it runs at all was decided at config load (`ctx.apiKeys` null or not).
 * Held requests re-enter at step 4 when their model's state releases them (`ModelState.drain`).
 */
import type { Socket } from "node:net";
import { abandonHeld, admit } from "../holding/admit";
import type { ModelState } from "../holding/modelState";
import { authenticate } from "./auth";
import type { ProxyContext } from "./context";
import { Exchange, Phase, type ProxyRequest, type ProxyResponse } from "./exchange";
import { forward } from "./forward";
import { readRequestHead } from "./headers";
import { reject } from "./respond";
import { answerUnrouted, needsBodyRouting, routeByBody, routeByHostPath } from "./route";

export function createRequestHandler(ctx: ProxyContext): (req: ProxyRequest, res: ProxyResponse) => void {
  function proceed(x: Exchange, model: ModelState): void {
    x.model = model;
    if (admit(ctx, x)) forward(x);
  }

  return function handleRequest(req: ProxyRequest, res: ProxyResponse): void {
    const x = new Exchange(ctx, req, res, performance.now());
    req.exchange = x;
    res.exchange = x;
    res.on("close", finishExchange);
    if (res.socket === null) trackPipelined(x);
    if (ctx.draining) res.shouldKeepAlive = false;

    const invalid = readRequestHead(x);
    if (invalid !== null) {
      reject(ctx, x, "invalid_request", invalid);
      return;
    }
    const apiKeys = ctx.apiKeys;
    if (apiKeys !== null && !authenticate(ctx, apiKeys, x)) return;
    if (x.contentLength > ctx.limits.maxBodyBytes) {
      reject(ctx, x, "body_too_large", `request body of ${x.contentLength} bytes exceeds ${ctx.limits.maxBodyBytes}`, {
        limit: ctx.limits.maxBodyBytes,
      });
      return;
    }
    const model = routeByHostPath(ctx, x);
    if (model) proceed(x, model);
    else if (needsBodyRouting(ctx, x)) routeByBody(x, proceed);
    else answerUnrouted(ctx, x);
  };
}

/** Step 5, for every exchange however it ended: stop counting it, abort its upstream request if the client left. */
function finishExchange(this: ProxyResponse): void {
  const x = this.exchange;
  if (!x) return; // a pipelined exchange already finished by its connection's close
  const model = x.model;
  if (x.pipelined) (x.req.socket as PipelinedSocket)[PIPELINED]!.delete(x);
  if (x.phase === Phase.Held) abandonHeld(x);
  else if (x.phase === Phase.InFlight) {
    model!.endFlight(x);
    if (!this.writableFinished) x.controller?.abort(new Error("client closed the connection"));
  }
  const status = this.writableFinished ? this.statusCode : 499;
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
