/**
 * Chain step 0b, CORS (Fetch standard, "CORS protocol"): browser apps calling the OpenAI API through the activator.
 *
 * - A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered here, 204, before
 *   authentication and routing: browsers send it without credentials and without a body, so it can neither carry a
 *   key nor name a model. The real request that follows still needs its key.
 * - Every answer to a request with an allowed `Origin` carries `Access-Control-Allow-Origin`, the activator's own
 *   errors included (a browser script can then read why: 401, 404, 503 ...); `Access-Control-Expose-Headers` lets it
 *   read the retry guidance and the activator's headers.
 * - The model server's own `Access-Control-*` headers are dropped for ours (vLLM sends `*`; a second value makes
 *   browsers refuse the response).
 *
 * Config `cors.allowedOrigins`: exact origins (`https://chat.example.org`) or `*`; empty: CORS off (nothing is
 * added or answered here; the model server's headers pass). Credentials (cookies) are never allowed: API keys travel
 * in `Authorization`, which a listed origin may send (`Access-Control-Allow-Headers`).
 */
import type { IncomingHttpHeaders } from "node:http";
import type { ProxyRequest, ProxyResponse } from "../request/exchange";

export interface CorsPolicy {
  /** Exact origins allowed; `anyOrigin`: `*` was listed. */
  readonly origins: ReadonlySet<string>;
  readonly anyOrigin: boolean;
  /** `Access-Control-Max-Age` of preflight answers, seconds. */
  readonly maxAgeSeconds: number;
}

/** Headers a browser script may read on our answers besides the CORS-safelisted ones. */
const EXPOSED = "retry-after, x-should-retry, x-request-id, x-activator-cold-start, openai-model, openai-processing-ms";
const METHODS = "GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD";
/** Responses whose CORS headers are ours (the policy is on): the model server's are dropped from them. */
const governed = new WeakSet<ProxyResponse>();

/** Whether `res` carries our CORS headers, so the model server's must be dropped (`withoutUpstreamCors`). */
export function corsGoverned(res: ProxyResponse): boolean {
  return governed.has(res);
}

/** The policy for a config's `cors`; null when CORS is off. */
export function corsPolicy(cors: { allowedOrigins: string[]; maxAgeSeconds: number } | undefined): CorsPolicy | null {
  if (!cors || cors.allowedOrigins.length === 0) return null;
  return { origins: new Set(cors.allowedOrigins.filter((o) => o !== "*")), anyOrigin: cors.allowedOrigins.includes("*"), maxAgeSeconds: cors.maxAgeSeconds };
}

/** The `Access-Control-Allow-Origin` value for a request's Origin, or null when it is absent or not allowed. */
function allowedOrigin(policy: CorsPolicy, origin: string | undefined): string | null {
  if (origin === undefined) return null;
  if (policy.anyOrigin) return "*";
  return policy.origins.has(origin) ? origin : null;
}

/**
 * Sets the CORS headers on `res` for every answer that follows (errors, proxied responses), and answers a preflight.
 * Returns true when the request was a preflight, now answered.
 */
export function applyCors(policy: CorsPolicy, req: ProxyRequest, res: ProxyResponse): boolean {
  const origin = allowedOrigin(policy, req.headers.origin);
  governed.add(res);
  if (!policy.anyOrigin) res.setHeader("vary", "Origin"); // the answer depends on the Origin: caches must key on it
  const preflight = req.method === "OPTIONS" && req.headers.origin !== undefined && req.headers["access-control-request-method"] !== undefined;
  if (origin !== null) {
    res.setHeader("access-control-allow-origin", origin);
    res.setHeader("access-control-expose-headers", EXPOSED);
  }
  if (!preflight) return false;
  if (origin !== null) {
    res.setHeader("access-control-allow-methods", METHODS);
    const asked = req.headers["access-control-request-headers"];
    res.setHeader("access-control-allow-headers", asked !== undefined && asked !== "" ? asked : "authorization, content-type");
    res.setHeader("access-control-max-age", policy.maxAgeSeconds);
  }
  // An origin not allowed gets 204 without Allow-Origin: the browser refuses, and nothing else is told.
  res.writeHead(204, { "content-length": 0 });
  res.end();
  return true;
}

/** The model server's response headers without its own `Access-Control-*` (ours are set on the response already). */
export function withoutUpstreamCors<T extends IncomingHttpHeaders | Record<string, string | string[] | undefined>>(headers: T): T {
  let out: T | undefined;
  for (const name of Object.keys(headers)) {
    if (!name.toLowerCase().startsWith("access-control-")) continue;
    out ??= { ...headers };
    delete out[name];
  }
  return out ?? headers;
}
