import * as assert from "node:assert/strict";
import { activatorPodLabels, activatorPorts } from "../../../../components/manifests/activator/names";
import { kedaOperatorPodLabels } from "../../../../components/domain/clusterFacts";
import { activatorNetworkPolicyManifest } from "../../../../components/manifests/activator/networkPolicy";
import { statefulSetManifest } from "../../../../components/manifests/activator/workload";
import { kedaValues } from "../../../../components/manifests/charts/keda";
import { chartDefaults, chartVersion } from "../../../support/chartValues";
import { stackWith } from "../model/fixtures";

/** A pod as a NetworkPolicy sees it: its namespace (Kubernetes labels it `kubernetes.io/metadata.name`) and labels. */
interface Source {
    namespace: string;
    labels: Record<string, string>;
}

type Policy = ReturnType<typeof activatorNetworkPolicyManifest>;
type Rule = Policy["spec"]["ingress"][number] & { from?: { namespaceSelector: { matchLabels: Record<string, string> }; podSelector: { matchLabels: Record<string, string> } }[] };

const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Whether `policy` admits TCP from `source` to `port` (NetworkPolicy semantics: a rule without `from` admits every source). */
function admits(policy: Policy, source: Source, port: number): boolean {
    return (policy.spec.ingress as Rule[]).some(
        (rule) =>
            rule.ports.some((p) => p.protocol === "TCP" && p.port === port) &&
            (rule.from === undefined ||
                rule.from.some(
                    (peer) => matches(peer.namespaceSelector.matchLabels, { "kubernetes.io/metadata.name": source.namespace }) && matches(peer.podSelector.matchLabels, source.labels),
                )),
    );
}

describe("activator NetworkPolicy", () => {
    const policy = activatorNetworkPolicyManifest({ namespace: "activator", kedaNamespace: "keda", monitoringNamespace: "monitoring" });
    // Pod labels as the KEDA chart 2.20.2 and kube-prometheus-stack set them (keda.labels adds component: operator to all three KEDA pods).
    const kedaCommon = { "app.kubernetes.io/component": "operator", "app.kubernetes.io/instance": "keda", "app.kubernetes.io/part-of": "keda-operator" };
    const sources: Record<string, Source> = {
        "KEDA operator": { namespace: "keda", labels: { app: "keda-operator", name: "keda-operator", "app.kubernetes.io/name": "keda-operator", ...kedaCommon } },
        "KEDA metrics server": { namespace: "keda", labels: { app: "keda-operator-metrics-apiserver", "app.kubernetes.io/name": "keda-operator-metrics-apiserver", ...kedaCommon } },
        "KEDA-labelled pod elsewhere": { namespace: "default", labels: { "app.kubernetes.io/name": "keda-operator" } },
        "activator peer": { namespace: "activator", labels: { ...activatorPodLabels, "apps.kubernetes.io/pod-index": "1" } },
        "activator-labelled pod elsewhere": { namespace: "models", labels: { ...activatorPodLabels } },
        Prometheus: { namespace: "monitoring", labels: { "app.kubernetes.io/name": "prometheus", "app.kubernetes.io/instance": "kube-prometheus-stack-prometheus" } },
        "batch runner": { namespace: "activator", labels: { "app.kubernetes.io/name": "batch-runner", "app.kubernetes.io/part-of": "gpu-serverless" } },
        Grafana: { namespace: "monitoring", labels: { "app.kubernetes.io/name": "grafana" } },
        "model pod": { namespace: "models", labels: { "serving.kserve.io/inferenceservice": "llama" } },
        "any pod": { namespace: "default", labels: { app: "curl" } },
    };
    const allowed: Record<keyof typeof activatorPorts, string[]> = {
        proxy: Object.keys(sources),
        scaler: ["KEDA operator"],
        admin: ["activator peer", "Prometheus", "batch runner"],
    };

    for (const [portName, port] of Object.entries(activatorPorts) as [keyof typeof activatorPorts, number][]) {
        it(`admits on the ${portName} port (${port}) only: ${allowed[portName].length === Object.keys(sources).length ? "every source" : allowed[portName].join(", ")}`, () => {
            const admitted = Object.entries(sources)
                .filter(([, source]) => admits(policy, source, port))
                .map(([name]) => name);
            assert.deepEqual(admitted, allowed[portName]);
        });
    }

    it("selects the activator pods, ingress only (egress stays open)", () => {
        assert.deepEqual(policy.spec.podSelector.matchLabels, activatorPodLabels);
        assert.deepEqual(policy.spec.policyTypes, ["Ingress"]);
        assert.equal(policy.metadata.namespace, "activator");
    });

    it("has a rule for every port the activator container declares", () => {
        const stack = stackWith([]).activator;
        const pod = statefulSetManifest(stack, { namespace: "activator", serviceName: "activator-pods", configMapName: "c", systemNodeSelector: { a: "b" }, image: "i" }).spec.template.spec;
        const declared = pod.containers.flatMap((c) => c.ports.map((p) => p.containerPort));
        const ruled = policy.spec.ingress.flatMap((rule) => rule.ports.map((p) => p.port));
        assert.deepEqual([...new Set(declared)].sort(), [...new Set(ruled)].sort());
    });

    it("selects the KEDA operator by the name the chart 2.20.2 gives its pods, which our values keep", () => {
        assert.equal(chartVersion("keda"), "2.20.2");
        const operator = chartDefaults("keda").operator as { name: string };
        // keda/templates/manager/deployment.yaml: pod label app.kubernetes.io/name: {{ .Values.operator.name }}
        assert.deepEqual(kedaOperatorPodLabels, { "app.kubernetes.io/name": operator.name });
        assert.equal((kedaValues({ a: "b" }) as { operator?: unknown }).operator, undefined, "our values do not rename the operator");
    });
});
