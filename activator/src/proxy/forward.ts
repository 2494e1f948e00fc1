/**
 * Chain step 4, forwarding: the request goes to the model's undici pool (created once per backend, keep-alive),
 * bodies streamed both ways with backpressure, each response chunk written as it arrives (server-sent events
 * included). Callbacks are plain functions of the exchange (it is the dispatch handler): nothing is
 * allocated per chunk.
 */
import { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import { holdAgain } from "../holding/admit";
import { Phase, type Exchange, type ProxyResponse } from "./exchange";
import { clientResponseHeaders } from "./headers";
import { reject } from "./respond";

/** Thrown into the upstream body stream when a chunked request body exceeds the limit. */
class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body exceeds ${limit} bytes`);
  }
}

export function forward(x: Exchange): void {
  const model = x.model!;
  x.forwardedAt = performance.now();
  model.pool.dispatch(
    {
      path: x.req.url!,
      method: x.req.method!,
      headers: x.upstreamHeaders,
      body: upstreamBody(x),
      headersTimeout: model.requestTimeoutMs,
      bodyTimeout: model.requestTimeoutMs,
    },
    x,
  );
}

function upstreamBody(x: Exchange): Dispatcher.DispatchOptions["body"] {
  if (x.body) return x.body;
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

export function onForwardHeaders(x: Exchange, status: number, headers: Record<string, string | string[] | undefined>): void {
  if (x.phase !== Phase.InFlight || x.res.headersSent) return;
  x.model!.proxyLatency.observe((performance.now() - x.forwardedAt) / 1000);
  x.res.writeHead(status, clientResponseHeaders(x, headers));
}

export function onForwardData(x: Exchange, controller: Dispatcher.DispatchController, chunk: Buffer): void {
  if (x.phase !== Phase.InFlight) return;
  if (!x.res.write(chunk)) {
    controller.pause();
    x.res.once("drain", resumeUpstream);
  }
}

function resumeUpstream(this: ProxyResponse): void {
  this.exchange?.controller?.resume();
}

export function onForwardEnd(x: Exchange): void {
  if (x.phase === Phase.InFlight) x.res.end();
}

export function onForwardError(x: Exchange, err: Error): void {
  if (x.phase !== Phase.InFlight) return; // the client left and the upstream request was aborted for it
  const { ctx, res } = x;
  const model = x.model!;
  const code = (err as { code?: string }).code;
  if (res.headersSent) {
    ctx.logger.warn({ model: model.key, err: describe(err, code) }, "backend failed mid-response; client response cut");
    res.destroy(err);
    return;
  }
  if (code === "ECONNREFUSED" && !x.retried && bodyReplayable(x)) {
    holdAgain(ctx, x);
    return;
  }
  if (err instanceof BodyTooLargeError) {
    reject(ctx, x, "body_too_large", err.message, { limit: err.limit });
  } else if (code === "UND_ERR_HEADERS_TIMEOUT") {
    reject(ctx, x, "request_timeout", `model ${model.key} did not answer within ${model.config.requestTimeoutSeconds}s`, { model: model.key });
  } else {
    ctx.logger.warn({ model: model.key, err: describe(err, code) }, "backend request failed");
    reject(ctx, x, "upstream_unavailable", `model ${model.key} backend failed: ${describe(err, code)}`, { model: model.key });
  }
}

/** A refused connection sent nothing: the body can be sent again if it is buffered, absent, or not yet read. */
function bodyReplayable(x: Exchange): boolean {
  return x.body !== null || (!x.chunked && x.contentLength <= 0) || !x.req.readableDidRead;
}

function describe(err: Error, code: string | undefined): string {
  return code ? `${code}: ${err.message}` : err.message;
}
