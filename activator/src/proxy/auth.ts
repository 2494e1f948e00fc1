/**
 * Chain step 1, authentication (only with `auth` configured): the request must carry `Authorization: Bearer <key>`
 * (what OpenAI SDKs send from `api_key`) with a key whose SHA-256 digest is listed in `auth.apiKeysFile`. It runs
 * before routing and counting, so an anonymous request never wakes a model, is never held, and learns no model
 * name. The Authorization header is removed from what is forwarded: client keys never reach a model backend.
 */
import { apiKeyDigest } from "../config/apiKeys";
import type { ProxyContext } from "./context";
import type { Exchange } from "../request/exchange";
import { reject } from "../request/respond";

const AUTHORIZATION = "authorization";
/** `Bearer` (any case, RFC 9110 §11.1) and the spaces after it. */
const BEARER = /^bearer +/i;

/** True when `x` presents an accepted key; otherwise answers 401 and returns false. */
export function authenticate(ctx: ProxyContext, apiKeys: ReadonlySet<string>, x: Exchange): boolean {
  // Request headers were copied to the upstream list once (headers.ts); take Authorization out of it here.
  const headers = x.upstreamHeaders;
  let credentials: string | undefined;
  let count = 0;
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    const name = headers[i]!;
    if (name.length === AUTHORIZATION.length && name.toLowerCase() === AUTHORIZATION) {
      credentials = headers[i + 1]!;
      count++;
      headers.splice(i, 2);
    }
  }
  let problem: string;
  if (credentials === undefined) problem = "no API key: send it as Authorization: Bearer <key>";
  else if (count > 1) problem = "more than one Authorization header";
  else {
    const scheme = BEARER.exec(credentials);
    const key = scheme === null ? "" : credentials.slice(scheme[0].length).trim();
    const digest = key === "" ? "" : apiKeyDigest(key);
    if (digest !== "" && apiKeys.has(digest)) {
      x.apiKeyDigest = digest;
      return true;
    }
    problem = scheme === null ? "the Authorization header must use the Bearer scheme: Authorization: Bearer <key>" : "API key not accepted";
  }
  reject(ctx, x, "unauthorized", problem);
  return false;
}
