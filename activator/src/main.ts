/**
 * Entry point: wires config → state → servers → watchers, hands the process to the lifecycle
 * (lifecycle/lifecycle.ts: starting → serving → draining → stopped; config reloads: lifecycle/reload.ts). No logic of
 * its own.
 *
 *   node dist/main.js --config FILE
 */
import type { AddressInfo, Server } from "node:net";
import * as path from "node:path";
import { parseArgs } from "node:util";
import pino, { type Logger } from "pino";
import { createAdminServer, type AdminState } from "./admin";
import { systemClock } from "./base/clock";
import { BatchApi } from "./batch/api";
import { BatchStore } from "./batch/store";
import { createMetrics } from "./base/metrics";
import { loadConfigFile, type LoadedConfig } from "./config/load";
import type { ActivatorConfig } from "./config/schema";
import { watchMountedFile } from "./config/watch";
import { EngineGauges, type EngineModel } from "./engine/vllmGauges";
import { failureDetails, failureMessage } from "./health/failure";
import { HealthWatcher } from "./health/watch";
import { ModelRegistry } from "./holding/registry";
import { environmentKubeConfig } from "./kube/config";
import { attachToProcess, Lifecycle } from "./lifecycle/lifecycle";
import { ConfigReload, requestLimits } from "./lifecycle/reload";
import { ClusterActivity } from "./peers/clusterActivity";
import { corsPolicy } from "./proxy/cors";
import { discoverPeers, type PeerDiscovery } from "./peers/discovery";
import { acceptPeerLinks } from "./peers/endpoint";
import { PeerSync } from "./peers/sync";
import type { ProxyContext } from "./proxy/context";
import { forward } from "./proxy/forward";
import { buildRoutes } from "./proxy/route";
import { applyClientLimits, createProxyServer } from "./proxy/server";
import { createReadiness } from "./readiness/index";
import { reject } from "./request/respond";
import { KubeNodeLookup } from "./readiness/nodes";
import { startScalerServer } from "./scaler/server";
import { startQueueScaling, withQueueDemand } from "./queue/index";

const USAGE = "usage: node dist/main.js --config FILE   (YAML or JSON; see activator/README.md)";

async function main(): Promise<void> {
  const logger = pino({ base: { service: "activator" } }, pino.destination({ dest: 1, sync: true }));
  const file = configFileArgument();
  const loaded = await loadOrExit(file, logger);
  const initial = loaded.config;
  logger.level = initial.logLevel;

  // State. The closures below that name a later part (registry, ctx, activity) run only once everything is wired.
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
    engineReading: (key, endpoint) => engine.replicaReading(key, endpoint),
    activators: () => peers.replicas,
    rejectHeld: (x, model, code) => {
      if (code === "model_cannot_start" && model.failure) {
        reject(ctx, x, code, failureMessage(model.key, model.failure), failureDetails(model.key, model.failure));
        return;
      }
      const why = code === "model_removed" ? "was removed from the configuration" : "had no ready replica before the activator stopped";
      reject(ctx, x, code, `model ${model.key} ${why}`, { model: model.key });
    },
  });
  registry.apply(initial);
  const ctx: ProxyContext = {
    routes: buildRoutes(initial, registry),
    limits: requestLimits(initial),
    buffered: { bytes: 0 },
    apiKeys: loaded.apiKeys?.digests ?? null,
    cors: corsPolicy(initial.cors),
    draining: false,
    batch: null,
    metrics,
    logger,
  };
  // The Batch API (config `batch`, read at start; a change needs a restart): S3 + SQS clients, models as routed now.
  const batchStore = initial.batch ? new BatchStore(initial.batch) : null;
  if (batchStore !== null) {
    ctx.batch = new BatchApi({
      store: batchStore,
      config: initial.batch!,
      logger,
      authenticated: () => ctx.apiKeys !== null,
      maxLineBytes: () => ctx.limits.maxBodyBytes,
      knownModel: (m) => ctx.routes.table.openai.has(m),
      knownModels: () => ctx.routes.table.openaiIds,
    });
  }

  // Cluster-wide demand: this replica's plus its peers' (an empty peer list when `peers` is not configured).
  let openKedaStreams = (): number => 0; // the scaler's, once it listens
  const peers: PeerSync = new PeerSync({
    logger,
    // Models with activity within two peer heartbeats ride along, so the end of a request is told too.
    local: () => registry.demandSnapshot(2 * peers.heartbeatIntervalMs),
    holdsKedaStreams: () => openKedaStreams() > 0,
    onRemoteCold: (key, at) => clusterActivity.remoteCold(key, at),
    onRemoteActivity: (key) => clusterActivity.remoteActivity(key),
    ...peerTimes(initial),
  });
  peers.token = loaded.peerToken;
  peers.accepting = initial.peers !== undefined;
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
    intervalMs: initial.engineMetrics.intervalSeconds * 1000,
    timeoutMs: initial.engineMetrics.timeoutSeconds * 1000,
    // One series per vLLM model, removed with the model.
    onPrefixCacheHitRatio: (model, ratio) => {
      if (ratio === undefined) metrics.prefixCacheHitRatio.remove({ model });
      else metrics.prefixCacheHitRatio.set({ model }, ratio);
    },
  });
  const clusterActivity = new ClusterActivity(registry, peers, (key) => engine.metrics(key, engineModel(key)));
  // SQS backlog of models with `queueScaling`, folded into the same trigger (./queue).
  let reloadRef: ConfigReload | undefined;
  const queues = startQueueScaling({
    models: function* () {
      const keys: string[] = [];
      registry.forEachModel((key) => keys.push(key));
      for (const key of keys) yield [key, registry.get(key)!.config.queueScaling] as const;
    },
    settings: () => (reloadRef?.current ?? initial).queueReads,
    registry: metrics.registry,
    clock: systemClock,
    logger,
  });
  // A read that turns a model's backlog active pushes `true` at once, as a request at a cold model does.
  const activity = withQueueDemand(clusterActivity, (key) => queues.depths.model(key), (listener) => queues.depths.onActivated(listener));
  const startDiscovery = (c: ActivatorConfig): PeerDiscovery | null =>
    c.peers ? discoverPeers(c.peers, (addresses) => peers.setAddresses(addresses), { logger, kubeConfig: environmentKubeConfig }) : null;
  let discovery = startDiscovery(initial);

  // Servers
  const { listeners } = initial;
  const proxy = createProxyServer(ctx, initial.limits);
  const adminState: AdminState = { accepting: true };
  const admin = createAdminServer(adminState, registry, metrics, {
    peers,
    clusterDemand: (key) => activity.demand(key),
    queueScaling: (key) => queues.depths.model(key),
    // vLLM's waiting requests, which the batch runner yields to (../batch/runner.ts).
    engineWaiting: (key) => engine.metrics(key, engineModel(key)).find((m) => m.suffix === "vllm-waiting")?.value,
  });
  const peerLinks = acceptPeerLinks(admin, peers, logger);
  const proxyPort = await listen(proxy, listeners.proxy, "proxy");
  // Started before the peers' push is subscribed: a cold request's `true` on a stream held here is written first.
  // A cold request arriving before that still reaches peers, with the next routine message (within 50 ms).
  const scaler = await startScalerServer({
    host: listeners.scaler.host,
    port: listeners.scaler.port,
    activity,
    logger,
    heartbeatMs: initial.activation.heartbeatSeconds * 1000,
    observePushLatency: (_model, seconds) => metrics.activationPush.observe(seconds),
    onKedaCall: (model) => metrics.kedaLastCall.set({ model }, Date.now() / 1000),
  });
  openKedaStreams = () => scaler.openStreams();
  registry.onActivationNeeded((key) => peers.pushNow(key));
  const adminPort = await listen(admin, listeners.admin, "admin");

  // Watchers: the config file, and the API keys file it names (re-read on its own changes and with every config).
  const reload = new ConfigReload(initial, loaded.apiKeys, {
    logger,
    metrics,
    registry,
    ctx,
    routes: (next) => buildRoutes(next, registry),
    applyClientLimits: (limits) => applyClientLimits(proxy, limits),
    applyPeers(next, peerToken, peersChanged) {
      peers.token = peerToken;
      peers.accepting = next.peers !== undefined;
      if (!peersChanged) return;
      discovery?.close();
      const { heartbeatMs, ttlMs } = peerTimes(next);
      peers.configure(heartbeatMs, ttlMs);
      discovery = startDiscovery(next);
    },
  });
  reloadRef = reload;
  const watcher = watchMountedFile(file, loaded.text, loadConfigFile, {
    onChange: (next, recovered) => reload.applied(next, recovered),
    onError: (err) => reload.refused(err),
    onRecovered: () => reload.recovered(),
  });

  const lifecycle = new Lifecycle(
    {
      counts: () => registry.totals,
      stopAccepting() {
        adminState.accepting = false;
        ctx.draining = true;
        watcher.close();
        reload.close();
        proxy.close();
        proxy.closeIdleConnections();
      },
      rejectAllHeld: () => registry.rejectAllHeld(),
      cutConnections: () => proxy.closeAllConnections(),
      async closeRest(remainingMs) {
        await scaler.close(remainingMs);
        await peers.close(); // peers drop this replica's demand now rather than after their TTL
        discovery?.close();
        engine.close();
        queues.close();
        batchStore?.close();
        await registry.close();
        peerLinks.close();
        admin.close();
        admin.closeAllConnections();
      },
    },
    {
      logger,
      clock: systemClock,
      graceMs: () => reload.current.shutdownGraceSeconds * 1000,
      exit: (code) => process.exit(code),
      countUncaught: (kind) => metrics.uncaughtExceptions.inc({ kind }),
    },
  );
  attachToProcess(lifecycle);
  lifecycle.serving();
  // Logged once the watchers are in place too: a file changed after this line is seen.
  logger.info({ proxyPort, scalerPort: scaler.port, adminPort, models: initial.models.length, auth: ctx.apiKeys !== null }, "activator listening");
}

/** The --config argument, resolved; prints usage and exits on --help (0) or without it (2). */
function configFileArgument(): string {
  const { values } = parseArgs({ options: { config: { type: "string" }, help: { type: "boolean" } } });
  if (values.help || !values.config) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(values.help ? 0 : 2);
  }
  // `npm run activator -- --config FILE` runs in the activator folder; a relative FILE means the caller's folder.
  return path.resolve(process.env["INIT_CWD"] ?? process.cwd(), values.config);
}

/** The config file, loaded and checked; exits 1 naming what is wrong otherwise. */
async function loadOrExit(file: string, logger: Logger): Promise<LoadedConfig> {
  try {
    return await loadConfigFile(file);
  } catch (err) {
    logger.fatal({ errors: (err as { errors?: string[] }).errors }, (err as Error).message);
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
}

/** Peer heartbeat and TTL in ms (defaults 1 s and 3 s when `peers` is not configured). */
function peerTimes(c: ActivatorConfig): { heartbeatMs: number; ttlMs: number } {
  return { heartbeatMs: (c.peers?.heartbeatSeconds ?? 1) * 1000, ttlMs: (c.peers?.ttlSeconds ?? 3) * 1000 };
}

function listen(server: Server, at: { host: string; port: number }, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", (err) => reject(new Error(`${name} listener could not bind ${at.host}:${at.port}: ${err.message}`)));
    server.listen(at.port, at.host, () => resolve((server.address() as AddressInfo).port));
  });
}

main().catch((err: Error) => {
  process.stderr.write(`activator failed to start: ${err.message}\n`);
  process.exit(1);
});
