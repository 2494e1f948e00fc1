/**
 * The stack's Prometheus alerting rules, as plain data (a Prometheus rule file's `groups`), for the PrometheusRule
 * the `Observability` component creates and for `promtool` in the tests.
 *
 * Metric names and labels, and where they come from:
 * - activator: `activator/src/base/metrics.ts` (`model` = `<namespace>/<name>`; see activator/README.md).
 * - DCGM exporter 4.8.2 (chart 4.8.2, image 4.5.3-4.8.2): `DCGM_FI_DEV_FB_USED`, `_FB_FREE`, `_FB_RESERVED` in MiB,
 *   from its default counters (NVIDIA/dcgm-exporter, etc/default-counters.csv at tag 4.5.3-4.8.2); total
 *   framebuffer = used + free + reserved. Label `Hostname` is the node name (internal/pkg/hostname/hostname.go reads
 *   `NODE_NAME`, which the chart's DaemonSet sets from spec.nodeName), `gpu` the index.
 * - KEDA v2.20.2 (kedacore/keda pkg/metricscollector/prommetrics.go): `keda_scaler_detail_errors_total{namespace,
 *   scaledObject, scaler, triggerIndex, metric, type}` and `keda_scaled_object_errors_total{namespace, scaledObject}`.
 * - kube-state-metrics (kube-prometheus-stack): `kube_deployment_status_replicas`, `kube_pod_container_resource_limits
 *   {resource="memory"}`, `kube_pod_container_status_restarts_total`; cAdvisor via the kubelet:
 *   `container_memory_working_set_bytes` (what the kubelet compares with the limit before an OOM kill).
 */
import type { AlertThresholds } from "../../config/alerts";

/** A model as the rules see it: its activator key and scale-to-zero timing. */
export interface AlertedModel {
    /** `<namespace>/<name>`, the activator's `model` label. */
    key: string;
    minReplicas: number;
    cooldownSeconds: number;
    pollingSeconds: number;
}

export interface AlertRuleContext {
    /** Namespace of the activator pods (container `activator`). */
    activatorNamespace: string;
    models: readonly AlertedModel[];
}

export interface AlertingRule {
    alert: string;
    expr: string;
    for?: string;
    labels: { severity: "warning" | "critical" };
    annotations: { summary: string; description: string };
}

export interface RuleGroup {
    name: string;
    rules: AlertingRule[];
}

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };

/** Seconds in a Prometheus duration (`1h30m`, `15m`); throws on anything else. */
export function durationSeconds(duration: string): number {
    const parts = [...duration.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)];
    if (parts.length === 0 || parts.map((p) => p[0]).join("") !== duration) throw new Error(`${JSON.stringify(duration)} is not a Prometheus duration`);
    return parts.reduce((sum, p) => sum + Number(p[1]) * UNIT_SECONDS[p[2]!]!, 0);
}

/** A PromQL regex matching exactly these label values. */
function exactly(values: readonly string[]): string {
    return values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\\\$&")).join("|");
}

/**
 * The idle window of `ModelPinnedWhileIdle`: the longer of `alerts.modelIdleFor` and the longest cooldown +
 * polling interval of the scale-to-zero models + 2 minutes (KEDA scales to zero only after `cooldownPeriod`).
 */
export function idleWindow(thresholds: AlertThresholds, models: readonly AlertedModel[]): string {
    const toZero = models.filter((m) => m.minReplicas === 0);
    const longest = Math.max(0, ...toZero.map((m) => m.cooldownSeconds + m.pollingSeconds + 120));
    const seconds = Math.max(durationSeconds(thresholds.modelIdleFor), longest);
    return `${Math.ceil(seconds / 60)}m`;
}

/**
 * Seconds without a call from KEDA, while requests are held, after which `KedaScalerStalled` fires: three of the
 * longest polling intervals (KEDA calls IsActive once per `pollingSeconds`), at least 120 s.
 */
export function kedaStallSeconds(models: readonly AlertedModel[]): number {
    return Math.max(120, 3 * Math.max(0, ...models.map((m) => m.pollingSeconds)));
}

/** Alert groups for the stack: `gpu-serverless.models`, `gpu-serverless.gpu`, `gpu-serverless.keda`, `gpu-serverless.activator`. */
export function alertRuleGroups(t: AlertThresholds, ctx: AlertRuleContext): RuleGroup[] {
    const act = `namespace="${ctx.activatorNamespace}", container="activator"`;
    const toZero = ctx.models.filter((m) => m.minReplicas === 0).map((m) => m.key);
    const window = idleWindow(t, ctx.models);
    const failedOutcomes = `outcome=~"timeout|failed"`;

    const models: AlertingRule[] = [
        {
            alert: "ModelHeldRequestsHigh",
            expr: `sum by (model) (activator_held_requests) > ${t.heldRequests}`,
            for: t.heldRequestsFor,
            labels: { severity: "warning" },
            annotations: {
                summary: "Model {{ $labels.model }} has {{ $value }} requests held",
                description: `More than ${t.heldRequests} requests for {{ $labels.model }} have been held by the activator for ${t.heldRequestsFor}: the model is not getting replicas (cold start stuck, GPU capacity, KEDA) or has too few for its load.`,
            },
        },
        {
            alert: "ModelColdStartsFailing",
            expr: `sum by (model, outcome, cause) (increase(activator_cold_starts_total{${failedOutcomes}}[${t.coldStartFailuresWindow}])) >= ${t.coldStartFailures}`,
            labels: { severity: "critical" },
            annotations: {
                summary: "Cold starts of {{ $labels.model }} end in {{ $labels.outcome }} {{ $labels.cause }}",
                description: `{{ $value }} cold starts of {{ $labels.model }} ended without a ready replica (outcome {{ $labels.outcome }}, cause {{ $labels.cause }}) in the last ${t.coldStartFailuresWindow}: its clients got errors. Check the predictor pods, their events and the GPU node group.`,
            },
        },
        {
            alert: "ModelLatencyHigh",
            expr: `histogram_quantile(0.99, sum by (model, le) (rate(activator_proxy_latency_seconds_bucket{model!=""}[5m]))) > ${t.latencyP99Seconds}`,
            for: t.degradedFor,
            labels: { severity: "warning" },
            annotations: {
                summary: "p99 latency of {{ $labels.model }} is {{ $value | humanizeDuration }}",
                description: `The 99th percentile of the time from forwarding a request to {{ $labels.model }} until its response headers has been above ${t.latencyP99Seconds}s for ${t.degradedFor}.`,
            },
        },
        {
            alert: "ModelErrorRateHigh",
            expr:
                `sum by (model) (rate(activator_requests_total{model!="", status=~"5.."}[5m]))` +
                ` / sum by (model) (rate(activator_requests_total{model!=""}[5m])) > ${t.errorRatio}`,
            for: t.degradedFor,
            labels: { severity: "warning" },
            annotations: {
                summary: "{{ $value | humanizePercentage }} of requests to {{ $labels.model }} fail",
                description: `More than ${t.errorRatio * 100}% of the requests answered for {{ $labels.model }} have had a 5xx status for ${t.degradedFor} (backend errors, timeouts, full queues; see activator_rejections_total by reason).`,
            },
        },
    ];
    if (toZero.length > 0) {
        // kube-state-metrics names the predictor Deployment `<name>-predictor` in the model's namespace; label_join
        // turns it into the activator's `<namespace>/<name>` key.
        const replicas =
            `max by (model) (label_join(label_replace(kube_deployment_status_replicas{deployment=~".+-predictor"}, ` +
            `"name", "$1", "deployment", "(.+)-predictor"), "model", "/", "namespace", "name"))`;
        const scoped = `model=~"${exactly(toZero)}"`;
        models.push({
            alert: "ModelPinnedWhileIdle",
            expr:
                `${replicas} > 0` +
                ` and on (model) (sum by (model) (increase(activator_requests_served_warm_total{${scoped}}[${window}])) + sum by (model) (increase(activator_requests_held_total{${scoped}}[${window}])) == 0)` +
                ` and on (model) (sum by (model) (max_over_time(activator_in_flight_requests{${scoped}}[${window}])) == 0)`,
            for: "5m",
            labels: { severity: "warning" },
            annotations: {
                summary: "Model {{ $labels.model }} keeps {{ $value }} replicas with no traffic",
                description: `{{ $labels.model }} scales to zero but has had replicas and no request for ${window}: it keeps a GPU node up. Check the ScaledObject (KEDA errors block scale-to-zero) and the activator's demand for it (/queue).`,
            },
        });
    }

    const gpu: AlertingRule[] = [
        {
            alert: "GpuMemoryNearlyFull",
            expr: `DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE + DCGM_FI_DEV_FB_RESERVED) > ${t.gpuMemoryUsage}`,
            for: "5m",
            labels: { severity: "warning" },
            annotations: {
                summary: "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} uses {{ $value | humanizePercentage }} of its memory",
                description: `Framebuffer memory in use has been above ${t.gpuMemoryUsage * 100}% of the total for 5 minutes: the model server may fail to allocate (CUDA out of memory). vLLM takes --gpu-memory-utilization (0.9) of a GPU up front.`,
            },
        },
    ];

    const keda: AlertingRule[] = [
        {
            alert: "KedaScalerErrors",
            expr: `sum by (namespace, scaledObject, scaler, triggerIndex) (increase(keda_scaler_detail_errors_total[5m])) > 0`,
            for: t.kedaErrorsFor,
            labels: { severity: "warning" },
            annotations: {
                summary: "KEDA trigger {{ $labels.triggerIndex }} ({{ $labels.scaler }}) of {{ $labels.namespace }}/{{ $labels.scaledObject }} fails",
                description: `KEDA has been failing to read this trigger for ${t.kedaErrorsFor}. KEDA scales to zero only when no trigger errors, so the model's replicas (and its GPU node) stay up.`,
            },
        },
        {
            alert: "KedaScaledObjectErrors",
            expr: `sum by (namespace, scaledObject) (increase(keda_scaled_object_errors_total[5m])) > 0`,
            for: t.kedaErrorsFor,
            labels: { severity: "warning" },
            annotations: {
                summary: "ScaledObject {{ $labels.namespace }}/{{ $labels.scaledObject }} reports errors",
                description: `KEDA has been reporting errors for this ScaledObject for ${t.kedaErrorsFor}: scaling decisions for its model are blocked (kubectl describe scaledobject).`,
            },
        },
    ];

    const stall = kedaStallSeconds(ctx.models);
    keda.push({
        // KEDA v2.20.2 dials the external scaler with no keepalive and no deadline (pkg/scalers/external_scaler.go),
        // and keeps one connection on one activator replica: if that replica's node vanishes without a FIN, KEDA
        // notices only when TCP gives up (~15 minutes). No KEDA setting changes that; the KEDA relay in KEDA's pod
        // (activator/src/kedaRelay) closes such a connection within 20 s, and this alert shows whatever it misses.
        alert: "KedaScalerStalled",
        expr:
            `max by (model) (activator_held_requests) > 0` +
            ` and on (model) (time() - max by (model) (activator_keda_last_call_timestamp_seconds)) > ${stall}`,
        for: "1m",
        labels: { severity: "critical" },
        annotations: {
            summary: "KEDA has not called the activator about {{ $labels.model }} while its requests are held",
            description: `Requests for {{ $labels.model }} are held, and no activator replica has had a call from KEDA about it for more than ${stall} s: KEDA's connection to the scaler Service is likely stalled (a replica gone without closing it, and the keda-relay container of the KEDA operator's pod not closing it either), so the model is not scaled up. Restart the KEDA operator (kubectl -n keda rollout restart deployment keda-operator) to make it reconnect.`,
        },
    });

    const activator: AlertingRule[] = [
        {
            alert: "ActivatorMemoryNearLimit",
            expr:
                `max by (namespace, pod) (container_memory_working_set_bytes{${act}})` +
                ` / max by (namespace, pod) (kube_pod_container_resource_limits{${act}, resource="memory"}) > ${t.activatorMemoryUsage}`,
            for: "5m",
            labels: { severity: "warning" },
            annotations: {
                summary: "Activator {{ $labels.pod }} uses {{ $value | humanizePercentage }} of its memory limit",
                description: `The activator's working set has been above ${t.activatorMemoryUsage * 100}% of its limit for 5 minutes. An OOM kill drops every held and in-flight request; raise activator.memory or lower its limits.`,
            },
        },
        {
            alert: "ActivatorRestarting",
            expr: `sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total{${act}}[15m])) >= ${t.activatorRestarts}`,
            labels: { severity: "critical" },
            annotations: {
                summary: "Activator {{ $labels.pod }} restarted",
                description: `The activator container restarted {{ $value }} times in 15 minutes: its held and in-flight requests were lost (kubectl -n ${ctx.activatorNamespace} describe pod {{ $labels.pod }}: OOMKilled?).`,
            },
        },
        {
            // activator/src/lifecycle/lifecycle.ts: an error no handler caught is counted by kind; with requests held or
            // in flight the replica drains and exits 1 (its counts, which KEDA scales on, may be wrong), else it serves on.
            alert: "ActivatorUncaughtErrors",
            expr: `sum by (namespace, pod, kind) (increase(activator_uncaught_exceptions_total[15m])) > 0`,
            labels: { severity: "warning" },
            annotations: {
                summary: "Activator {{ $labels.pod }}: {{ $value }} {{ $labels.kind }} in 15 minutes",
                description:
                    "An error no handler caught escaped in the activator (a bug: its log line says uncaughtException or unhandledRejection). With requests held or in flight the replica drained and exited 1 (ActivatorRestarting may follow); with none it kept serving.",
            },
        },
    ];

    return [
        { name: "gpu-serverless.models", rules: models },
        { name: "gpu-serverless.gpu", rules: gpu },
        { name: "gpu-serverless.keda", rules: keda },
        { name: "gpu-serverless.activator", rules: activator },
    ];
}
