/** Helm values for NVIDIA's DCGM exporter chart (`dcgm-exporter`). */
import { GpuPlacement, onGpuNodes } from "./scheduling";

/**
 * One exporter per GPU node (the chart's default tolerates only control-plane taints) with its ServiceMonitor on;
 * Prometheus selects ServiceMonitors without release labels (see kubePrometheusStack.ts).
 */
export function dcgmExporterValues(placement: GpuPlacement) {
    return { ...onGpuNodes(placement), serviceMonitor: { enabled: true } };
}
