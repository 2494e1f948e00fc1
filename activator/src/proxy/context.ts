import type { ModelState } from "../holding/modelState";
import type { Exchange, RequestContext } from "../request/exchange";
import type { CorsPolicy } from "./cors";
import type { RouteTable } from "../routing/table";

/** Routing data for one configuration, computed at load (`buildRoutes`, ./route). */
export interface Routes {
  readonly table: RouteTable<ModelState>;
  /** Body of `GET /v1/models`. */
  readonly modelsList: string;
  /** Body of `GET /v1/models/{id}`, by id. */
  readonly modelObjects: ReadonlyMap<string, string>;
  /** Model keys, for "no route" errors. */
  readonly modelKeys: readonly string[];
  /** The routes that would work, one line each, for "no route" errors (`buildRoutes`). */
  readonly routeList: readonly string[];
}

/** What the request chain reads: built once by main, its `routes`, `limits` and `apiKeys` swapped on reload. */
export interface ProxyContext extends RequestContext {
  routes: Routes;
  /**
   * SHA-256 hex digests of the accepted API keys; null when the config has no `auth` (the chain then skips the
   * auth step on this one test). Swapped on config reload and when the keys file changes.
   */
  apiKeys: ReadonlySet<string> | null;
  /** Config `cors`: browser origins allowed (./cors); null when off. Swapped on config reload. */
  cors: CorsPolicy | null;
  /** Config `batch`: the OpenAI Batch API (`/v1/files`, `/v1/batches`, ../batch/api.ts), served after auth; null when off. */
  batch: { serve(ctx: ProxyContext, x: ProxyExchange): boolean } | null;
  /** SIGTERM received: answer what is in progress, tell clients to close their connections. */
  draining: boolean;
}

/** An exchange as the chain sees it: routed to a `ModelState`, with the proxy's context. */
export type ProxyExchange = Exchange<ModelState, ProxyContext>;
