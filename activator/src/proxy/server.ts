import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { ActivatorConfig } from "../config/schema";
import { rawErrorResponse, ERRORS, type ErrorCode } from "../base/errors";
import { ProxyRequest, ProxyResponse } from "../request/exchange";
import { lingeringClose } from "../request/linger";
import { createRequestHandlers } from "./chain";
import type { ProxyContext } from "./context";
import { afterEarlierResponses, trackResponse } from "./pipeline";

type ClientLimits = Pick<ActivatorConfig["limits"], "headersTimeoutSeconds" | "requestTimeoutSeconds">;

/** The client-facing HTTP listener, its timeouts guarding against slow clients. */
export function createProxyServer(ctx: ProxyContext, limits: ClientLimits): Server<typeof ProxyRequest, typeof ProxyResponse> {
  const server = createServer<typeof ProxyRequest, typeof ProxyResponse>(
    {
      IncomingMessage: ProxyRequest,
      ServerResponse: ProxyResponse,
      // Longer than the idle timeouts of load balancers in front, so they never reuse a connection we are closing.
      keepAliveTimeout: 65_000,
      // TCP keepalive on client sockets: a request held through a GPU cold start sends no byte for minutes, and the
      // AWS NLB in front drops a TCP flow idle for 350 s; keepalive probes count as traffic and keep it open.
      keepAlive: true,
      keepAliveInitialDelay: 60_000,
      // How often header/request timeouts are checked (Node's default, 30 s, would let them overrun by as much).
      connectionsCheckingInterval: 1_000,
      // The chain answers a missing Host itself (headers.ts), as JSON like every other error.
      requireHostHeader: false,
    },
  );
  const handlers = createRequestHandlers(ctx);
  server.on("request", (req: ProxyRequest, res: ProxyResponse) => {
    trackResponse(req, res);
    handlers.request(req, res);
  });
  server.on("checkContinue", (req: ProxyRequest, res: ProxyResponse) => {
    trackResponse(req, res);
    handlers.checkContinue(req, res);
  });
  server.on("upgrade", handlers.upgrade);
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(ctx, err, socket));
  applyClientLimits(server, limits);
  return server;
}

/** Connections whose parse error is being answered: Node may report more errors for the bytes that follow. */
const answering = new WeakSet<Duplex>();

/**
 * A request Node's parser refused (malformed, headers too large, too slow) never reaches the chain: it is
 * answered here, in the same JSON shape as every other error, and the connection is closed (in stages, so the
 * client reads the answer). Responses stay in request order (`pipeline.ts`): with responses still owed for
 * requests received earlier on the connection (pipelined), the error is answered after them. No answer, only a
 * close, when the connection cannot carry one: the client reset it, closed it, or the failed request's own
 * response already started (a body that turned malformed mid-way; writing would corrupt that response).
 */
function answerClientError(ctx: ProxyContext, err: NodeJS.ErrnoException, socket: Duplex): void {
  if (answering.has(socket)) return;
  answering.add(socket);
  const code: ErrorCode =
    err.code === "HPE_HEADER_OVERFLOW" ? "headers_too_large" : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "client_timeout" : "malformed_request";
  if (err.code === "ECONNRESET") {
    socket.destroy();
    return;
  }
  afterEarlierResponses(socket, (failed) => {
    // A response finished meanwhile may have ended the connection (Connection: close): then it just closes.
    const current = (socket as Duplex & { _httpMessage?: { headersSent: boolean } | null })._httpMessage;
    if (socket.destroyed || !socket.writable || failed?.res.headersSent || current?.headersSent) {
      socket.destroy();
      return;
    }
    const message = code === "client_timeout" ? "the request was not received in time" : `the request could not be parsed: ${err.message}`;
    socket.write(rawErrorResponse(code, message));
    ctx.metrics.rejections.inc({ model: "", reason: ERRORS[code].reason });
    lingeringClose.call(socket as Socket); // once the answer is flushed, in stages: the client may still be sending
  });
}

/** (Re)applies the client timeouts; Node reads them on every check, so a reload takes effect at once. */
export function applyClientLimits(server: Server<typeof ProxyRequest, typeof ProxyResponse>, limits: ClientLimits): void {
  server.headersTimeout = limits.headersTimeoutSeconds * 1000;
  server.requestTimeout = limits.requestTimeoutSeconds * 1000;
}
