import type { KubeConfig } from "@kubernetes/client-node";

let cached: KubeConfig | undefined;

/**
 * The kubeconfig of the environment (in-cluster service account, or KUBECONFIG / ~/.kube/config), loaded once and
 * on first use: @kubernetes/client-node takes ~0.5 s to load, which runs without Kubernetes never need.
 */
export function environmentKubeConfig(): KubeConfig {
  if (!cached) {
    const { KubeConfig } = require("@kubernetes/client-node") as typeof import("@kubernetes/client-node");
    cached = new KubeConfig();
    cached.loadFromDefault();
  }
  return cached;
}
