/**
 * Admin HTTP listener: liveness, readiness (fails at once on SIGTERM), Prometheus metrics, held/in-flight queue, and
 * the peer endpoint (`POST /peers/demand`) through which activator replicas share their demand.
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { ModelRegistry } from "./holding/registry";
import type { Metrics } from "./metrics";
import { MAX_PEER_MESSAGE_BYTES, PEER_PATH, peerMessageSchema } from "./peers/protocol";
import { bearer, type PeerSync } from "./peers/sync";

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
  peers?: PeerSync;
  /** Cluster-wide demand per model (this replica plus live peers), for /queue. */
  clusterDemand?(modelKey: string): number;
}

export function createAdminServer(state: AdminState, registry: ModelRegistry, metrics: Metrics, extras: AdminExtras = {}): Server {
  return createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === PEER_PATH && req.method === "POST" && extras.peers) {
      receivePeerMessage(req, res, extras.peers);
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
      case "/metrics":
        metrics.registry.metrics().then(
          (text) => {
            res.writeHead(200, { "content-type": metrics.registry.contentType });
            res.end(text);
          },
          (err: Error) => json(res, 500, { error: { code: "metrics_failed", message: err.message } }),
        );
        return;
      case "/queue": {
        const models: Record<string, Record<string, unknown>> = {};
        registry.forEachModel((key, held, inFlight) => {
          const model = registry.get(key)!;
          models[key] = {
            held,
            inFlight,
            ready: model.readiness.ready,
            ...(extras.clusterDemand ? { clusterDemand: extras.clusterDemand(key) } : {}),
            ...(model.failure ? { failure: model.failure } : {}),
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

function authorized(req: IncomingMessage, token: string | null): boolean {
  if (token === null) return true;
  const given = Buffer.from(req.headers.authorization ?? "");
  const expected = Buffer.from(bearer(token));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function receivePeerMessage(req: IncomingMessage, res: ServerResponse, peers: PeerSync): void {
  if (!authorized(req, peers.token)) {
    json(res, 401, { error: { code: "unauthorized", message: "peer messages need the peers' shared token (peers.tokenFile)" } });
    req.resume();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on("data", (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_PEER_MESSAGE_BYTES) {
      json(res, 413, { error: { code: "body_too_large", message: `peer message over ${MAX_PEER_MESSAGE_BYTES} bytes` } });
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on("end", () => {
    if (res.headersSent) return;
    let data: unknown;
    try {
      data = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      json(res, 400, { error: { code: "invalid_json", message: "peer message is not JSON" } });
      return;
    }
    const parsed = peerMessageSchema.safeParse(data);
    if (!parsed.success) {
      json(res, 400, { error: { code: "invalid_request", message: `not a peer message: ${parsed.error.issues[0]?.message ?? "invalid"}` } });
      return;
    }
    json(res, 200, peers.receive(parsed.data));
  });
}
