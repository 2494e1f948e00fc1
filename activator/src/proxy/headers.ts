/**
 * Header handling for both directions, done in one pass over each header list: hop-by-hop headers dropped
 * (RFC 9110 §7.6.1, plus any the Connection header names), X-Forwarded-For/Proto/Host set.
 */
import type { Exchange } from "../request/exchange";

/** Request headers not forwarded as they are (lowercase). */
const REQUEST_DROPPED = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  // undici sets Host from the backend origin and handles Expect itself; both are replaced below or dropped.
  "host",
  "expect",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
]);

const RESPONSE_DROPPED = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Header name lengths worth lowercasing for the checks below: most names are skipped on length alone. */
const INTERESTING_LENGTH: boolean[] = [];
for (const name of [...REQUEST_DROPPED, "content-length", "content-encoding"]) INTERESTING_LENGTH[name.length] = true;

/**
 * Reads the request head once: routing host, body framing, and the header list to send upstream. Returns why
 * the head cannot be served (the caller answers 400), or null.
 */
export function readRequestHead(x: Exchange): string | null {
  const raw = x.req.rawHeaders;
  const out = x.upstreamHeaders;
  let host = "";
  let forwardedFor = "";
  let forwardedProto = "";
  let forwardedHost = "";
  let connection = "";
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = INTERESTING_LENGTH[name.length] === true ? name.toLowerCase() : "";
    if (lower === "" || !(REQUEST_DROPPED.has(lower) || lower === "content-length" || lower === "content-encoding")) {
      out.push(name, value);
      continue;
    }
    switch (lower) {
      case "content-length":
        x.contentLength = Number(value); // Node's parser has already rejected a malformed one
        out.push(name, value);
        break;
      case "content-encoding":
        x.contentEncoding = x.contentEncoding ? `${x.contentEncoding}, ${value.toLowerCase()}` : value.toLowerCase();
        out.push(name, value);
        break;
      case "transfer-encoding":
        x.chunked = true;
        break;
      case "host":
        host = value;
        hosts++;
        break;
      case "connection":
        connection = connection ? `${connection},${value}` : value;
        break;
      case "x-forwarded-for":
        forwardedFor = forwardedFor ? `${forwardedFor}, ${value}` : value;
        break;
      case "x-forwarded-proto":
        forwardedProto = value;
        break;
      case "x-forwarded-host":
        forwardedHost = value;
        break;
    }
  }
  // RFC 9112 §3.2: an HTTP/1.1 request without Host, or with more than one (which could route one way and be
  // served another), is a 400.
  if (hosts > 1) return "more than one Host header";
  if (hosts === 0 && x.req.httpVersionMinor === 1) return "no Host header";
  if (x.req.url!.charCodeAt(0) !== 47 /* / */) {
    const authority = toOriginForm(x);
    if (authority === null) return `request target "${x.req.url}" names no path`;
    host = authority;
  }
  if (connection) dropConnectionListed(out, connection);
  const client = x.req.socket.remoteAddress ?? "";
  out.push(
    "x-forwarded-for",
    forwardedFor ? `${forwardedFor}, ${client}` : client,
    "x-forwarded-proto",
    forwardedProto || "http",
    "x-forwarded-host",
    forwardedHost || host,
  );
  x.host = host;
  return null;
}

const ABSOLUTE_FORM = /^https?:\/\/(?:[^/?#@]*@)?([^/?#]*)(.*)$/is;

/**
 * A target in absolute-form (`GET http://host/path`, as sent to a proxy) names the host itself, which then
 * replaces Host (RFC 9112 §3.2.2): the request is routed by that authority and forwarded in origin-form, path
 * bytes unchanged. Returns the authority, or null for a target that names no path (`*`, authority-form).
 */
function toOriginForm(x: Exchange): string | null {
  const match = ABSOLUTE_FORM.exec(x.req.url!);
  if (!match || match[1] === "") return null;
  const rest = match[2]!;
  x.req.url = rest === "" ? "/" : rest.charCodeAt(0) === 63 /* ? */ ? `/${rest}` : rest;
  return match[1]!;
}

/** `Connection: keep-alive` / `close` name no other header: the common case, checked without allocating. */
function namesNoHeader(connection: string): boolean {
  const n = connection.length;
  return (n === 10 || n === 5) && (connection === "keep-alive" || connection === "close" || /^(keep-alive|close)$/i.test(connection));
}

/** Removes from a flat header list the headers a Connection header names (rare: only then is this paid). */
function dropConnectionListed(headers: string[], connection: string): void {
  if (namesNoHeader(connection)) return;
  const listed = connection
    .toLowerCase()
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t && t !== "close" && t !== "keep-alive");
  if (listed.length === 0) return;
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if (listed.includes(headers[i]!.toLowerCase())) headers.splice(i, 2);
  }
}

/** Response headers to send the client: the backend's minus hop-by-hop, plus the activator's own. */
export function clientResponseHeaders(x: Exchange, headers: Record<string, string | string[] | undefined>): string[] {
  const out: string[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || RESPONSE_DROPPED.has(name)) continue;
    if (typeof value === "string") out.push(name, value);
    else for (let i = 0; i < value.length; i++) out.push(name, value[i]!);
  }
  const connection = headers["connection"];
  if (typeof connection === "string") dropConnectionListed(out, connection);
  out.push("x-activator-cold-start", x.cold ? "true" : "false");
  if (x.waitMs >= 0) out.push("x-activator-wait-ms", String(Math.round(x.waitMs)));
  return out;
}
