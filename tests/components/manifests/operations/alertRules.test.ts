/**
 * The stack's alerts under Prometheus' own rule engine: `promtool check rules` on the generated file, and for every
 * alert a `promtool test rules` case with synthetic series shaped as the exporters write them (names and labels from
 * the sources cited in components/manifests/operations/alertRules.ts) where it fires, and one where it stays silent.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { alertsSchema } from "../../../../components/config/alerts";
import { alertRuleGroups, durationSeconds, idleWindow, type AlertedModel } from "../../../../components/manifests/operations/alertRules";
import { promtool } from "../../../support/promtool";

const thresholds = alertsSchema.parse(undefined);
const models: AlertedModel[] = [
    { key: "models/qwen", minReplicas: 0, cooldownSeconds: 300, pollingSeconds: 15 },
    { key: "models/always-on", minReplicas: 1, cooldownSeconds: 300, pollingSeconds: 15 },
];
const groups = alertRuleGroups(thresholds, { activatorNamespace: "activator", models });
const alertNames = groups.flatMap((g) => g.rules.map((r) => r.alert));
// promtool compares annotations too; the test copy drops them (`check rules` validates their templates on the full file).
const rulesForTests = { groups: groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _a, ...rule }) => rule) })) };

type Series = { series: string; values: string };
interface Case {
    /** Input series, one sample a minute. */
    series: Series[];
    /** Minutes after the start at which the alert is evaluated. */
    at: number;
    /** Labels of each alert expected to fire (besides alertname and severity); empty: silent. */
    fires: Record<string, string>[];
}

function runCase(alertname: string, c: Case): void {
    const severity = groups.flatMap((g) => g.rules).find((r) => r.alert === alertname)!.labels.severity;
    const test = {
        rule_files: ["rules.yaml"],
        evaluation_interval: "1m",
        tests: [
            {
                interval: "1m",
                input_series: c.series,
                alert_rule_test: [{ eval_time: `${c.at}m`, alertname, exp_alerts: c.fires.map((labels) => ({ exp_labels: { severity, ...labels } })) }],
            },
        ],
    };
    const result = promtool(["test", "rules", "test.yaml"], { "rules.yaml": rulesForTests, "test.yaml": test });
    assert.ok(result.ok, `promtool test rules failed for ${alertname}:\n${result.output}`);
}

const kedaScaler =
    'keda_scaler_detail_errors_total{namespace="models",scaledObject="qwen",scaler="prometheusScaler",triggerIndex="1",metric="s1-prometheus",type="scaledobject"}';
const uncaught = 'activator_uncaught_exceptions_total{namespace="activator",pod="activator-0",kind="uncaughtException"}';
const restarts = 'kube_pod_container_status_restarts_total{namespace="activator",pod="activator-0",container="activator"}';

const cases: Record<string, { fires: Case; silent: Case[] }> = {
    ModelHeldRequestsHigh: {
        fires: {
            series: [
                { series: 'activator_held_requests{model="models/qwen",pod="activator-0"}', values: "15x20" },
                { series: 'activator_held_requests{model="models/qwen",pod="activator-1"}', values: "10x20" },
            ],
            at: 10,
            fires: [{ model: "models/qwen" }],
        },
        silent: [
            // 19 across both replicas: at the threshold's edge, below it.
            {
                series: [
                    { series: 'activator_held_requests{model="models/qwen",pod="activator-0"}', values: "15x20" },
                    { series: 'activator_held_requests{model="models/qwen",pod="activator-1"}', values: "4x20" },
                ],
                at: 10,
                fires: [],
            },
            // Above it for 3 minutes only (a burst at a cold start): shorter than heldRequestsFor.
            { series: [{ series: 'activator_held_requests{model="models/qwen",pod="activator-0"}', values: "0x6 40x10" }], at: 9, fires: [] },
        ],
    },
    ModelColdStartsFailing: {
        fires: {
            series: [
                { series: 'activator_cold_starts_total{model="models/qwen",outcome="timeout",cause="",pod="activator-0"}', values: "0x5 1x10" },
                { series: 'activator_cold_starts_total{model="models/qwen",outcome="served",cause="",pod="activator-0"}', values: "0+1x15" },
            ],
            at: 10,
            fires: [{ model: "models/qwen", outcome: "timeout" }],
        },
        silent: [
            // Served and abandoned cold starts are not failures.
            {
                series: [
                    { series: 'activator_cold_starts_total{model="models/qwen",outcome="timeout",cause="",pod="activator-0"}', values: "0x15" },
                    { series: 'activator_cold_starts_total{model="models/qwen",outcome="served",cause="",pod="activator-0"}', values: "0+1x15" },
                    { series: 'activator_cold_starts_total{model="models/qwen",outcome="client_gone",cause="",pod="activator-0"}', values: "0+1x15" },
                ],
                at: 10,
                fires: [],
            },
            // A failure 40 minutes ago is outside the 30-minute window.
            { series: [{ series: 'activator_cold_starts_total{model="models/qwen",outcome="failed",cause="model_removed",pod="activator-0"}', values: "0x4 1x60" }], at: 50, fires: [] },
        ],
    },
    ModelLatencyHigh: {
        fires: {
            series: latency({ "1": "0x30", "30": "0x30", "60": "0+10x30", "+Inf": "0+10x30" }),
            at: 20,
            fires: [{ model: "models/qwen" }],
        },
        silent: [
            { series: latency({ "1": "0+10x30", "30": "0+10x30", "60": "0+10x30", "+Inf": "0+10x30" }), at: 20, fires: [] },
            // Slow for 5 minutes only.
            { series: latency({ "1": "0+10x10 100x10", "30": "0+10x10 100x10", "60": "0+10x20", "+Inf": "0+10x20" }), at: 16, fires: [] },
        ],
    },
    ModelErrorRateHigh: {
        fires: {
            series: [
                { series: 'activator_requests_total{model="models/qwen",status="200",pod="activator-0"}', values: "0+90x30" },
                { series: 'activator_requests_total{model="models/qwen",status="503",pod="activator-0"}', values: "0+10x30" },
            ],
            at: 20,
            fires: [{ model: "models/qwen" }],
        },
        silent: [
            {
                series: [
                    { series: 'activator_requests_total{model="models/qwen",status="200",pod="activator-0"}', values: "0+99x30" },
                    { series: 'activator_requests_total{model="models/qwen",status="503",pod="activator-0"}', values: "0+1x30" },
                    // 4xx are the clients' mistakes, and unrouted requests (model="") belong to no model.
                    { series: 'activator_requests_total{model="models/qwen",status="404",pod="activator-0"}', values: "0+50x30" },
                    { series: 'activator_requests_total{model="",status="503",pod="activator-0"}', values: "0+50x30" },
                ],
                at: 20,
                fires: [],
            },
        ],
    },
    ModelPinnedWhileIdle: {
        fires: {
            series: [...idle("qwen", "0x60"), ...idle("always-on", "0x60")],
            at: 40,
            fires: [{ model: "models/qwen" }],
        },
        silent: [
            // Requests keep arriving: the replica is wanted.
            { series: idle("qwen", "0+1x60"), at: 40, fires: [] },
            // A long streaming request in flight, no new arrival.
            { series: [...idle("qwen", "0x60").slice(0, 3), { series: 'activator_in_flight_requests{model="models/qwen",pod="activator-0"}', values: "1x60" }], at: 40, fires: [] },
            // Already at zero.
            { series: [...idle("qwen", "0x60").slice(1), { series: 'kube_deployment_status_replicas{namespace="models",deployment="qwen-predictor"}', values: "0x60" }], at: 40, fires: [] },
        ],
    },
    GpuMemoryNearlyFull: {
        fires: { series: gpuMemory(39000, 1000), at: 10, fires: [{ Hostname: "ip-10-0-1-5.ec2.internal", gpu: "3", UUID: "GPU-3", modelName: "NVIDIA A100-SXM4-40GB" }] },
        // vLLM's default 90% reservation stays below the 95% default.
        silent: [
            { series: gpuMemory(36000, 4000), at: 10, fires: [] },
            // 94.75% of the whole framebuffer: reserved memory counts in the total (used / (used + free) alone is 96%).
            { series: gpuMemory(37900, 1600), at: 10, fires: [] },
        ],
    },
    KedaScalerErrors: {
        fires: {
            series: [{ series: kedaScaler, values: "0+1x30" }],
            at: 25,
            fires: [{ namespace: "models", scaledObject: "qwen", scaler: "prometheusScaler", triggerIndex: "1" }],
        },
        silent: [
            { series: [{ series: kedaScaler, values: "5x30" }], at: 25, fires: [] },
            // Errors for 5 minutes, then recovered.
            { series: [{ series: kedaScaler, values: "0+1x5 5x25" }], at: 25, fires: [] },
        ],
    },
    KedaScaledObjectErrors: {
        fires: {
            series: [{ series: 'keda_scaled_object_errors_total{namespace="models",scaledObject="qwen"}', values: "0+2x30" }],
            at: 25,
            fires: [{ namespace: "models", scaledObject: "qwen" }],
        },
        silent: [{ series: [{ series: 'keda_scaled_object_errors_total{namespace="models",scaledObject="qwen"}', values: "3x30" }], at: 25, fires: [] }],
    },
    // time() runs from 0 in promtool: the timestamp series count in seconds from there.
    KedaScalerStalled: {
        fires: {
            series: [
                { series: 'activator_held_requests{model="models/qwen",pod="activator-1"}', values: "0x10 3x20" },
                // KEDA called every minute until minute 10 (its replica then vanished: its series ends), nothing since.
                { series: 'activator_keda_last_call_timestamp_seconds{model="models/qwen",pod="activator-0"}', values: "0+60x10" },
                { series: 'activator_keda_last_call_timestamp_seconds{model="models/qwen",pod="activator-1"}', values: "0x30" },
            ],
            at: 20,
            fires: [{ model: "models/qwen" }],
        },
        silent: [
            // KEDA calls every minute: requests held during a cold start are normal.
            {
                series: [
                    { series: 'activator_held_requests{model="models/qwen",pod="activator-1"}', values: "0x10 3x20" },
                    { series: 'activator_keda_last_call_timestamp_seconds{model="models/qwen",pod="activator-1"}', values: "0+60x30" },
                ],
                at: 20,
                fires: [],
            },
            // No calls, but nothing held: an idle model at zero is not polled by a stalled KEDA any more than by a healthy one.
            { series: [{ series: 'activator_held_requests{model="models/qwen",pod="activator-1"}', values: "0x30" }, { series: 'activator_keda_last_call_timestamp_seconds{model="models/qwen",pod="activator-1"}', values: "0x30" }], at: 20, fires: [] },
        ],
    },
    ActivatorMemoryNearLimit: {
        fires: { series: activatorMemory(480, "activator"), at: 10, fires: [{ namespace: "activator", pod: "activator-0" }] },
        silent: [
            { series: activatorMemory(300, "activator"), at: 10, fires: [] },
            // Another namespace's container named activator is not ours.
            { series: activatorMemory(500, "other"), at: 10, fires: [] },
        ],
    },
    ActivatorRestarting: {
        fires: { series: [{ series: restarts, values: "0x5 1x10" }], at: 10, fires: [{ namespace: "activator", pod: "activator-0" }] },
        silent: [
            { series: [{ series: restarts, values: "2x30" }], at: 25, fires: [] },
            { series: [{ series: restarts, values: "0x5 1x40" }], at: 30, fires: [] },
        ],
    },
    ActivatorUncaughtErrors: {
        fires: { series: [{ series: uncaught, values: "0x5 1x20" }], at: 10, fires: [{ namespace: "activator", pod: "activator-0", kind: "uncaughtException" }] },
        silent: [
            { series: [{ series: uncaught, values: "0x30" }], at: 10, fires: [] },
            { series: [{ series: uncaught, values: "0x5 1x30" }], at: 25, fires: [] }, // 20 minutes after the only error
        ],
    },
};

function latency(buckets: Record<string, string>): Series[] {
    return Object.entries(buckets).map(([le, values]) => ({
        series: `activator_proxy_latency_seconds_bucket{model="models/qwen",le="${le}",pod="activator-0"}`,
        values,
    }));
}

function idle(name: string, arrivals: string): Series[] {
    return [
        { series: `kube_deployment_status_replicas{namespace="models",deployment="${name}-predictor"}`, values: "1x60" },
        { series: `activator_requests_served_warm_total{model="models/${name}",pod="activator-0"}`, values: arrivals },
        { series: `activator_requests_held_total{model="models/${name}",reason="no_ready_replica",pod="activator-0"}`, values: "3x60" },
        { series: `activator_in_flight_requests{model="models/${name}",pod="activator-0"}`, values: "0x60" },
    ];
}

function gpuMemory(usedMiB: number, freeMiB: number): Series[] {
    const labels = 'gpu="3",UUID="GPU-3",modelName="NVIDIA A100-SXM4-40GB",Hostname="ip-10-0-1-5.ec2.internal"';
    return [
        { series: `DCGM_FI_DEV_FB_USED{${labels}}`, values: `${usedMiB}x20` },
        { series: `DCGM_FI_DEV_FB_FREE{${labels}}`, values: `${freeMiB}x20` },
        { series: `DCGM_FI_DEV_FB_RESERVED{${labels}}`, values: "500x20" },
    ];
}

function activatorMemory(workingSetMiB: number, namespace: string): Series[] {
    const mi = 1024 * 1024;
    return [
        { series: `container_memory_working_set_bytes{namespace="${namespace}",pod="activator-0",container="activator"}`, values: `${workingSetMiB * mi}x20` },
        {
            series: `kube_pod_container_resource_limits{namespace="${namespace}",pod="activator-0",container="activator",resource="memory",unit="byte"}`,
            values: `${512 * mi}x20`,
        },
    ];
}

describe("operations/alertRules", () => {
    it("passes promtool check rules", () => {
        const result = promtool(["check", "rules", "rules.yaml"], { "rules.yaml": { groups } });
        assert.ok(result.ok, result.output);
        assert.match(result.output, new RegExp(`SUCCESS: ${alertNames.length} rules found`));
    });

    it("has a firing and a silent promtool case for every alert", () => {
        assert.deepEqual(Object.keys(cases).sort(), [...alertNames].sort());
    });

    for (const [alertname, { fires, silent }] of Object.entries(cases)) {
        it(`${alertname}: fires on its synthetic series`, () => runCase(alertname, fires));
        silent.forEach((c, i) => it(`${alertname}: stays silent (case ${i + 1})`, () => runCase(alertname, c)));
    }

    it("takes its thresholds from stack config", () => {
        const custom = alertsSchema.parse({ heldRequests: 50, heldRequestsFor: "2m", gpuMemoryUsage: 0.9, errorRatio: 0.01 });
        const rules = alertRuleGroups(custom, { activatorNamespace: "act", models }).flatMap((g) => g.rules);
        const rule = (name: string) => rules.find((r) => r.alert === name)!;
        assert.match(rule("ModelHeldRequestsHigh").expr, /> 50$/);
        assert.equal(rule("ModelHeldRequestsHigh").for, "2m");
        assert.match(rule("GpuMemoryNearlyFull").expr, /> 0\.9$/);
        assert.match(rule("ModelErrorRateHigh").expr, /> 0\.01$/);
        assert.match(rule("ActivatorRestarting").expr, /namespace="act"/);
    });

    it("waits at least a model's cooldown before calling it idle, and leaves out models that never scale to zero", () => {
        assert.equal(idleWindow(thresholds, models), "15m");
        const slow = [{ key: "models/slow", minReplicas: 0, cooldownSeconds: 1800, pollingSeconds: 30 }];
        assert.equal(idleWindow(thresholds, slow), "33m");
        const pinned = alertRuleGroups(thresholds, { activatorNamespace: "activator", models }).flatMap((g) => g.rules).find((r) => r.alert === "ModelPinnedWhileIdle")!;
        assert.match(pinned.expr, /model=~"models\/qwen"/);
        const none = alertRuleGroups(thresholds, { activatorNamespace: "activator", models: [models[1]!] }).flatMap((g) => g.rules);
        assert.equal(none.some((r) => r.alert === "ModelPinnedWhileIdle"), false);
        assert.equal(durationSeconds("1h30m"), 5400);
        assert.throws(() => durationSeconds("15 minutes"));
    });

    it("is listed in docs/operations.md with its threshold keys, and the README links that page", () => {
        const root = path.join(__dirname, "../../../..");
        const page = fs.readFileSync(path.join(root, "docs/operations.md"), "utf8");
        for (const name of alertNames) assert.ok(page.includes(`\`${name}\``), `${name} in docs/operations.md`);
        for (const key of Object.keys(alertsSchema.parse({}))) assert.ok(page.includes(`\`${key}\``), `threshold key ${key} in docs/operations.md`);
        assert.match(fs.readFileSync(path.join(root, "README.md"), "utf8"), /\]\(docs\/operations\.md\)/);
    });
});
