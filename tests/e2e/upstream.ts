/**
 * Upstream objects the suite installs the way our Helm releases would, computed from upstream files (pure).
 */

/**
 * Each Helm value of ours that changes KServe's `inferenceservice-config`, and where: kserve/kserve
 * charts/kserve-resources/files/common/configmap-patch.yaml at v0.20.0 renders `deploy.defaultDeploymentMode` from
 * `kserve.controller.deploymentMode` and `ingress.disableIngressCreation` from
 * `kserve.controller.gateway.disableIngressCreation`. Values listed with `null` only shape the controller's own Pod.
 */
const configEffects: Record<string, [configKey: string, field: string] | null> = {
    "kserve.controller.deploymentMode": ["deploy", "defaultDeploymentMode"],
    "kserve.controller.gateway.disableIngressCreation": ["ingress", "disableIngressCreation"],
    "kserve.controller.nodeSelector": null,
    "kserve.controller.resources": null,
    "kserve.controller.tolerations": null,
};

/** Leaf paths of a values object: `{a: {b: 1}}` → ["a.b"]; maps under a known prefix (nodeSelector) stay whole. */
function leaves(values: any, prefix = ""): string[] {
    if (values === null || typeof values !== "object" || Array.isArray(values) || prefix in configEffects) return [prefix];
    return Object.entries(values).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
}

/**
 * The upstream `inferenceservice-config` ConfigMap (kserve/kserve config/configmap/inferenceservice.yaml, v0.20.0) with
 * the effect of our `kserve-resources` values, in `namespace`. Throws naming a value whose effect is not mapped here, so
 * a new value cannot be silently left out of the end-to-end run.
 */
export function inferenceServiceConfig(upstream: any, values: any, namespace: string): any {
    const data: Record<string, string> = { ...upstream.data };
    for (const leaf of leaves(values)) {
        if (!(leaf in configEffects)) throw new Error(`kserve-resources value ${leaf}: its effect on inferenceservice-config is not mapped in tests/e2e/upstream.ts`);
        const effect = configEffects[leaf];
        if (!effect) continue;
        const [key, field] = effect;
        const value = leaf.split(".").reduce((o, k) => o[k], values);
        const parsed = JSON.parse(data[key]);
        parsed[field] = value;
        data[key] = JSON.stringify(parsed, null, 2);
    }
    return { apiVersion: "v1", kind: "ConfigMap", metadata: { name: upstream.metadata.name, namespace }, data };
}

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
