/** Helm values for the NVIDIA device plugin chart (`nvidia-device-plugin`). */
import { GpuPlacement, onGpuNodes } from "./scheduling";

/**
 * The chart's default affinity only matches nodes labelled by node-feature-discovery (`pci-10de.present`), which we do
 * not run: replace it with our GPU node labels so the plugin lands on the A100 nodes and advertises `nvidia.com/gpu`.
 */
export function devicePluginValues(placement: GpuPlacement) {
    return { ...onGpuNodes(placement) };
}
