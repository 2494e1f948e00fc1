/**
 * Prints the dashboard's layout and queries as JSON for render.py: the same panels the ConfigMap carries
 * (components/manifests/operations/dashboard.ts), Grafana's variables given values as Prometheus would receive them.
 */
import { grafanaDashboard } from "../../components/manifests/operations/dashboard";

const dashboard = grafanaDashboard({ activatorNamespace: "activator" });
const rows: Array<{ title: string; panels: Array<{ title: string; unit: string; max?: number; gridPos: unknown; targets: Array<{ expr: string; legend: string }> }> }> = [];
for (const panel of dashboard.panels) {
    if (panel.type === "row") {
        rows.push({ title: panel.title, panels: [] });
        continue;
    }
    rows.at(-1)!.panels.push({
        title: panel.title,
        unit: panel.fieldConfig!.defaults.unit,
        ...(panel.fieldConfig!.defaults.max !== undefined ? { max: panel.fieldConfig!.defaults.max } : {}),
        gridPos: panel.gridPos,
        targets: panel.targets!.map((t) => ({ expr: t.expr.replaceAll("$__rate_interval", "2m").replaceAll("$model", ".+"), legend: t.legendFormat })),
    });
}
process.stdout.write(JSON.stringify({ title: dashboard.title, rows }, null, 2));
