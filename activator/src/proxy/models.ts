/**
 * OpenAI's model endpoints, answered from the routing table (no model is woken): `GET /v1/models` (the list) and
 * `GET /v1/models/{id}` (what `client.models.retrieve(id)` calls). Ids may contain `/` and `:`
 * (`meta-llama/Llama-3.1-8B-Instruct`, `llama3:8b`), sent as they are or percent-encoded; both are looked up.
 * An unknown id is OpenAI's 404 `model_not_found` shape. Anything else no route took is 404 `no_route`.
 */
import { reject } from "../request/respond";
import { OPENAI_MODELS_PATH, pathOf } from "../routing/table";
import type { ProxyContext, ProxyExchange } from "./context";

const MODEL_PREFIX = `${OPENAI_MODELS_PATH}/`;

/** A request no route took: the OpenAI model endpoints, else 404. */
export function answerUnrouted(ctx: ProxyContext, x: ProxyExchange): void {
  const { req } = x;
  const path = pathOf(req.url!);
  if ((req.method === "GET" || req.method === "HEAD") && x.upgrade === "") {
    if (path === OPENAI_MODELS_PATH) return sendJson(x, ctx.routes.modelsList);
    if (path.startsWith(MODEL_PREFIX) && path.length > MODEL_PREFIX.length) {
      const raw = path.slice(MODEL_PREFIX.length);
      const id = decoded(raw);
      const found = ctx.routes.modelObjects.get(raw) ?? (id !== null ? ctx.routes.modelObjects.get(id) : undefined);
      if (found !== undefined) return sendJson(x, found);
      const shown = id ?? raw;
      reject(ctx, x, "model_not_found", `The model '${shown}' does not exist or is not served here`, { model: shown, models: ctx.routes.table.openaiIds });
      return;
    }
  }
  const routes = ctx.routes.routeList;
  reject(ctx, x, "no_route", `no model is routed for host "${x.host}" and path "${path}"; routes: ${routes.join(", ") || "none"}`, { models: ctx.routes.modelKeys, routes });
}

function sendJson(x: ProxyExchange, body: string): void {
  x.res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  x.res.end(x.req.method === "HEAD" ? undefined : body);
}

function decoded(raw: string): string | null {
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}
