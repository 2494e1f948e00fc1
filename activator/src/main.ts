/**
 * Entry point: wires config → watchers → state → servers → staged shutdown. No logic of its own.
 *
 *   node dist/main.js --config FILE
 */
import type { AddressInfo, Server } from "node:net";
import * as path from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { createAdminServer, type AdminState } from "./admin";
import { loadApiKeysFile, loadConfigFile, type LoadedApiKeys, type LoadedConfig } from "./config/load";
import type { ActivatorConfig } from "./config/schema";
import { watchMountedFile, type FileWatcher } from "./config/watch";
import { ModelRegistry } from "./holding/registry";
import { createMetrics } from "./metrics";
import type { ProxyContext } from "./proxy/context";
import { forward } from "./proxy/forward";
import type { RequestLimits } from "./request/exchange";
import { reject } from "./request/respond";
import { buildRoutes } from "./proxy/route";
import { applyClientLimits, createProxyServer } from "./proxy/server";
import { environmentKubeConfig } from "./kube/config";
import { failureDetails, failureMessage } from "./health/failure";
import { HealthWatcher } from "./health/watch";
import { EngineGauges, type EngineModel } from "./engine/vllmGauges";
import { ClusterActivity } from "./peers/clusterActivity";
import { discoverPeers, type PeerDiscovery } from "./peers/discovery";
import { acceptPeerLinks } from "./peers/endpoint";
import { PeerSync } from "./peers/sync";
import { createReadiness } from "./readiness/index";
import { KubeNodeLookup } from "./readiness/nodes";
import { startScalerServer } from "./scaler/server";

const USAGE = "usage: node dist/main.js --config FILE   (YAML or JSON; see activator/README.md)";

async function main(): Promise<void> {
  const logger = pino({ base: { service: "activator" } }, pino.destination({ dest: 1, sync: true }));
  process.on("uncaughtException", (err) => logger.error({ err }, "uncaught exception (kept running)"));
  process.on("unhandledRejection", (err) => logger.error({ err }, "unhandled rejection (kept running)"));

  const { values } = parseArgs({ options: { config: { type: "string" }, help: { type: "boolean" } } });
  if (values.help || !values.config) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(values.help ? 0 : 2);
  }
  // `npm run activator -- --config FILE` runs in the activator folder; a relative FILE means the caller's folder.
  const file = path.resolve(process.env["INIT_CWD"] ?? process.cwd(), values.config);

  // Config
  let loaded: LoadedConfig;
  try {
    loaded = await loadConfigFile(file);
  } catch (err) {
    logger.fatal({ errors: (err as { errors?: string[] }).errors }, (err as Error).message);
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
  let config = loaded.config;
  logger.level = config.logLevel;

  // State
  const metrics = createMetrics({
    forEachModel: (visit) => registry.forEachModel(visit),
    forEachFailure: (visit) => registry.forEachFailure(visit),
  });
  const registry: ModelRegistry = new ModelRegistry({
    logger,
    metrics,
    createReadiness: (mode, target) => createReadiness(mode, target, { logger }),
    health: new HealthWatcher(environmentKubeConfig, logger),
    nodes: new KubeNodeLookup(environmentKubeConfig, logger),
    release: forward,
    rejectHeld: (x, model, code) => {
      if (code === "model_cannot_start" && model.failure) {
        reject(ctx, x, code, failureMessage(model.key, model.failure), failureDetails(model.key, model.failure));
        return;
      }
      const why = code === "model_removed" ? "was removed from the configuration" : "had no ready replica before the activator stopped";
      reject(ctx, x, code, `model ${model.key} ${why}`, { model: model.key });
    },
  });
  registry.apply(config);
  const ctx: ProxyContext = {
    routes: buildRoutes(config, registry),
    limits: requestLimits(config),
    buffered: { bytes: 0 },
    apiKeys: loaded.apiKeys?.digests ?? null,
    draining: false,
    metrics,
    logger,
  };

  // Cluster-wide demand: this replica's plus its peers' (an empty peer list when `peers` is not configured).
  const peerTimes = (c: typeof config) => [(c.peers?.heartbeatSeconds ?? 1) * 1000, (c.peers?.ttlSeconds ?? 3) * 1000] as const;
  let openKedaStreams = (): number => 0; // the scaler's, once it listens
  const peers = new PeerSync({
    logger,
    local: () => registry.demandSnapshot(),
    holdsKedaStreams: () => openKedaStreams() > 0,
    onRemoteCold: (key, at) => activity.remoteCold(key, at),
    heartbeatMs: peerTimes(config)[0],
    ttlMs: peerTimes(config)[1],
  });
  // vLLM's own gauges, read from the ready replicas: two more KEDA metrics for models with `vllm`.
  const engineModel = (key: string): EngineModel | undefined => {
    const model = registry.get(key);
    return model && { vllm: model.config.vllm, ready: model.readiness.ready, endpoints: model.readiness.endpoints };
  };
  const engine = new EngineGauges({
    models: function* () {
      const keys: string[] = [];
      registry.forEachModel((key) => keys.push(key));
      for (const key of keys) yield [key, engineModel(key)!] as [string, EngineModel];
    },
    logger,
    intervalMs: config.engineMetrics.intervalSeconds * 1000,
    timeoutMs: config.engineMetrics.timeoutSeconds * 1000,
  });
  peers.token = loaded.peerToken;
  peers.accepting = config.peers !== undefined;
  const activity = new ClusterActivity(registry, peers, (key) => engine.metrics(key, engineModel(key)));
  const startDiscovery = (c: typeof config): PeerDiscovery | null =>
    c.peers ? discoverPeers(c.peers, (addresses) => peers.setAddresses(addresses), { logger, kubeConfig: environmentKubeConfig }) : null;
  let discovery = startDiscovery(config);

  // Servers
  const { listeners } = config;
  const proxy = createProxyServer(ctx, config.limits);
  const adminState: AdminState = { accepting: true };
  const admin = createAdminServer(adminState, registry, metrics, { peers, clusterDemand: (key) => activity.demand(key) });
  const peerLinks = acceptPeerLinks(admin, peers, logger);
  const proxyPort = await listen(proxy, listeners.proxy, "proxy");
  // Started before the peers' push is subscribed: a cold request's `true` on a stream held here is written first.
  // A cold request arriving before that still reaches peers, with the next routine message (within 50 ms).
  const scaler = await startScalerServer({
    host: listeners.scaler.host,
    port: listeners.scaler.port,
    activity,
    logger,
    heartbeatMs: config.activation.heartbeatSeconds * 1000,
    observePushLatency: (model, seconds) => metrics.activationPush.observe({ model }, seconds),
  });
  openKedaStreams = () => scaler.openStreams();
  registry.onActivationNeeded((key) => peers.pushNow(key));
  const adminPort = await listen(admin, listeners.admin, "admin");

  // Watchers: the config file, and the API keys file it names (re-read on its own changes and with every config).
  const watchApiKeys = (apiKeys: LoadedApiKeys | null): FileWatcher | null =>
    apiKeys === null
      ? null
      : watchMountedFile(apiKeys.file, apiKeys.text, loadApiKeysFile, {
          onChange(next) {
            ctx.apiKeys = next.digests;
            metrics.apiKeysReloads.inc({ result: "applied" });
            logger.info({ file: next.file, keys: next.digests.size }, "API keys reloaded");
          },
          onError(err) {
            metrics.apiKeysReloads.inc({ result: "rejected" });
            logger.error({ errors: (err as { errors?: string[] }).errors }, `API keys change refused, old keys kept: ${(err as Error).message}`);
          },
        });
  let keysWatcher = watchApiKeys(loaded.apiKeys);
  const watcher = watchMountedFile(file, loaded.text, loadConfigFile, {
    onChange({ config: next, apiKeys, peerToken }) {
      if (JSON.stringify(next.listeners) !== JSON.stringify(config.listeners) || next.activation.heartbeatSeconds !== config.activation.heartbeatSeconds) {
        logger.warn("listeners and activation.heartbeatSeconds change only on restart; the rest of the new config is applied");
      }
      registry.apply(next);
      ctx.routes = buildRoutes(next, registry);
      ctx.limits = requestLimits(next);
      applyClientLimits(proxy, next.limits);
      peers.token = peerToken;
      peers.accepting = next.peers !== undefined;
      if (JSON.stringify(next.peers) !== JSON.stringify(config.peers)) {
        discovery?.close();
        peers.configure(...peerTimes(next));
        discovery = startDiscovery(next);
      }
      ctx.apiKeys = apiKeys?.digests ?? null;
      keysWatcher?.close();
      keysWatcher = watchApiKeys(apiKeys);
      logger.level = next.logLevel;
      config = next;
      metrics.configReloads.inc({ result: "applied" });
      logger.info({ models: next.models.length, auth: apiKeys !== null }, "config reloaded");
    },
    onError(err) {
      metrics.configReloads.inc({ result: "rejected" });
      logger.error({ errors: (err as { errors?: string[] }).errors }, `config change refused, old config kept: ${(err as Error).message}`);
    },
  });

  // Logged once the watchers are in place too: a file changed after this line is seen.
  logger.info({ proxyPort, scalerPort: scaler.port, adminPort, models: config.models.length, auth: ctx.apiKeys !== null }, "activator listening");

  // Staged shutdown
  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const graceMs = config.shutdownGraceSeconds * 1000;
    const deadline = performance.now() + graceMs;
    logger.info({ signal, held: registry.totals.held, inFlight: registry.totals.inFlight, graceMs }, "shutting down: draining");
    adminState.accepting = false;
    ctx.draining = true;
    watcher.close();
    keysWatcher?.close();
    proxy.close();
    proxy.closeIdleConnections();
    while (registry.totals.held + registry.totals.inFlight > 0 && performance.now() < deadline) await sleep(20);
    const { held, inFlight } = registry.totals;
    if (held + inFlight > 0) logger.warn({ held, inFlight }, "grace period over: held requests answered 503, in-flight ones cut");
    registry.rejectAllHeld();
    await new Promise((resolve) => setImmediate(resolve)); // let those answers reach the sockets before cutting them
    proxy.closeAllConnections();
    await scaler.close(Math.max(0, deadline - performance.now()));
    await peers.close(); // peers drop this replica's demand now rather than after their TTL
    discovery?.close();
    engine.close();
    await registry.close();
    peerLinks.close();
    admin.close();
    admin.closeAllConnections();
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

function requestLimits({ limits }: ActivatorConfig): RequestLimits {
  return { maxBodyBytes: limits.maxBodyBytes, maxPendingTotal: limits.maxPendingTotal, maxBufferedBodyBytes: limits.maxBufferedBodyBytes };
}

function listen(server: Server, at: { host: string; port: number }, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", (err) => reject(new Error(`${name} listener could not bind ${at.host}:${at.port}: ${err.message}`)));
    server.listen(at.port, at.host, () => resolve((server.address() as AddressInfo).port));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

main().catch((err: Error) => {
  process.stderr.write(`activator failed to start: ${err.message}\n`);
  process.exit(1);
});
