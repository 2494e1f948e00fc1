/**
 * Chain step 3, counting and holding: a routed request counts as pending at once. It goes straight on when its
 * model has a ready replica, nothing queued ahead and a free slot; otherwise it is held (bounded per model and
 * globally), activation is pushed to KEDA, and the model's state releases it in arrival order.
 */
import type { ProxyContext } from "../proxy/context";
import type { Exchange } from "../proxy/exchange";
import { reject } from "../proxy/respond";
import { failureDetails, failureMessage } from "../health/failure";
import type { ModelState } from "./modelState";

/** True when `x` may be forwarded now (it is then counted in flight); false when it was held or rejected. */
export function admit(ctx: ProxyContext, x: Exchange): boolean {
  const model = x.model!;
  if (model.removed) {
    // Routed by the previous config while its body was read; that model (and its pool) has just been removed.
    reject(ctx, x, "model_removed", `model ${model.key} was removed from the configuration`, { model: model.key });
    return false;
  }
  if (model.canForwardNow()) {
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
  if (ctx.registry.totals.held >= ctx.limits.maxPendingTotal) {
    reject(ctx, x, "global_queue_full", `the activator already holds ${ctx.registry.totals.held} requests (limits.maxPendingTotal)`, {
      model: model.key,
    });
    return false;
  }
  holdFor(ctx, x, model, false);
  return false;
}

/**
 * A request whose backend refused the connection before any byte was sent: the replica just went away. It is
 * held again at the front of the queue, once.
 */
export function holdAgain(ctx: ProxyContext, x: Exchange): void {
  const model = x.model!;
  model.readiness.markUnready("connection refused by the backend"); // first: ending the flight may release others
  model.endFlight(x);
  x.retried = true;
  holdFor(ctx, x, model, true);
  model.drain(); // still ready (the watch disagreed)? then it goes again now
}

function holdFor(ctx: ProxyContext, x: Exchange, model: ModelState, retry: boolean): void {
  model.hold(x, retry);
  x.holdTimer = setTimeout(onHoldTimeout, model.coldStartTimeoutMs, ctx, x);
  // A retried request is a new activation: its push latency counts from now, not from its first arrival.
  if (x.cold) ctx.registry.activationNeeded(model, retry ? performance.now() : x.arrivedAt);
}

function onHoldTimeout(ctx: ProxyContext, x: Exchange): void {
  const model = x.model!;
  x.holdTimer = null;
  model.unhold(x);
  const seconds = model.config.coldStartTimeoutSeconds;
  const message = model.readiness.ready
    ? `model ${model.key} had no free concurrency slot within ${seconds}s`
    : `model ${model.key} had no ready replica within ${seconds}s`;
  reject(ctx, x, "cold_start_timeout", message, { model: model.key, lastObserved: model.readiness.lastObserved });
}

/** The client left while its request was held: it stops counting at once. */
export function abandonHeld(x: Exchange): void {
  x.model!.unhold(x);
}
