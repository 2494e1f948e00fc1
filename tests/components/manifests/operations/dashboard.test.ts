/**
 * The Grafana dashboard: every panel query parsed by Prometheus' own parser (`promtool check rules` on one
 * recording rule per query), metric names as their exporters write them, and the layout Grafana expects.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { nodeGroupLabel as nodeLabel } from "../../../../components/domain/nodeGroups";
import { dashboardUid, grafanaDashboard, nodeGroupLabel, panelQueries } from "../../../../components/manifests/operations/dashboard";
import { promtool } from "../../../support/promtool";

const dashboard = grafanaDashboard({ activatorNamespace: "activator" });
const queries = panelQueries(dashboard);

describe("operations/dashboard", () => {
    it("every panel query parses with promtool", () => {
        const rules = { groups: [{ name: "dashboard", rules: queries.map((q, i) => ({ record: `dashboard:panel_query_${i}`, expr: q.expr })) }] };
        const result = promtool(["check", "rules", "rules.yaml"], { "rules.yaml": rules });
        assert.ok(result.ok, result.output);
        assert.match(result.output, new RegExp(`SUCCESS: ${queries.length} rules found`));
    });

    it("a broken query would be caught by the same check", () => {
        const rules = { groups: [{ name: "dashboard", rules: [{ record: "dashboard:broken", expr: queries[0]!.expr.replace("max by", "max bye") }] }] };
        assert.equal(promtool(["check", "rules", "rules.yaml"], { "rules.yaml": rules }).ok, false);
    });

    it("shows per model replicas with the held queue, cold starts, traffic, errors, latency, vLLM TTFT and tokens/s", () => {
        const all = queries.map((q) => q.expr).join("\n");
        for (const metric of [
            "kube_deployment_spec_replicas",
            "kube_deployment_status_replicas_ready",
            "activator_held_requests",
            "activator_cold_start_duration_seconds_bucket",
            "activator_cold_starts_total",
            "activator_requests_total",
            "activator_proxy_latency_seconds_bucket",
            "vllm:time_to_first_token_seconds_bucket",
            "vllm:generation_tokens_total",
            "DCGM_FI_DEV_GPU_UTIL",
            "DCGM_FI_DEV_FB_USED",
            "container_memory_working_set_bytes",
            "kube_pod_container_status_restarts_total",
        ]) {
            assert.ok(all.includes(metric), metric);
        }
        assert.ok(queries.filter((q) => q.panel.startsWith("GPU")).every((q) => q.expr.includes("label_gpu_serverless_io_node_group")), "GPU panels by node group");
    });

    it("filters model panels by the $model variable and lays panels out without overlap", () => {
        const modelPanels = dashboard.panels.filter((p) => p.type === "timeseries" && (p.targets ?? []).some((t) => t.expr.includes("model")));
        for (const p of modelPanels.filter((p) => !p.title.startsWith("Rejections") && !p.title.startsWith("Activator"))) {
            for (const t of p.targets!) assert.match(t.expr, /\$model/, `${p.title}: ${t.expr}`);
        }
        const cells = new Set<string>();
        for (const p of dashboard.panels) {
            assert.ok(p.gridPos.x + p.gridPos.w <= 24, p.title);
            for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++)
                for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
                    assert.ok(!cells.has(`${x},${y}`), `${p.title} overlaps another panel`);
                    cells.add(`${x},${y}`);
                }
        }
        assert.equal(new Set(dashboard.panels.map((p) => p.id)).size, dashboard.panels.length, "unique panel ids");
        assert.equal(dashboard.uid, dashboardUid);
    });

    it("joins GPUs to the node-group label the node groups carry, as kube-state-metrics names it", () => {
        assert.equal(nodeGroupLabel.kubernetes, nodeLabel);
        // kube-state-metrics: `label_` + the key with every character outside [a-zA-Z0-9_] turned into `_`.
        assert.equal(nodeGroupLabel.kubeStateMetrics, `label_${nodeLabel.replace(/[^a-zA-Z0-9_]/g, "_")}`);
    });

    it("is shown in docs/operations.md by a picture committed under docs/", () => {
        const root = path.join(__dirname, "../../../..");
        assert.match(fs.readFileSync(path.join(root, "docs/operations.md"), "utf8"), /!\[[^\]]*dashboard[^\]]*\]\(dashboard\.png\)/);
        const png = fs.readFileSync(path.join(root, "docs/dashboard.png"));
        assert.deepEqual([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join(""), "PNG");
        const queriesTs = fs.readFileSync(path.join(root, "docs/dashboard/queries.ts"), "utf8");
        assert.match(queriesTs, /grafanaDashboard\(/, "rendered from the same dashboard definition");
    });
});
