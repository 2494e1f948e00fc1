/**
 * Applying a changed config file (or API keys file) to a running activator: what changes without a restart, and what
 * only on restart (listeners, activation.heartbeatSeconds: warned). Called by the file watchers (config/watch.ts).
 */
import type { Logger } from "pino";
import type { Metrics } from "../base/metrics";
import { loadApiKeysFile, type LoadedApiKeys, type LoadedConfig } from "../config/load";
import type { ActivatorConfig } from "../config/schema";
import { watchMountedFile, type FileWatcher } from "../config/watch";
import type { ModelRegistry } from "../holding/registry";
import type { ProxyContext } from "../proxy/context";
import { corsPolicy } from "../proxy/cors";
import type { RequestLimits } from "../request/exchange";

/** The running parts a reload touches (wired by main). */
export interface ReloadTargets {
  logger: Logger;
  metrics: Metrics;
  registry: ModelRegistry;
  ctx: ProxyContext;
  /** Rebuilds the routes for a config (proxy/route.ts buildRoutes). */
  routes(config: ActivatorConfig): ProxyContext["routes"];
  /** Applies the client-side limits (timeouts) to the proxy listener. */
  applyClientLimits(limits: ActivatorConfig["limits"]): void;
  /** Applies the peer token, whether peer links are accepted, and (when `peers` changed) the discovery and timings. */
  applyPeers(next: ActivatorConfig, peerToken: string | null, peersChanged: boolean): void;
}

/** The proxy's per-request limits from a config. */
export function requestLimits({ limits }: ActivatorConfig): RequestLimits {
  return { maxBodyBytes: limits.maxBodyBytes, maxPendingTotal: limits.maxPendingTotal, maxBufferedBodyBytes: limits.maxBufferedBodyBytes };
}

/** The live config and the handlers the watchers call. */
export class ConfigReload {
  private keysWatcher: FileWatcher | null;

  constructor(
    private config: ActivatorConfig,
    apiKeys: LoadedApiKeys | null,
    private readonly t: ReloadTargets,
  ) {
    this.keysWatcher = this.watchApiKeys(apiKeys);
  }

  /** The config in force. */
  get current(): ActivatorConfig {
    return this.config;
  }

  /** A valid new config file: applied whole (listeners and activation.heartbeatSeconds only on restart, warned). */
  applied({ config: next, apiKeys, peerToken }: LoadedConfig, recovered = false): void {
    const { t, config } = this;
    if (JSON.stringify(next.listeners) !== JSON.stringify(config.listeners) || next.activation.heartbeatSeconds !== config.activation.heartbeatSeconds) {
      t.logger.warn("listeners and activation.heartbeatSeconds change only on restart; the rest of the new config is applied");
    }
    t.registry.apply(next);
    t.ctx.routes = t.routes(next);
    t.ctx.cors = corsPolicy(next.cors);
    t.ctx.limits = requestLimits(next);
    t.applyClientLimits(next.limits);
    t.applyPeers(next, peerToken, JSON.stringify(next.peers) !== JSON.stringify(config.peers));
    t.ctx.apiKeys = apiKeys?.digests ?? null;
    this.keysWatcher?.close();
    this.keysWatcher = this.watchApiKeys(apiKeys);
    t.logger.level = next.logLevel;
    this.config = next;
    t.metrics.configReloads.inc({ result: "applied" });
    t.logger.info({ models: next.models.length, auth: apiKeys !== null, ...(recovered ? { recovered } : {}) }, "config reloaded");
  }

  /** An invalid new config file: refused, the old one serving on. */
  refused(err: unknown): void {
    this.t.metrics.configReloads.inc({ result: "rejected" });
    this.t.logger.error({ errors: (err as { errors?: string[] }).errors }, `config change refused, old config kept: ${(err as Error).message}`);
  }

  /** After a refused config file, the config in force is back: nothing to apply. */
  recovered(): void {
    this.t.logger.info("config file is back to the config in force; the refused change is gone");
  }

  /** A valid new API keys file (`recovered`: it replaces a refused one). */
  apiKeysApplied(next: LoadedApiKeys, recovered = false): void {
    this.t.ctx.apiKeys = next.digests;
    this.t.metrics.apiKeysReloads.inc({ result: "applied" });
    this.t.logger.info({ file: next.file, keys: next.digests.size, ...(recovered ? { recovered } : {}) }, "API keys reloaded");
  }

  /** After a refused API keys file, the keys in force are back: nothing to apply. */
  apiKeysRecovered(file: string): void {
    this.t.logger.info({ file }, "API keys file is back to the keys in force; the refused change is gone");
  }

  /** An invalid new API keys file: refused, the old keys kept. */
  apiKeysRefused(err: unknown): void {
    this.t.metrics.apiKeysReloads.inc({ result: "rejected" });
    this.t.logger.error({ errors: (err as { errors?: string[] }).errors }, `API keys change refused, old keys kept: ${(err as Error).message}`);
  }

  /** The API keys file it names, re-read on its own changes (null: auth is off). */
  private watchApiKeys(apiKeys: LoadedApiKeys | null): FileWatcher | null {
    if (apiKeys === null) return null;
    return watchMountedFile(apiKeys.file, apiKeys.text, loadApiKeysFile, {
      onChange: (next, recovered) => this.apiKeysApplied(next, recovered),
      onError: (err) => this.apiKeysRefused(err),
      onRecovered: () => this.apiKeysRecovered(apiKeys.file),
    });
  }

  /** Stops watching the API keys file (draining). */
  close(): void {
    this.keysWatcher?.close();
  }
}
