import type { Logger } from "pino";
import type { ModelRegistry } from "../holding/registry";
import type { Metrics } from "../metrics";
import type { Routes } from "./route";

/** What the request chain reads: built once by main, its `routes` and `limits` swapped on config reload. */
export interface ProxyContext {
  routes: Routes;
  limits: { maxBodyBytes: number; maxPendingTotal: number };
  /** SIGTERM received: answer what is in progress, tell clients to close their connections. */
  draining: boolean;
  readonly registry: ModelRegistry;
  readonly metrics: Metrics;
  readonly logger: Logger;
}
