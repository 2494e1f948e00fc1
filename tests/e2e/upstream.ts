/**
 * Upstream objects the suite installs the way our Helm releases would, computed from upstream files (pure). The
 * `inferenceservice-config` ConfigMap and the ClusterServingRuntimes are not computed here: the suite renders them with
 * the real charts and the plan's values (./helm.ts).
 */

/**
 * KServe's webhook configurations (chart kserve-resources files/kserve/resources.yaml, v0.20.0) pointed at a local
 * manager the way envtest does: `clientConfig.url` = base + the service path, `caBundle` = our CA; cert-manager's
 * CA-injection annotation dropped.
 */
export function kserveWebhooks(resources: any[], baseUrl: string, ca: Buffer): any[] {
    return resources
        .filter((o) => o?.kind === "MutatingWebhookConfiguration" || o?.kind === "ValidatingWebhookConfiguration")
        .map((o) => ({
            apiVersion: "admissionregistration.k8s.io/v1",
            kind: o.kind,
            metadata: { name: o.metadata.name, labels: o.metadata.labels },
            webhooks: o.webhooks.map((w: any) => {
                const { service, ...rest } = w.clientConfig;
                return { ...w, clientConfig: { ...rest, url: `${baseUrl}${service.path}`, caBundle: ca.toString("base64") } };
            }),
        }));
}
