/**
 * One client request as every layer sees it: the bottom of the activator's layers. `proxy/` (the chain) and
 * `holding/` (queues, model state) both build on it; it imports neither. Generic over the model state (`M`) and
 * the context (`C`) so this file knows nothing of them.
 */
import { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Logger } from "pino";
import type { Dispatcher } from "undici";
import type { Metrics } from "../base/metrics";

/** Where an exchange is in the chain; each step moves it forward, the chain's finish step closes it. */
export enum Phase {
  /** Being routed (possibly reading the body for its OpenAI `model` field). */
  Routing,
  /** Counted as pending, waiting for a ready replica or a free slot. */
  Held,
  /** Forwarded to the backend. */
  InFlight,
  /** Answered, rejected or abandoned; counted nowhere. */
  Done,
}

/** Request limits every layer reads (from `limits` in the config; swapped on reload). */
export interface RequestLimits {
  maxBodyBytes: number;
  maxPendingTotal: number;
  /** Bytes of request bodies held in memory across all requests (`limits.maxBufferedBodyBytes`). */
  maxBufferedBodyBytes: number;
}

/** What every layer reads from the context (the proxy's own context extends it). */
export interface RequestContext {
  limits: RequestLimits;
  /** Request body bytes held in memory right now, across all requests (bounded by `limits.maxBufferedBodyBytes`). */
  readonly buffered: { bytes: number };
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/** What the request layer needs of a model: its key (metrics, errors). */
export interface ExchangeModel {
  readonly key: string;
}

/** The proxy server's request and response classes: they carry their exchange for shared event handlers. */
export class ProxyRequest extends IncomingMessage {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each layer reads it as its own Exchange type
  exchange: Exchange<any, any> | null = null;
}

export class ProxyResponse extends ServerResponse<ProxyRequest> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each layer reads it as its own Exchange type
  exchange: Exchange<any, any> | null = null;
}

/**
 * Everything the chain knows about one request: the one object allocated per request (plus one dispatch
 * handler per forwarding attempt). It is also the node the hold queue links.
 */
export class Exchange<M extends ExchangeModel = ExchangeModel, C extends RequestContext = RequestContext> {
  phase = Phase.Routing;
  model: M | null = null;
  /** The Host header as received; routing normalizes it (lowercase, no port). */
  host = "";
  /** Request headers to send upstream (flat name/value list), hop-by-hop removed, X-Forwarded-* added. */
  upstreamHeaders: string[] = [];
  /** Declared request body length; -1 without Content-Length. */
  contentLength = -1;
  /** The body arrives with Transfer-Encoding: chunked (length unknown). */
  chunked = false;
  /** `Content-Encoding` of the request body, lowercased; "" when absent. */
  contentEncoding = "";
  /** The client sent `Expect: 100-continue` and has not been told to go on yet (see `grantContinue`). */
  expectContinue = false;
  /** The `Upgrade` protocol of a request Node handed over as an upgrade (`websocket`); "" otherwise. */
  upgrade = "";
  /** For an upgrade: the client socket (no ServerResponse owns it) and the bytes read past the head. */
  upgradeSocket: Socket | null = null;
  upgradeHead: Buffer | null = null;
  /** The body, when it had to be read for routing (forwarded byte for byte). */
  body: Buffer | null = null;
  bodyChunks: Buffer[] | null = null;
  bodyBytes = 0;
  /** Bytes of this exchange counted in `ctx.buffered` (returned when the body is no longer needed). */
  bufferedBytes = 0;
  /** Held because the model had no ready replica (header `x-activator-cold-start`). */
  cold = false;
  /** Milliseconds spent held, or -1 when never held. */
  waitMs = -1;
  holdTimer: NodeJS.Timeout | null = null;
  /** Times the request went back to the queue after failing before any model server received it. */
  retries = 0;
  /** Already sent again on a fresh connection after a connection closed before answering (done once at most). */
  sentFresh = false;
  /** The current forwarding attempt's controller (abort when the client leaves). */
  controller: Dispatcher.DispatchController | null = null;
  forwardedAt = 0;
  /** Base URL of the replica the current attempt went to (../holding/replicas); "" for the Service address. */
  endpoint = "";
  /** SHA-256 hex digest of the request's accepted API key (auth on); null otherwise. The canary draw's sticky key. */
  apiKeyDigest: string | null = null;
  /** The prompt's leading part, hashed for prefix-affine replica choice (../routing/prefixKey); null without one. */
  affinityKey: string | null = null;
  /** Arrived pipelined behind another request of its connection (its response had no socket yet). */
  pipelined = false;
  /** An upgrade the backend accepted (101): the connection is a tunnel now. */
  tunnelled = false;

  prev: Exchange<M, C> | null = null;
  next: Exchange<M, C> | null = null;
  queued = false;

  constructor(
    readonly ctx: C,
    readonly req: ProxyRequest,
    readonly res: ProxyResponse,
    /** performance.now() when the request arrived. */
    readonly arrivedAt: number,
  ) {}
}

/**
 * What a held request whose body is not read yet costs in memory anyway: Node's HTTP parser reads one chunk of up
 * to 64 KiB from the socket into the request's buffer (highWaterMark 16 KiB) before it stops reading. Measured:
 * about 73 KiB of RSS per request held with an unread 1 MiB body (docs/performance.md, held bodies). Charged to
 * the buffered-bytes budget while the request is held, so such requests are bounded in bytes too.
 */
export const UNREAD_BODY_READ_AHEAD_BYTES = 80 * 1024;

/** Counts `bytes` of request body held in memory for `x`; false (nothing counted) when the budget is spent. */
export function reserveBuffered(x: Exchange, bytes: number): boolean {
  const buffered = x.ctx.buffered;
  if (buffered.bytes + bytes > x.ctx.limits.maxBufferedBodyBytes) return false;
  buffered.bytes += bytes;
  x.bufferedBytes += bytes;
  return true;
}

/** Returns `bytes` (default: all) of what `x` counted in the buffered-bytes budget (its body is dropped, or no longer needed). */
export function releaseBuffered(x: Exchange, bytes = x.bufferedBytes): void {
  x.ctx.buffered.bytes -= bytes;
  x.bufferedBytes -= bytes;
}

/**
 * Tells a client that sent `Expect: 100-continue` to send its body: called only where the body is about to be
 * read (routing by its `model` field, forwarding). A request refused before that never gets a 100 (RFC 9110
 * §10.1.1: a server that answers a final status instead need not read the body).
 */
export function grantContinue(x: Exchange): void {
  if (!x.expectContinue) return;
  x.expectContinue = false;
  if (!x.res.headersSent && !x.res.destroyed) x.res.writeContinue();
}
