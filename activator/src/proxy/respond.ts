import { ERRORS, sendError, type ErrorCode } from "../errors";
import type { ProxyContext } from "./context";
import type { Exchange } from "./exchange";

/**
 * Answers `x` with an activator error and counts it under its rejection reason. A client that cannot be
 * answered any more (headers already sent) gets its response cut instead.
 */
export function reject(ctx: ProxyContext, x: Exchange, code: ErrorCode, message: string, details?: Record<string, unknown>): void {
  ctx.metrics.rejections.inc({ model: x.model?.key ?? "", reason: ERRORS[code].reason });
  // A body still arriving (413, early rejections) would have to be drained before the connection is reused.
  if ((x.contentLength > 0 || x.chunked) && !x.req.complete) x.res.shouldKeepAlive = false;
  if (!sendError(x.res, code, message, details)) x.res.destroy();
}
