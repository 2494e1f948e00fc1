import { createServer, type Server } from "node:http";
import type { ActivatorConfig } from "../config/schema";
import { createRequestHandler } from "./chain";
import type { ProxyContext } from "./context";
import { ProxyRequest, ProxyResponse } from "./exchange";

type ClientLimits = Pick<ActivatorConfig["limits"], "headersTimeoutSeconds" | "requestTimeoutSeconds">;

/** The client-facing HTTP listener, its timeouts guarding against slow clients. */
export function createProxyServer(ctx: ProxyContext, limits: ClientLimits): Server<typeof ProxyRequest, typeof ProxyResponse> {
  const server = createServer<typeof ProxyRequest, typeof ProxyResponse>(
    {
      IncomingMessage: ProxyRequest,
      ServerResponse: ProxyResponse,
      // Longer than the idle timeouts of load balancers in front, so they never reuse a connection we are closing.
      keepAliveTimeout: 65_000,
      // How often header/request timeouts are checked (Node's default, 30 s, would let them overrun by as much).
      connectionsCheckingInterval: 1_000,
    },
    createRequestHandler(ctx),
  );
  applyClientLimits(server, limits);
  return server;
}

/** (Re)applies the client timeouts; Node reads them on every check, so a reload takes effect at once. */
export function applyClientLimits(server: Server<typeof ProxyRequest, typeof ProxyResponse>, limits: ClientLimits): void {
  server.headersTimeout = limits.headersTimeoutSeconds * 1000;
  server.requestTimeout = limits.requestTimeoutSeconds * 1000;
}
