/** Helm values for the cert-manager chart (`cert-manager`), which KServe's webhooks get their certificates from. */
import { NodeSelector } from "./scheduling";

/**
 * CRDs installed and kept by the release (`crds.enabled`, `crds.keep`: uninstalling must not delete every Certificate);
 * controller, webhook, cainjector and startup check on the system nodes through `global.nodeSelector`, which the
 * chart merges into each component's own selector.
 */
export function certManagerValues(systemNodeSelector: NodeSelector) {
    return {
        crds: { enabled: true, keep: true },
        global: { nodeSelector: { ...systemNodeSelector } },
    };
}
