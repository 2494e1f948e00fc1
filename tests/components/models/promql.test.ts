/**
 * The ScaledObject's Prometheus triggers, evaluated by Prometheus itself (`promtool test rules`, Debian package
 * `prometheus`): a query that does not parse, or that picks up another model's series, would scale the wrong
 * Deployment, and KEDA would only say so in its logs.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import { scaledObjectManifest } from "../../../components/models/scaledObject";
import { llmModel, parseModels } from "./fixtures";

function promtool(): string {
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
        const candidate = path.join(dir, "promtool");
        if (fs.existsSync(candidate)) return candidate;
    }
    throw new Error("promtool not found: install it with `apt-get install prometheus` (.ci/run does)");
}

/** Series as the ServiceMonitor scrapes them: prometheus-operator adds `namespace`, `service` and `pod`. */
function series(metric: string, namespace: string, service: string, pod: string, value: number) {
    return { series: `${metric}{namespace="${namespace}",service="${service}",pod="${pod}"}`, values: `${value}x10` };
}

describe("ScaledObject Prometheus triggers under promtool", () => {
    const [qwen] = parseModels(llmModel);
    const triggers = scaledObjectManifest(qwen, { scalerAddresses: ["s:9090"], prometheusUrl: "http://p:9090" }).spec.triggers.filter(
        (t) => t.type === "prometheus",
    );

    it("has one trigger each for vLLM's waiting requests and KV-cache usage", () => {
        assert.deepEqual(
            triggers.map((t) => /vllm:[a-z_]+/.exec(t.metadata.query)?.[0]),
            ["vllm:num_requests_waiting", "vllm:kv_cache_usage_perc"],
        );
    });

    it("sums this model's replicas only, whatever else Prometheus scrapes", () => {
        const inputSeries = triggers.flatMap((t) => {
            const metric = /vllm:[a-z_]+/.exec(t.metadata.query)![0];
            return [
                series(metric, "models", "qwen-predictor", "qwen-predictor-a", 3),
                series(metric, "models", "qwen-predictor", "qwen-predictor-b", 4),
                // Same Service name in another namespace, another model in the same namespace: not ours.
                series(metric, "staging", "qwen-predictor", "qwen-predictor-c", 100),
                series(metric, "models", "llama-predictor", "llama-predictor-a", 1000),
            ];
        });
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "promql-"));
        const file = path.join(dir, "test.yaml");
        fs.writeFileSync(
            file,
            YAML.stringify({
                rule_files: [],
                evaluation_interval: "1m",
                tests: [
                    {
                        interval: "1m",
                        input_series: inputSeries,
                        promql_expr_test: triggers.map((t) => ({
                            expr: t.metadata.query,
                            eval_time: "5m",
                            exp_samples: [{ labels: "{}", value: 7 }],
                        })),
                    },
                ],
            }),
        );
        try {
            execFileSync(promtool(), ["test", "rules", file], { encoding: "utf8", stdio: "pipe" });
        } catch (err) {
            const e = err as { stdout?: string; stderr?: string };
            assert.fail(`promtool rejected the trigger queries:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
        } finally {
            fs.rmSync(dir, { recursive: true });
        }
    });
});
