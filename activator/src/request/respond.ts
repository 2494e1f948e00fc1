import { ERRORS, sendError, type ErrorCode } from "../base/errors";
import { closeInStages } from "./linger";
import { releaseBuffered, type Exchange, type RequestContext } from "./exchange";

/**
 * Answers `x` with an activator error and counts it under its rejection reason. A client that cannot be
 * answered any more (headers already sent) gets its response cut instead. A request whose body is still
 * arriving is answered with `Connection: close` and its connection closed in stages (`linger.ts`), so the
 * client reads the answer instead of a reset.
 */
export function reject(ctx: RequestContext, x: Exchange, code: ErrorCode, message: string, details?: Record<string, unknown>): void {
  ctx.metrics.rejections.inc({ model: x.model?.key ?? "", reason: ERRORS[code].reason });
  releaseBuffered(x);
  x.body = null;
  x.bodyChunks = null;
  if (x.upgradeSocket !== null || ((x.contentLength > 0 || x.chunked) && !x.req.complete)) {
    x.res.shouldKeepAlive = false;
    closeInStages(x.res.socket ?? x.req.socket);
  }
  if (!sendError(x.res, code, message, details)) x.res.destroy();
}
