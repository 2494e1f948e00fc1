import * as assert from "node:assert/strict";
import { networkPolicyManifest, serviceMonitorManifest } from "../../../components/models/traffic";
import { crdErrors } from "../../support/crds";
import { cpuModel, llmModel, parseModels } from "./fixtures";

describe("model ServiceMonitor and NetworkPolicy manifests", () => {
    const [llm, cpu] = parseModels(llmModel, { ...cpuModel, namespace: "tabular" });

    it("scrapes /metrics of the predictor Service on the model server port, in the model's namespace", () => {
        const monitor = serviceMonitorManifest(cpu);
        assert.deepEqual(crdErrors(monitor), []);
        assert.deepEqual(monitor.metadata.namespace, "tabular");
        assert.deepEqual(monitor.spec.selector.matchLabels, { "serving.kserve.io/inferenceservice": "iris", component: "predictor" });
        assert.deepEqual(monitor.spec.namespaceSelector, { matchNames: ["tabular"] });
        assert.deepEqual(monitor.spec.endpoints, [{ targetPort: 8080, path: "/metrics", scheme: "http", interval: "15s" }]);
        assert.deepEqual(crdErrors(serviceMonitorManifest(llm)), []);
    });

    it("admits only the activator pods and Prometheus to the model pods, on the model server port", () => {
        const activatorPods = { "app.kubernetes.io/name": "activator" };
        const policy = networkPolicyManifest(llm, { activator: { namespace: "activator", podLabels: activatorPods }, monitoringNamespace: "monitoring" });
        assert.deepEqual(policy.spec.podSelector, { matchLabels: { "serving.kserve.io/inferenceservice": "qwen", component: "predictor" } });
        assert.deepEqual(policy.spec.policyTypes, ["Ingress"]);
        const sources = policy.spec.ingress.map((rule) => [rule.from, rule.ports]);
        assert.deepEqual(sources, [
            [
                [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "activator" } }, podSelector: { matchLabels: activatorPods } }],
                [{ protocol: "TCP", port: 8080 }],
            ],
            [
                [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } }, podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } } }],
                [{ protocol: "TCP", port: 8080 }],
            ],
        ]);
    });
});
