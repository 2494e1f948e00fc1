/**
 * The stack's Grafana dashboard, as plain data (Grafana dashboard JSON, schema version 39), provisioned through
 * kube-prometheus-stack's Grafana sidecar as a ConfigMap labelled `grafana_dashboard: "1"` (the chart's
 * `grafana.sidecar.dashboards.label` / `labelValue`, searched in every namespace by default).
 *
 * Metric names: the activator's (`activator/src/base/metrics.ts`); vLLM's (vllm-project/vllm vllm/v1/metrics/loggers.py:
 * `vllm:time_to_first_token_seconds` histogram, `vllm:generation_tokens` / `vllm:prompt_tokens` counters, exposed with
 * `_total`), scraped through each model's ServiceMonitor (labels `namespace`, `service` = `<name>-predictor`); DCGM
 * exporter's `DCGM_FI_DEV_GPU_UTIL` (%) and `DCGM_FI_DEV_FB_*` (MiB) with `Hostname` = node name; kube-state-metrics'
 * `kube_deployment_spec_replicas`, `kube_deployment_status_replicas_ready` and `kube_node_labels` (with the node-group
 * label allowed, see `nodeGroupLabel`); cAdvisor's `container_*`.
 */

/** The node label every node group carries (components/domain/nodeGroups.ts), as kube-state-metrics exports it. */
export const nodeGroupLabel = { kubernetes: "gpu-serverless.io/node-group", kubeStateMetrics: "label_gpu_serverless_io_node_group" } as const;

/** Label and value of the ConfigMaps the chart's Grafana sidecar loads (kube-prometheus-stack values.yaml 88.5.3). */
export const grafanaDashboardLabel = { key: "grafana_dashboard", value: "1" } as const;

export interface DashboardOptions {
    /** Namespace of the activator pods (container `activator`). */
    activatorNamespace: string;
}

export interface PanelTarget {
    expr: string;
    legendFormat: string;
    refId: string;
}

export interface Panel {
    id: number;
    type: "timeseries" | "row";
    title: string;
    gridPos: { x: number; y: number; w: number; h: number };
    datasource?: { type: "prometheus"; uid: "${datasource}" };
    targets?: PanelTarget[];
    fieldConfig?: { defaults: { unit: string; min?: number; max?: number }; overrides: unknown[] };
    description?: string;
}

export const dashboardUid = "gpu-serverless";

/** Only the models chosen in the `$model` variable: every configured model has an `activator_held_requests` series. */
const selected = `and on (model) activator_held_requests{model=~"$model"}`;

/** `<namespace>/<name>` as a `model` label on a series of the predictor (`service` = `<name>-predictor`). */
const byPredictorService = (expr: string) =>
    `label_join(label_replace(${expr}, "name", "$1", "service", "(.+)-predictor"), "model", "/", "namespace", "name")`;
/** The same for kube-state-metrics' Deployment series (`deployment` = `<name>-predictor`). */
const byPredictorDeployment = (expr: string) =>
    `label_join(label_replace(${expr}, "name", "$1", "deployment", "(.+)-predictor"), "model", "/", "namespace", "name")`;
/** A DCGM series with the node group of its node. */
const withNodeGroup = (expr: string) =>
    `${expr} * on (Hostname) group_left (node_group) max by (Hostname, node_group) (label_replace(label_replace(kube_node_labels{${nodeGroupLabel.kubeStateMetrics}!=""}, "Hostname", "$1", "node", "(.+)"), "node_group", "$1", "${nodeGroupLabel.kubeStateMetrics}", "(.+)"))`;

type PanelSpec = { title: string; unit: string; targets: Array<[expr: string, legend: string]>; description?: string; max?: number };

function rows(o: DashboardOptions): Array<{ title: string; panels: PanelSpec[] }> {
    const act = `namespace="${o.activatorNamespace}", container="activator"`;
    const quantiles = (metric: string, by: string, extra = "", window = "$__rate_interval") =>
        [0.5, 0.9, 0.99].map((q): [string, string] => [
            `histogram_quantile(${q}, sum by (${by}, le) (rate(${metric}_bucket{model=~"$model"${extra}}[${window}])))`,
            `{{${by}}} p${q * 100}`,
        ]);
    return [
        {
            title: "Models",
            panels: [
                {
                    title: "Replicas (desired / ready) and held requests",
                    unit: "short",
                    targets: [
                        [`max by (model) (${byPredictorDeployment("kube_deployment_spec_replicas")}) ${selected}`, "{{model}} desired"],
                        [`max by (model) (${byPredictorDeployment("kube_deployment_status_replicas_ready")}) ${selected}`, "{{model}} ready"],
                        [`sum by (model) (activator_held_requests{model=~"$model"})`, "{{model}} held"],
                    ],
                },
                {
                    title: "Cold-start duration (served, 1h window)",
                    unit: "s",
                    targets: quantiles("activator_cold_start_duration_seconds", "model", "", "1h").filter((_, i) => i !== 2),
                },
                {
                    title: "Cold starts by outcome (per hour)",
                    unit: "short",
                    targets: [[`sum by (model, outcome, cause) (increase(activator_cold_starts_total{model=~"$model"}[1h])) > 0`, "{{model}} {{outcome}} {{cause}}"]],
                },
                {
                    title: "Cold-start phases (served, mean seconds, 6h window)",
                    unit: "s",
                    targets: [
                        [
                            `sum by (phase) (increase(activator_cold_start_phase_seconds_sum{model=~"$model"}[6h])) / sum by (phase) (increase(activator_cold_start_phase_seconds_count{model=~"$model"}[6h]))`,
                            "{{phase}}",
                        ],
                    ],
                },
                {
                    title: "Request rate",
                    unit: "reqps",
                    targets: [
                        [`sum by (model) (rate(activator_requests_total{model=~"$model"}[$__rate_interval]))`, "{{model}}"],
                        [`sum by (model) (rate(activator_requests_held_total{model=~"$model", reason="no_ready_replica"}[$__rate_interval]))`, "{{model}} held for a cold start"],
                    ],
                },
                {
                    title: "Error rate (5xx share)",
                    unit: "percentunit",
                    targets: [
                        [
                            `sum by (model) (rate(activator_requests_total{model=~"$model", status=~"5.."}[$__rate_interval])) / sum by (model) (rate(activator_requests_total{model=~"$model"}[$__rate_interval]))`,
                            "{{model}}",
                        ],
                    ],
                },
                { title: "Latency to response headers", unit: "s", targets: quantiles("activator_proxy_latency_seconds", "model") },
                {
                    // Each version is a model of its own in the panels above (`<ns>/<name>-canary`); this shows the draw.
                    title: "Canary split: versions drawn and fallbacks to the stable",
                    unit: "reqps",
                    description: "Models with a canary (docs/canary.md): requests by the version drawn, and those drawn for the canary that the stable served (cannot_start, canary_cold)",
                    targets: [
                        [`sum by (model, version) (rate(activator_canary_draws_total{model=~"$model"}[$__rate_interval]))`, "{{model}} drew {{version}}"],
                        [`sum by (model, reason) (rate(activator_canary_fallbacks_total{model=~"$model"}[$__rate_interval]))`, "{{model}} fallback {{reason}}"],
                    ],
                },
                {
                    title: "vLLM time to first token",
                    unit: "s",
                    targets: [0.5, 0.9, 0.99].map((q): [string, string] => [
                        `histogram_quantile(${q}, sum by (model, le) (${byPredictorService("rate(vllm:time_to_first_token_seconds_bucket[$__rate_interval])")} ${selected}))`,
                        `{{model}} p${q * 100}`,
                    ]),
                },
                {
                    title: "vLLM tokens per second",
                    unit: "short",
                    targets: [
                        [`sum by (model) (${byPredictorService("rate(vllm:generation_tokens_total[$__rate_interval])")} ${selected})`, "{{model}} generated"],
                        [`sum by (model) (${byPredictorService("rate(vllm:prompt_tokens_total[$__rate_interval])")} ${selected})`, "{{model}} prompt"],
                    ],
                },
            ],
        },
        {
            title: "GPU nodes",
            panels: [
                { title: "GPU utilisation by node group", unit: "percent", max: 100, targets: [[`avg by (node_group) (${withNodeGroup("DCGM_FI_DEV_GPU_UTIL")})`, "{{node_group}}"]] },
                {
                    title: "GPU memory used by node group",
                    unit: "percentunit",
                    max: 1,
                    targets: [
                        [
                            `sum by (node_group) (${withNodeGroup("DCGM_FI_DEV_FB_USED")}) / sum by (node_group) (${withNodeGroup("(DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE + DCGM_FI_DEV_FB_RESERVED)")})`,
                            "{{node_group}}",
                        ],
                    ],
                },
                { title: "GPUs reporting by node group", unit: "short", targets: [[`count by (node_group) (${withNodeGroup("DCGM_FI_DEV_GPU_UTIL")})`, "{{node_group}}"]] },
            ],
        },
        {
            title: "Activator",
            panels: [
                {
                    title: "Activator memory (working set / limit)",
                    unit: "bytes",
                    targets: [
                        [`max by (pod) (container_memory_working_set_bytes{${act}})`, "{{pod}} working set"],
                        [`max by (pod) (kube_pod_container_resource_limits{${act}, resource="memory"})`, "{{pod}} limit"],
                    ],
                },
                { title: "Activator CPU", unit: "short", targets: [[`sum by (pod) (rate(container_cpu_usage_seconds_total{${act}}[$__rate_interval]))`, "{{pod}} cores"]] },
                {
                    title: "Rejections by reason",
                    unit: "reqps",
                    targets: [[`sum by (reason) (rate(activator_rejections_total[$__rate_interval]))`, "{{reason}}"]],
                },
                {
                    title: "Activator restarts and KEDA activation push",
                    unit: "short",
                    targets: [
                        [`sum by (pod) (increase(kube_pod_container_status_restarts_total{${act}}[1h]))`, "{{pod}} restarts (1h)"],
                        [`histogram_quantile(0.99, sum by (le) (rate(activator_activation_push_seconds_bucket[$__rate_interval]))) * 1000`, "push p99 (ms)"],
                    ],
                },
            ],
        },
    ];
}

/** The dashboard JSON. Panels are laid out 3 per row (8 of 24 columns wide, 8 high) under one row header per section. */
export function grafanaDashboard(o: DashboardOptions) {
    const panels: Panel[] = [];
    let id = 1;
    let y = 0;
    for (const row of rows(o)) {
        panels.push({ id: id++, type: "row", title: row.title, gridPos: { x: 0, y: y++, w: 24, h: 1 } });
        row.panels.forEach((p, i) => {
            panels.push({
                id: id++,
                type: "timeseries",
                title: p.title,
                gridPos: { x: (i % 3) * 8, y: y + Math.floor(i / 3) * 8, w: 8, h: 8 },
                datasource: { type: "prometheus", uid: "${datasource}" },
                targets: p.targets.map(([expr, legendFormat], t) => ({ expr, legendFormat, refId: String.fromCharCode(65 + t) })),
                fieldConfig: { defaults: { unit: p.unit, min: 0, ...(p.max !== undefined ? { max: p.max } : {}) }, overrides: [] },
            });
        });
        y += Math.ceil(row.panels.length / 3) * 8;
    }
    return {
        uid: dashboardUid,
        title: "GPU serverless",
        tags: ["gpu-serverless"],
        timezone: "utc",
        schemaVersion: 39,
        refresh: "30s",
        time: { from: "now-6h", to: "now" },
        templating: {
            list: [
                { name: "datasource", label: "Data source", type: "datasource", query: "prometheus", current: { text: "Prometheus", value: "prometheus" } },
                {
                    name: "model",
                    label: "Model",
                    type: "query",
                    datasource: { type: "prometheus", uid: "${datasource}" },
                    query: { query: "label_values(activator_held_requests, model)", refId: "model" },
                    definition: "label_values(activator_held_requests, model)",
                    multi: true,
                    includeAll: true,
                    allValue: ".+",
                    refresh: 2,
                    current: { text: "All", value: "$__all" },
                },
            ],
        },
        panels,
    };
}

export type Dashboard = ReturnType<typeof grafanaDashboard>;

/** Every panel query with Grafana's variables given values, as Prometheus would receive them (`$model` = all). */
export function panelQueries(dashboard: Dashboard, rateInterval = "2m"): Array<{ panel: string; legend: string; expr: string }> {
    return dashboard.panels.flatMap((p) =>
        (p.targets ?? []).map((t) => ({
            panel: p.title,
            legend: t.legendFormat,
            expr: t.expr.replaceAll("$__rate_interval", rateInterval).replaceAll("$model", ".+"),
        })),
    );
}
