/**
 * Queue load scaling, folded into what the KEDA external scaler reads (../scaler/activity.ts `ModelActivity`), so queue
 * backlog reaches KEDA through the model's one `external-push` trigger:
 * - active: the model is also active while its backlog is at least `activationMessages` (`activeNow`), so KEDA wakes
 *   it from zero and does not scale it to zero while work waits;
 * - one more metric of the trigger, `activator-queue-<model>`, value = backlog (messages), target =
 *   `messagesPerReplica` (KEDA `targetSizeFloat`). KEDA makes one AverageValue HPA metric per spec the scaler returns
 *   (kedacore/keda v2.20.2 pkg/scalers/external_scaler.go GetMetricSpecForScaling, GetMetricTargetMili), and passes
 *   the value on, preferring `metricValueFloat` when > 0 (GetMetricsAndActivity); the HPA turns an AverageValue
 *   external metric into ceil(value / target) replicas (kubernetes pkg/controller/podautoscaler/replica_calculator.go
 *   GetExternalPerPodMetricReplicas) and takes the largest over the metrics. So replicas = max(ceil(HTTP demand /
 *   targetConcurrency), ceil(backlog / messagesPerReplica), the vLLM metrics), exactly as HTTP demand and the engine
 *   gauges already compose.
 * - activation: with `onBacklogActivated` (./depths.ts `QueueDepths.onActivated`), a read that turns the model active is
 *   an activation event like a request at a cold model (`onActivationNeeded`, without an arrival time), so the scaler
 *   pushes `true` on KEDA's stream at once instead of at the next heartbeat (up to `activation.heartbeatSeconds`).
 * HTTP demand (`demand`) is left as it is: messages and requests in flight are different units with their own targets.
 */
import type { ModelActivity, ScalingMetric } from "../scaler/activity";
import type { ModelQueueView } from "./depths";

/** Suffix of the queue metric's name: `activator-queue-<model>` (../scaler/server.ts metricNameFor). */
export const QUEUE_METRIC_SUFFIX = "queue";

export function withQueueDemand(
  inner: ModelActivity,
  backlog: (modelKey: string) => ModelQueueView | undefined,
  onBacklogActivated?: (listener: (modelKey: string) => void) => () => void,
): ModelActivity {
  return {
    has: (key) => inner.has(key),
    demand: (key) => inner.demand(key),
    lastActivityAt: (key) => inner.lastActivityAt(key),
    onRequest: (listener) => inner.onRequest?.(listener) ?? (() => {}),
    targetConcurrency: (key) => inner.targetConcurrency(key),
    onActivationNeeded(listener) {
      const fromRequests = inner.onActivationNeeded(listener);
      const fromBacklog = onBacklogActivated?.((key) => listener(key)) ?? (() => {});
      return () => {
        fromRequests();
        fromBacklog();
      };
    },
    activeNow: (key) => (inner.activeNow?.(key) ?? false) || (backlog(key)?.active ?? false),
    extraMetrics(key): ScalingMetric[] {
      const metrics = inner.extraMetrics?.(key) ?? [];
      const view = backlog(key);
      return view ? [...metrics, { suffix: QUEUE_METRIC_SUFFIX, target: view.messagesPerReplica, value: view.depth }] : metrics;
    },
  };
}
