/**
 * Chain step 2, routing: host and path first (no body read), then, for OpenAI-style endpoints, the JSON body's
 * `model` field (a read bounded by the body limit and by the buffered-bytes budget across all requests;
 * compressed bodies decoded for it, `decode.ts`; the bytes are forwarded unchanged).
 */
import { modelKey, type ActivatorConfig } from "../config/schema";
import type { ModelRegistry } from "../holding/registry";
import type { ModelState } from "../holding/modelState";
import { grantContinue, releaseBuffered, reserveBuffered, type ProxyRequest } from "../request/exchange";
import { reject } from "../request/respond";
import { buildRouteTable, hostOf, hostPathRoutes, kservePaths, matchHostPath, matchKServePath, OPENAI_BODY_PATHS, pathOf } from "../routing/table";
import type { ProxyContext, ProxyExchange, Routes } from "./context";
import { prefixKey } from "../routing/prefixKey";
import { contentCodings, decodeBody, DECODED_CODINGS, unsupportedCoding } from "./decode";

export function buildRoutes(config: ActivatorConfig, registry: ModelRegistry): Routes {
  const entries = config.models.map((model) => ({ keys: model, target: registry.get(modelKey(model))! }));
  const table = buildRouteTable(entries);
  // OpenAI's model object: https://platform.openai.com/docs/api-reference/models/object
  const objects = table.openaiIds.map((id) => ({ id, object: "model", created: 0, owned_by: table.openai.get(id)!.key }));
  return {
    table,
    modelsList: JSON.stringify({ object: "list", data: objects }),
    modelObjects: new Map(objects.map((o) => [o.id, JSON.stringify(o)])),
    modelKeys: entries.map((e) => e.target.key),
    routeList: routeList(config, table.openaiIds),
  };
}

/**
 * The routes that would work, for "no route" errors, once each: per model its `host + path prefix` routes (host `*`:
 * any host), e.g. `api.example.com/v2/models/iris`, and its KServe paths (`POST *` + `/v1/models/iris:predict`, ...), then
 * the OpenAI endpoints with the `model` values they take.
 */
function routeList(config: ActivatorConfig, openaiIds: readonly string[]): string[] {
  const routes = new Set<string>();
  for (const model of config.models) {
    for (const { host, prefix } of hostPathRoutes(model)) routes.add(`${host ?? "*"}${prefix}`);
    if (model.kserve !== undefined) for (const path of kservePaths(model.kserve)) routes.add(path);
  }
  if (openaiIds.length > 0) routes.add(`POST ${[...OPENAI_BODY_PATHS].join(" | ")} with model ${openaiIds.map((id) => JSON.stringify(id)).join(" | ")}`);
  return [...routes];
}

/** The model routed by host and path, else by KServe REST path (any host), or null. */
export function routeByHostPath(ctx: ProxyContext, x: ProxyExchange): ModelState | null {
  x.host = hostOf(x.host);
  const { table } = ctx.routes;
  return matchHostPath(table, x.host, x.req.url!) ?? matchKServePath(table, x.req.url!) ?? null;
}

/** True when the model can only come from the body (an OpenAI endpoint the host/path routes did not take). */
export function needsBodyRouting(ctx: ProxyContext, x: ProxyExchange): boolean {
  return x.req.method === "POST" && ctx.routes.table.openai.size > 0 && OPENAI_BODY_PATHS.has(pathOf(x.req.url!));
}

type Next = (x: ProxyExchange, model: ModelState) => void;
const NEXT = Symbol("after body");
type RoutingRequest = ProxyRequest & { [NEXT]?: Next };

/**
 * Reads the body (bounded) and calls `next` with the model its `model` field names; answers 400/404/413/415/503
 * itself otherwise. Event handlers are shared functions: the exchange rides on the request.
 */
export function routeByBody(x: ProxyExchange, next: Next): void {
  const codings = contentCodings(x.contentEncoding);
  const unsupported = unsupportedCoding(codings);
  if (unsupported !== null) {
    reject(x.ctx, x, "unsupported_content_encoding", `Content-Encoding "${unsupported}" is not supported; send the body uncompressed or as ${DECODED_CODINGS.join(", ")}`, {
      contentEncoding: unsupported,
      supported: DECODED_CODINGS,
    });
    return;
  }
  // A declared length is reserved in the budget before any byte is read (refused at once if it does not fit) and
  // read into one buffer of that size: no partial reads wasted, no second copy.
  if (x.contentLength > 0) {
    if (!reserveBuffered(x, x.contentLength)) return rejectBudget(x);
    x.body = Buffer.allocUnsafe(x.contentLength);
  } else {
    x.bodyChunks = [];
  }
  (x.req as RoutingRequest)[NEXT] = next;
  x.req.on("data", onBodyData);
  x.req.on("end", onBodyEnd);
  grantContinue(x);
}

function stopReading(req: ProxyRequest, x: ProxyExchange): void {
  req.off("data", onBodyData);
  req.off("end", onBodyEnd);
  x.bodyChunks = null;
}

function rejectBudget(x: ProxyExchange): void {
  const budget = x.ctx.limits.maxBufferedBodyBytes;
  reject(x.ctx, x, "body_buffer_full", `the activator already holds ${x.ctx.buffered.bytes} bytes of request bodies (limits.maxBufferedBodyBytes ${budget})`);
}

function onBodyData(this: ProxyRequest, chunk: Buffer): void {
  const x = this.exchange as ProxyExchange;
  if (x.body !== null) {
    // Declared length: Node's parser never passes more than Content-Length bytes.
    chunk.copy(x.body, x.bodyBytes);
    x.bodyBytes += chunk.length;
    return;
  }
  x.bodyBytes += chunk.length;
  const limit = x.ctx.limits.maxBodyBytes;
  if (x.bodyBytes > limit) {
    stopReading(this, x);
    reject(x.ctx, x, "body_too_large", `request body exceeds ${limit} bytes (limits.maxBodyBytes raises it)`, { limit });
    return;
  }
  if (!reserveBuffered(x, chunk.length)) {
    stopReading(this, x);
    rejectBudget(x);
    return;
  }
  x.bodyChunks!.push(chunk);
}

function onBodyEnd(this: RoutingRequest): void {
  const x = this.exchange as ProxyExchange;
  if (x.body === null) {
    const chunks = x.bodyChunks!;
    x.bodyChunks = null;
    x.body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, x.bodyBytes);
  }
  const next = this[NEXT]!;
  this[NEXT] = undefined;
  const codings = contentCodings(x.contentEncoding);
  if (codings.length === 0) {
    routeByModelField(x, x.body, next);
    return;
  }
  decodeBody(x, codings, (failure, decoded, counted) => {
    if (x.res.writableEnded || x.res.destroyed) return releaseBuffered(x); // the client left meanwhile: nothing more is needed
    if (failure === null) {
      const ok = routeByModelField(x, decoded!, null);
      releaseBuffered(x, Math.min(counted, x.bufferedBytes));
      if (ok) next(x, ok);
    } else if (failure.code === "body_too_large") {
      reject(x.ctx, x, "body_too_large", `decoded request body exceeds ${failure.limit} bytes (limits.maxBodyBytes raises it)`, { limit: failure.limit });
    } else if (failure.code === "body_buffer_full") {
      reject(x.ctx, x, "body_buffer_full", `the activator holds too many bytes of request bodies to decode this one (limits.maxBufferedBodyBytes ${x.ctx.limits.maxBufferedBodyBytes})`);
    } else {
      reject(x.ctx, x, failure.code, `request body is not valid ${failure.coding} data (Content-Encoding)`, { contentEncoding: failure.coding });
    }
  });
}

/**
 * Reads the `model` field of a JSON body and calls `next` with its model (or returns it when `next` is null);
 * answers 400/404 itself otherwise. Error messages never quote the body.
 */
function routeByModelField(x: ProxyExchange, json: Buffer, next: Next | null): ModelState | null {
  const { ctx } = x;
  let id: unknown;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString("utf8"));
    id = (parsed as { model?: unknown } | null)?.model;
  } catch (err) {
    const at = /at position (\d+)/.exec((err as Error).message);
    reject(ctx, x, "invalid_json", `request body is not valid JSON${at ? ` (at position ${at[1]})` : ""}`);
    return null;
  }
  if (typeof id !== "string" || id === "") {
    reject(ctx, x, "missing_model", 'request body has no "model" string field', { models: ctx.routes.table.openaiIds });
    return null;
  }
  const model = ctx.routes.table.openai.get(id);
  if (!model) {
    reject(ctx, x, "model_not_found", `model "${id}" is not served here`, { model: id, models: ctx.routes.table.openaiIds });
    return null;
  }
  const choice = model.config.replicaChoice;
  // Only direct readiness picks replicas (Replicas.choose): elsewhere the key would be computed and ignored.
  if (choice.policy === "prefix-affine" && model.readiness.direct === true) x.affinityKey = prefixKey(pathOf(x.req.url!), parsed, choice.prefixBytes);
  if (next) next(x, model);
  return model;
}
