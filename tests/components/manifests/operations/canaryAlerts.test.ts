/**
 * The canary-vs-stable alerts under Prometheus' own rule engine: `promtool check rules`, and `promtool test rules`
 * cases with activator series shaped as activator/src/base/metrics.ts writes them (the canary under its own model key
 * `<ns>/<name>-canary`), where each alert fires and where it stays silent. Skipped, saying so, without promtool.
 */
import * as assert from "node:assert/strict";
import { canaryRuleGroups } from "../../../../components/manifests/operations/canaryAlerts";
import { alertsSchema } from "../../../../components/config/alerts";
import { prometheusRuleManifest } from "../../../../components/resources/observability";
import { promtool, promtoolPath } from "../../../support/promtool";

const groups = canaryRuleGroups(["models/qwen", "models/iris"]);
const rulesForTests = { groups: groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _a, ...rule }) => rule) })) };

type Series = { series: string; values: string };
const requests = (model: string, status: number, perMinute: number): Series => ({
    series: `activator_requests_total{model="${model}",status="${status}",pod="activator-0"}`,
    values: `0+${perMinute}x60`,
});
/** Latency histogram: `fast` requests a minute under 0.1 s, `slow` between 0.1 and 1 s. */
const latency = (model: string, fast: number, slow: number): Series[] => [
    ...[
        ["0.1", fast],
        ["1", fast + slow],
        ["+Inf", fast + slow],
    ].map(([le, n]) => ({ series: `activator_proxy_latency_seconds_bucket{model="${model}",le="${le}",pod="activator-0"}`, values: `0+${n}x60` })),
    { series: `activator_proxy_latency_seconds_count{model="${model}",pod="activator-0"}`, values: `0+${fast + slow}x60` },
];

function run(alertname: string, series: Series[], fires: Record<string, string>[]): void {
    const test = {
        rule_files: ["rules.yaml"],
        evaluation_interval: "1m",
        tests: [{ interval: "1m", input_series: series, alert_rule_test: [{ eval_time: "55m", alertname, exp_alerts: fires.map((labels) => ({ exp_labels: { severity: "warning", ...labels } })) }] }],
    };
    const result = promtool(["test", "rules", "test.yaml"], { "rules.yaml": rulesForTests, "test.yaml": test });
    assert.ok(result.ok, `promtool test rules failed for ${alertname}:\n${result.output}`);
}

describe("operations/canaryAlerts", () => {
    before(function () {
        try {
            promtoolPath();
        } catch {
            console.log("      skipped: promtool is not installed (apt-get install prometheus; .ci/run installs it)");
            this.skip();
        }
    });

    it("passes promtool check rules", () => {
        const result = promtool(["check", "rules", "rules.yaml"], { "rules.yaml": { groups } });
        assert.ok(result.ok, result.output);
        assert.match(result.output, /SUCCESS: 2 rules found/);
    });

    it("no canary, no group; with one, the stack's PrometheusRule carries the group", () => {
        assert.deepEqual(canaryRuleGroups([]), []);
        const base = { activatorNamespace: "activator", thresholds: alertsSchema.parse(undefined), models: [] };
        const names = (canaryModels?: string[]) => prometheusRuleManifest("r", { ...base, canaryModels }).spec.groups.map((g) => g.name);
        assert.ok(!names().includes("gpu-serverless.canary"));
        assert.ok(names(["models/qwen"]).includes("gpu-serverless.canary"));
    });

    const stable = [requests("models/qwen", 200, 600), requests("models/qwen", 503, 3)]; // 0.5 % errors

    it("CanaryErrorRateWorse fires when the canary fails 9 % against the stable's 0.5 %, on the stable's key", () => {
        run("CanaryErrorRateWorse", [...stable, requests("models/qwen-canary", 200, 60), requests("models/qwen-canary", 503, 6)], [{ model: "models/qwen" }]);
    });
    it("CanaryErrorRateWorse fires against a stable with no 5xx series at all (its ratio is 0, not absent)", () => {
        run("CanaryErrorRateWorse", [requests("models/qwen", 200, 600), requests("models/qwen-canary", 200, 60), requests("models/qwen-canary", 500, 3)], [{ model: "models/qwen" }]);
    });
    it("CanaryErrorRateWorse stays silent at 1.6 % (under 2 × 0.5 % + 1 point)", () => {
        run("CanaryErrorRateWorse", [...stable, requests("models/qwen-canary", 200, 60), requests("models/qwen-canary", 503, 1)], []);
    });
    it("CanaryErrorRateWorse stays silent on fewer than 100 canary requests in the window, even at 50 %", () => {
        run("CanaryErrorRateWorse", [...stable, requests("models/qwen-canary", 200, 1), requests("models/qwen-canary", 503, 1)], []);
    });
    it("CanaryErrorRateWorse compares a canary with its own stable only", () => {
        // iris's stable fails as much as qwen's canary: no pairing across models.
        run("CanaryErrorRateWorse", [...stable, requests("models/iris", 200, 60), requests("models/iris", 503, 6), requests("models/iris-canary", 200, 60), requests("models/iris-canary", 503, 6), requests("models/qwen-canary", 200, 60)], []);
    });

    it("CanaryLatencyWorse fires when half the canary's requests take 0.1–1 s and the stable's are all under 0.1 s", () => {
        run("CanaryLatencyWorse", [...latency("models/qwen", 600, 0), ...latency("models/qwen-canary", 30, 30)], [{ model: "models/qwen" }]);
    });
    it("CanaryLatencyWorse stays silent when both versions have the same latency", () => {
        run("CanaryLatencyWorse", [...latency("models/qwen", 300, 300), ...latency("models/qwen-canary", 30, 30)], []);
    });
    it("CanaryLatencyWorse stays silent on fewer than 100 canary requests in the window", () => {
        run("CanaryLatencyWorse", [...latency("models/qwen", 600, 0), ...latency("models/qwen-canary", 1, 2)], []);
    });
});
