/**
 * Chain step 3, counting and holding: a routed request counts as pending at once. It goes straight on when its
 * model has a ready replica, nothing queued ahead and a free slot; otherwise it is held (bounded per model and
 * globally), activation is pushed to KEDA, and the model's state releases it in arrival order.
 */
import { failureDetails, failureMessage } from "../health/failure";
import { Phase, reserveBuffered, UNREAD_BODY_READ_AHEAD_BYTES, type Exchange, type RequestContext } from "../request/exchange";
import { reject } from "../request/respond";
import type { ModelState } from "./modelState";

/** A request as holding sees it: routed to a model state. */
export type HeldExchange = Exchange<ModelState>;

/** True when `x` may be forwarded now (it is then counted in flight); false when it was held or rejected. */
export function admit(ctx: RequestContext, x: HeldExchange): boolean {
  const model = x.model!;
  if (model.removed) {
    // Routed by the previous config while its body was read; that model (and its pool) has just been removed.
    reject(ctx, x, "model_removed", `model ${model.key} was removed from the configuration`, { model: model.key });
    return false;
  }
  model.noteArrival();
  if (model.canForwardNow()) {
    model.servedWarm.inc();
    model.startFlight(x);
    return true;
  }
  if (model.failure && !model.readiness.ready) {
    // Known not to start (CrashLoopBackOff, image pull, unschedulable, ...): answered now, not at the cold-start timeout.
    reject(ctx, x, "model_cannot_start", failureMessage(model.key, model.failure), failureDetails(model.key, model.failure));
    return false;
  }
  if (model.held >= model.config.maxPending) {
    reject(ctx, x, "model_queue_full", `model ${model.key} already holds ${model.held} requests (maxPending)`, { model: model.key });
    return false;
  }
  if (model.totals.held >= ctx.limits.maxPendingTotal) {
    reject(ctx, x, "global_queue_full", `the activator already holds ${model.totals.held} requests (limits.maxPendingTotal)`, {
      model: model.key,
    });
    return false;
  }
  // A body not read yet still costs what Node read ahead of it: counted, so held bodies are bounded in bytes.
  if (x.body === null && (x.contentLength > 0 || x.chunked) && x.bufferedBytes === 0 && !reserveBuffered(x, UNREAD_BODY_READ_AHEAD_BYTES)) {
    const budget = ctx.limits.maxBufferedBodyBytes;
    reject(ctx, x, "body_buffer_full", `the activator already holds ${ctx.buffered.bytes} bytes of request bodies (limits.maxBufferedBodyBytes ${budget})`, {
      model: model.key,
    });
    return false;
  }
  holdFor(ctx, x, model, false);
  return false;
}

/**
 * A request that failed before any model server received it (connection refused, connect timeout, host
 * unreachable: the replica just went away, or is not reachable yet). It is not answered with an error: it is held
 * again, at the front of the queue, like a request for a cold model, for what is left of its cold-start budget
 * (counted from its arrival); readiness is told the replica is not ready so it waits for the watch to see one.
 */
export function holdAgain(ctx: RequestContext, x: HeldExchange, why: string): void {
  const model = x.model!;
  model.readiness.markUnready(why); // first: ending the flight may release others
  model.endFlight(x);
  x.retries++;
  if (performance.now() - x.arrivedAt >= model.coldStartTimeoutMs) {
    x.phase = Phase.Done;
    rejectColdStart(ctx, x, model);
    return;
  }
  holdFor(ctx, x, model, true);
  model.drain(); // still ready (the watch disagreed)? then it goes again now
}

function holdFor(ctx: RequestContext, x: HeldExchange, model: ModelState, retry: boolean): void {
  model.hold(x, retry);
  // The budget counts from arrival: a request held again after a failed forward keeps only what is left of it.
  const left = model.coldStartTimeoutMs - (retry ? performance.now() - x.arrivedAt : 0);
  x.holdTimer = setTimeout(onHoldTimeout, Math.max(0, left), ctx, x);
  // A retried request is a new activation: its push latency counts from now, not from its first arrival.
  if (x.cold) model.activationNeeded(retry ? performance.now() : x.arrivedAt);
}

function onHoldTimeout(ctx: RequestContext, x: HeldExchange): void {
  const model = x.model!;
  x.holdTimer = null;
  model.unhold(x, "timeout");
  rejectColdStart(ctx, x, model);
}

function rejectColdStart(ctx: RequestContext, x: HeldExchange, model: ModelState): void {
  const seconds = model.config.coldStartTimeoutSeconds;
  const message = model.readiness.ready
    ? `model ${model.key} had no free concurrency slot within ${seconds}s`
    : `model ${model.key} had no ready replica within ${seconds}s`;
  reject(ctx, x, "cold_start_timeout", message, { model: model.key, lastObserved: model.readiness.lastObserved });
}

/**
 * Moves a held request to another model state (a canary removed by a reload, or one that cannot start: its stable),
 * queued behind what that state holds, with what is left of its cold-start budget counted from its arrival. `cause`
 * ends it on the old state (outcome `failed`). Nothing is answered: the request waits for, or goes to, the new state.
 */
export function moveHeld(x: HeldExchange, to: ModelState, cause: string): void {
  x.model!.unhold(x, "failed", cause);
  x.model = to;
  x.cold = false;
  to.hold(x, false);
  const left = to.coldStartTimeoutMs - (performance.now() - x.arrivedAt);
  x.holdTimer = setTimeout(onHoldTimeout, Math.max(0, left), x.ctx, x);
  if (x.cold) to.activationNeeded(performance.now());
  to.drain();
}

/** The client left while its request was held: it stops counting at once. */
export function abandonHeld(x: HeldExchange): void {
  x.model!.unhold(x, "client_gone");
}
