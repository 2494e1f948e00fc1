import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { ActivatorConfig } from "../config/schema";
import { rawErrorResponse, ERRORS, type ErrorCode } from "../base/errors";
import { ProxyRequest, ProxyResponse } from "../request/exchange";
import { lingeringClose } from "../request/linger";
import { createRequestHandlers } from "./chain";
import type { ProxyContext } from "./context";

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
  server.on("request", handlers.request);
  server.on("checkContinue", handlers.checkContinue);
  server.on("upgrade", handlers.upgrade);
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(ctx, err, socket));
  applyClientLimits(server, limits);
  return server;
}

/**
 * A request Node's parser refused (malformed, headers too large, too slow) never reaches the chain: it is
 * answered here, in the same JSON shape as every other error, unless a response already started on that
 * connection (writing would corrupt it); then the connection is closed.
 */
function answerClientError(ctx: ProxyContext, err: NodeJS.ErrnoException, socket: Duplex): void {
  const code: ErrorCode =
    err.code === "HPE_HEADER_OVERFLOW" ? "headers_too_large" : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "client_timeout" : "malformed_request";
  const current = (socket as Duplex & { _httpMessage?: { headersSent: boolean } | null })._httpMessage;
  if (err.code !== "ECONNRESET" && socket.writable && !current?.headersSent) {
    const message = code === "client_timeout" ? "the request was not received in time" : `the request could not be parsed: ${err.message}`;
    socket.write(rawErrorResponse(code, message));
    ctx.metrics.rejections.inc({ model: "", reason: ERRORS[code].reason });
    lingeringClose.call(socket as Socket); // once the answer is flushed, in stages: the client may still be sending
  } else {
    socket.destroy();
  }
}

/** (Re)applies the client timeouts; Node reads them on every check, so a reload takes effect at once. */
export function applyClientLimits(server: Server<typeof ProxyRequest, typeof ProxyResponse>, limits: ClientLimits): void {
  server.headersTimeout = limits.headersTimeoutSeconds * 1000;
  server.requestTimeout = limits.requestTimeoutSeconds * 1000;
}
