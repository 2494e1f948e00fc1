/**
 * Admin HTTP listener: liveness, readiness (fails at once on SIGTERM), Prometheus metrics, held/in-flight queue, and
 * the peer endpoint (`GET /peers/demand` upgraded to a WebSocket, ./peers/endpoint) through which activator replicas
 * share their demand.
 */
import { createServer, type Server, type ServerResponse } from "node:http";
import type { ModelRegistry } from "./holding/registry";
import { acceptsGzip, expositionHeaders, writeExposition } from "./base/exposition";
import type { Metrics } from "./base/metrics";
import { coldStartView } from "./readiness/coldStartView";
import { PEER_PATH } from "./peers/protocol";
import type { PeerSync } from "./peers/sync";
import type { ModelQueueView } from "./queue/index";

export interface AdminState {
  /** False once shutdown began: /readyz fails so the Service stops sending traffic. */
  accepting: boolean;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export interface AdminExtras {
  /** The peer table (links from peers are accepted on PEER_PATH by ./peers/endpoint, attached to this server). */
  peers?: PeerSync;
  /** Cluster-wide demand per model (this replica plus live peers), for /queue. */
  clusterDemand?(modelKey: string): number;
  /** The model's SQS backlog (./queue), for /queue; undefined for a model without `queueScaling`. */
  queueScaling?(modelKey: string): ModelQueueView | undefined;
  /** vLLM models: waiting requests summed over ready replicas (`vllm:num_requests_waiting`), for /queue `engineWaiting`. */
  engineWaiting?(modelKey: string): number | undefined;
}

export function createAdminServer(state: AdminState, registry: ModelRegistry, metrics: Metrics, extras: AdminExtras = {}): Server {
  return createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === PEER_PATH && extras.peers) {
      res.setHeader("upgrade", "websocket");
      json(res, 426, { error: { code: "upgrade_required", message: `peers connect with a WebSocket: GET ${PEER_PATH} with Upgrade: websocket` } });
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      json(res, 405, { error: { code: "method_not_allowed", message: "admin endpoints accept GET only" } });
      return;
    }
    switch (path) {
      case "/healthz":
        json(res, 200, { status: "ok" });
        return;
      case "/readyz":
        if (state.accepting) json(res, 200, { status: "ready" });
        else json(res, 503, { status: "shutting down" });
        return;
      case "/metrics": {
        // Written slice by slice as it renders, with back-pressure (./base/exposition): an exposition of megabytes is
        // never held whole; gzip-compressed when the scraper accepts it (Prometheus does by default).
        const gzip = acceptsGzip(req.headers["accept-encoding"]);
        if (req.method === "HEAD") {
          res.writeHead(200, expositionHeaders(metrics.registry.contentType, gzip));
          res.end();
          return;
        }
        writeExposition(res, metrics.expositionSlices(), metrics.registry.contentType, gzip).catch((err: Error) => {
          if (!res.headersSent) json(res, 500, { error: { code: "metrics_failed", message: err.message } });
          else res.destroy(err);
        });
        return;
      }
      case "/queue": {
        const models: Record<string, Record<string, unknown>> = {};
        registry.forEachModel((key, held, inFlight) => {
          const model = registry.get(key)!;
          const queueScaling = extras.queueScaling?.(key);
          models[key] = {
            held,
            inFlight,
            ready: model.readiness.ready,
            ...(extras.clusterDemand ? { clusterDemand: extras.clusterDemand(key) } : {}),
            ...(extras.engineWaiting?.(key) !== undefined ? { engineWaiting: extras.engineWaiting(key) } : {}),
            ...(model.failure ? { failure: model.failure } : {}),
            ...(model.split ? { canary: model.split.view() } : {}),
            ...(model.canaryOf ? { canaryOf: model.canaryOf.key } : {}),
            ...(queueScaling ? { queueScaling } : {}),
            ...coldStartView(model.timeline),
          };
        });
        const peers = extras.peers ? { name: extras.peers.name, peers: extras.peers.view(), targets: extras.peers.targetsView() } : undefined;
        json(res, 200, { held: registry.totals.held, inFlight: registry.totals.inFlight, models, ...(peers ? { cluster: peers } : {}) });
        return;
      }
      default:
        json(res, 404, { error: { code: "not_found", message: `no admin endpoint ${path}; try /healthz, /readyz, /metrics, /queue` } });
    }
  });
}
