/**
 * Alerts comparing a model's canary with its stable version (docs/canary.md), as a rule group beside
 * ./alertRules.ts's. Each version is a model of its own in the activator's metrics: the stable `<ns>/<name>`, the
 * canary `<ns>/<name>-canary` (activator/src/holding/canary.ts); the canary's series are relabelled to the stable's
 * key (`label_replace`) and compared one to one (`on (model)`).
 *
 * The window, and why:
 * - rates over CANARY_WINDOW (30 m): a canary at 10 % of 10 requests/s gets ~1 800 requests in it, enough for its p99
 *   to rest on ~18 tail samples rather than on the single slowest request; a 5 m window (the stable alerts') would
 *   hold ~300, and a p99 from those swings with one slow request;
 * - at least CANARY_MIN_REQUESTS (100) canary requests in the window, or no verdict: below it one error is already 1 %
 *   and the p99 is the maximum;
 * - `for: 15m`: the comparison must hold for half a window more, so one bad burst does not fire. A verdict comes within
 *   about 45 minutes of a regression, well inside the 24–48 h a canary is usually watched before full rollout (the
 *   KServe canary guide's advice the issue quotes): this is the stop signal during that watch, not a replacement for it;
 * - worse means: error ratio above 2 × the stable's + 1 percentage point (the floor keeps 1 error against 0 from firing,
 *   the factor scales with a stable that already fails some), or p99 latency (activator_proxy_latency_seconds: time to
 *   the response headers, which for a streamed LLM response is the time to first token) above 1.5 × the stable's.
 */
import type { AlertingRule, RuleGroup } from "./alertRules";

/** Rate window of the canary comparisons. */
export const CANARY_WINDOW = "30m";
/** How long a comparison must hold before the alert fires. */
export const CANARY_FOR = "15m";
/** Canary requests in the window below which no verdict is given. */
export const CANARY_MIN_REQUESTS = 100;
/** The canary's error ratio must exceed ERROR_FACTOR × the stable's + ERROR_MARGIN. */
export const CANARY_ERROR_FACTOR = 2;
export const CANARY_ERROR_MARGIN = 0.01;
/** The canary's p99 latency must exceed LATENCY_FACTOR × the stable's. */
export const CANARY_LATENCY_FACTOR = 1.5;

/** A PromQL regex matching exactly these label values. */
const exactly = (values: readonly string[]) => values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\\\$&")).join("|");

/**
 * The rule group `gpu-serverless.canary` for the models with a canary (`stableKeys`: their `<ns>/<name>`); no group
 * when there is none.
 */
export function canaryRuleGroups(stableKeys: readonly string[]): RuleGroup[] {
    if (stableKeys.length === 0) return [];
    const w = CANARY_WINDOW;
    const stable = `model=~"${exactly(stableKeys)}"`;
    const canary = `model=~"${exactly(stableKeys.map((k) => `${k}-canary`))}"`;
    /** The canary's series under its stable's key. */
    const asStable = (expr: string) => `label_replace(${expr}, "model", "$1", "model", "(.+)-canary")`;
    const total = (sel: string) => `sum by (model) (rate(activator_requests_total{${sel}}[${w}]))`;
    // A version with no 5xx has no 5xx series: `or 0 * total` makes its ratio 0 rather than absent.
    const errorRatio = (sel: string) => `((sum by (model) (rate(activator_requests_total{${sel}, status=~"5.."}[${w}])) or 0 * ${total(sel)}) / ${total(sel)})`;
    const p99 = (sel: string) => `histogram_quantile(0.99, sum by (model, le) (rate(activator_proxy_latency_seconds_bucket{${sel}}[${w}])))`;
    const enough = (metric: string) => `${asStable(`sum by (model) (increase(${metric}{${canary}}[${w}]))`)} >= ${CANARY_MIN_REQUESTS}`;

    const rules: AlertingRule[] = [
        {
            alert: "CanaryErrorRateWorse",
            expr: `(${asStable(errorRatio(canary))} > on (model) (${CANARY_ERROR_FACTOR} * ${errorRatio(stable)} + ${CANARY_ERROR_MARGIN})) and on (model) (${enough("activator_requests_total")})`,
            for: CANARY_FOR,
            labels: { severity: "warning" },
            annotations: {
                summary: "The canary of {{ $labels.model }} fails {{ $value | humanizePercentage }} of its requests, worse than the stable",
                description: `Over the last ${w} the 5xx ratio of {{ $labels.model }}-canary has been above ${CANARY_ERROR_FACTOR} × the stable's + ${CANARY_ERROR_MARGIN * 100} percentage point for ${CANARY_FOR} (at least ${CANARY_MIN_REQUESTS} canary requests). Roll back (remove models[].canary, or trafficPercent 0) and look at the canary's logs; docs/canary.md.`,
            },
        },
        {
            alert: "CanaryLatencyWorse",
            expr: `(${asStable(p99(canary))} > on (model) (${CANARY_LATENCY_FACTOR} * ${p99(stable)})) and on (model) (${enough("activator_proxy_latency_seconds_count")})`,
            for: CANARY_FOR,
            labels: { severity: "warning" },
            annotations: {
                summary: "p99 latency of the canary of {{ $labels.model }} is {{ $value | humanizeDuration }}, worse than the stable",
                description: `Over the last ${w} the p99 time to response headers (time to first token when streamed) of {{ $labels.model }}-canary has been above ${CANARY_LATENCY_FACTOR} × the stable's for ${CANARY_FOR} (at least ${CANARY_MIN_REQUESTS} canary requests). Roll back, or compare the versions' engine settings; docs/canary.md.`,
            },
        },
    ];
    return [{ name: "gpu-serverless.canary", rules }];
}
