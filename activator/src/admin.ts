/** Admin HTTP listener: liveness, readiness (fails at once on SIGTERM), Prometheus metrics, held/in-flight queue. */
import { createServer, type Server, type ServerResponse } from "node:http";
import type { ModelRegistry } from "./holding/registry";
import type { Metrics } from "./metrics";

export interface AdminState {
  /** False once shutdown began: /readyz fails so the Service stops sending traffic. */
  accepting: boolean;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function createAdminServer(state: AdminState, registry: ModelRegistry, metrics: Metrics): Server {
  return createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
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
        const models: Record<string, { held: number; inFlight: number; ready: boolean }> = {};
        registry.forEachModel((key, held, inFlight) => {
          models[key] = { held, inFlight, ready: registry.get(key)!.readiness.ready };
        });
        json(res, 200, { held: registry.totals.held, inFlight: registry.totals.inFlight, models });
        return;
      }
      default:
        json(res, 404, { error: { code: "not_found", message: `no admin endpoint ${path}; try /healthz, /readyz, /metrics, /queue` } });
    }
  });
}
