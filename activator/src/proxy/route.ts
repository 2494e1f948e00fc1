/**
 * Chain step 2, routing: host and path first (no body read), then, for OpenAI-style endpoints, the JSON body's
 * `model` field (a read bounded by the body limit; the bytes are forwarded unchanged). `GET /v1/models` lists
 * the OpenAI models served.
 */
import { modelKey, type ActivatorConfig } from "../config/schema";
import type { ModelRegistry } from "../holding/registry";
import type { ModelState } from "../holding/modelState";
import { buildRouteTable, hostOf, matchHostPath, OPENAI_BODY_PATHS, OPENAI_MODELS_PATH, pathOf, type RouteTable } from "../routing/table";
import type { ProxyContext } from "./context";
import type { Exchange, ProxyRequest } from "./exchange";
import { reject } from "./respond";

/** Routing data for one configuration, computed at load. */
export interface Routes {
  readonly table: RouteTable<ModelState>;
  /** Body of `GET /v1/models`. */
  readonly modelsList: string;
  /** Model keys, for "no route" errors. */
  readonly modelKeys: readonly string[];
}

export function buildRoutes(config: ActivatorConfig, registry: ModelRegistry): Routes {
  const entries = config.models.map((model) => ({ keys: model, target: registry.get(modelKey(model))! }));
  const table = buildRouteTable(entries);
  const modelsList = JSON.stringify({
    object: "list",
    data: table.openaiIds.map((id) => ({ id, object: "model", created: 0, owned_by: table.openai.get(id)!.key })),
  });
  return { table, modelsList, modelKeys: entries.map((e) => e.target.key) };
}

/** The model routed by host and path, or null. */
export function routeByHostPath(ctx: ProxyContext, x: Exchange): ModelState | null {
  x.host = hostOf(x.host);
  return matchHostPath(ctx.routes.table, x.host, x.req.url!) ?? null;
}

/** True when the model can only come from the body (an OpenAI endpoint the host/path routes did not take). */
export function needsBodyRouting(ctx: ProxyContext, x: Exchange): boolean {
  return x.req.method === "POST" && ctx.routes.table.openai.size > 0 && OPENAI_BODY_PATHS.has(pathOf(x.req.url!));
}

/**
 * Reads the body (bounded) and calls `next` with the model its `model` field names; answers 400/404/413
 * itself otherwise. Event handlers are shared functions: the exchange rides on the request.
 */
export function routeByBody(x: Exchange, next: (x: Exchange, model: ModelState) => void): void {
  x.bodyChunks = [];
  x.afterBody = next;
  x.req.on("data", onBodyData);
  x.req.on("end", onBodyEnd);
}

function onBodyData(this: ProxyRequest, chunk: Buffer): void {
  const x = this.exchange!;
  x.bodyBytes += chunk.length;
  const limit = x.ctx.limits.maxBodyBytes;
  if (x.bodyBytes > limit) {
    this.off("data", onBodyData);
    this.off("end", onBodyEnd);
    x.bodyChunks = null;
    reject(x.ctx, x, "body_too_large", `request body exceeds ${limit} bytes`, { limit });
    return;
  }
  x.bodyChunks!.push(chunk);
}

function onBodyEnd(this: ProxyRequest): void {
  const x = this.exchange!;
  const chunks = x.bodyChunks!;
  x.bodyChunks = null;
  x.body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, x.bodyBytes);
  const { ctx } = x;
  let id: unknown;
  try {
    id = (JSON.parse(x.body.toString("utf8")) as { model?: unknown } | null)?.model;
  } catch (err) {
    reject(ctx, x, "invalid_json", `request body is not valid JSON: ${(err as Error).message}`);
    return;
  }
  if (typeof id !== "string" || id === "") {
    reject(ctx, x, "missing_model", 'request body has no "model" string field', { models: ctx.routes.table.openaiIds });
    return;
  }
  const model = ctx.routes.table.openai.get(id);
  if (!model) {
    reject(ctx, x, "unknown_model", `model "${id}" is not served here`, { model: id, models: ctx.routes.table.openaiIds });
    return;
  }
  x.afterBody!(x, model);
}

/** A request no route took: `GET /v1/models`, else 404. */
export function answerUnrouted(ctx: ProxyContext, x: Exchange): void {
  const { req, res } = x;
  if ((req.method === "GET" || req.method === "HEAD") && pathOf(req.url!) === OPENAI_MODELS_PATH) {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(ctx.routes.modelsList) });
    res.end(ctx.routes.modelsList);
    return;
  }
  reject(ctx, x, "no_route", `no model is routed for host "${x.host}" and path "${pathOf(req.url!)}"`, { models: ctx.routes.modelKeys });
}
