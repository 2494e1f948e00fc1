import { IncomingMessage, ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import type { FifoNode } from "../holding/fifo";
import type { ModelState } from "../holding/modelState";
import type { ProxyContext } from "./context";
import { onForwardData, onForwardEnd, onForwardError, onForwardHeaders } from "./forward";

/** Where an exchange is in the chain; each step moves it forward, `finishExchange` closes it. */
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

/**
 * Everything the chain knows about one request: the one object allocated per request. It is also the node
 * the hold queue links, and the undici dispatch handler (the callbacks live in `forward.ts`).
 */
export class Exchange implements FifoNode<Exchange>, Dispatcher.DispatchHandler {
  phase = Phase.Routing;
  model: ModelState | null = null;
  /** The Host header as received; routing normalizes it (lowercase, no port). */
  host = "";
  /** Request headers to send upstream (flat name/value list), hop-by-hop removed, X-Forwarded-* added. */
  upstreamHeaders: string[] = [];
  /** Declared request body length; -1 without Content-Length. */
  contentLength = -1;
  /** The body arrives with Transfer-Encoding: chunked (length unknown). */
  chunked = false;
  /** The body, when it had to be read for routing (forwarded byte for byte). */
  body: Buffer | null = null;
  bodyChunks: Buffer[] | null = null;
  bodyBytes = 0;
  /** Where routing continues once the body named the model. */
  afterBody: ((x: Exchange, model: ModelState) => void) | null = null;
  /** Held because the model had no ready replica (header `x-activator-cold-start`). */
  cold = false;
  /** Milliseconds spent held, or -1 when never held. */
  waitMs = -1;
  holdTimer: NodeJS.Timeout | null = null;
  /** A refused connection was already retried once. */
  retried = false;
  controller: Dispatcher.DispatchController | null = null;
  forwardedAt = 0;
  /** Arrived pipelined behind another request of its connection (its response had no socket yet). */
  pipelined = false;

  prev: Exchange | null = null;
  next: Exchange | null = null;
  queued = false;

  constructor(
    readonly ctx: ProxyContext,
    readonly req: ProxyRequest,
    readonly res: ProxyResponse,
    /** performance.now() when the request arrived. */
    readonly arrivedAt: number,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.phase !== Phase.InFlight) controller.abort(new Error("client left"));
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>): void {
    if (status >= 200) onForwardHeaders(this, status, headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    onForwardData(this, controller, chunk);
  }

  onResponseEnd(): void {
    onForwardEnd(this);
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    onForwardError(this, err);
  }
}

/** The proxy server's request and response classes: they carry their exchange for shared event handlers. */
export class ProxyRequest extends IncomingMessage {
  exchange: Exchange | null = null;
}

export class ProxyResponse extends ServerResponse<ProxyRequest> {
  exchange: Exchange | null = null;
}
