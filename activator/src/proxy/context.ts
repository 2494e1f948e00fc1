import type { Logger } from "pino";
import type { ModelRegistry } from "../holding/registry";
import type { Metrics } from "../metrics";
import type { Routes } from "./route";

/** What the request chain reads: built once by main, its `routes`, `limits` and `apiKeys` swapped on reload. */
export interface ProxyContext {
  routes: Routes;
  limits: { maxBodyBytes: number; maxPendingTotal: number };
  /**
   * SHA-256 hex digests of the accepted API keys; null when the config has no `auth` (the chain then skips the
   * auth step on this one test). Swapped on config reload and when the keys file changes.
   */
  apiKeys: ReadonlySet<string> | null;
  /** SIGTERM received: answer what is in progress, tell clients to close their connections. */
  draining: boolean;
  readonly registry: ModelRegistry;
  readonly metrics: Metrics;
  readonly logger: Logger;
}
