import * as assert from "node:assert/strict";
import { modelFormats, type ModelFormat } from "../../../../components/config/models";
import { inferenceServiceManifest } from "../../../../components/manifests/model/inferenceService";
import { predictorLabels, predictorName } from "../../../../components/manifests/model/predictor";
import { servingRuntimes } from "../../../../components/manifests/model/runtime";
import { networkPolicyManifest, serviceMonitorManifest } from "../../../../components/manifests/model/traffic";
import { crdErrors } from "../../../support/crds";
import { ruleText, scrapedPorts, type ServiceWithPods } from "../../../support/serviceMonitors";
import { predictorContainerPorts, predictorServicePorts, selectedRuntime, type ContainerPort } from "../../../support/servingRuntimes";
import { a100Scheduling, cpuModel, llmModel, parseModels } from "./fixtures";

/** A valid model of each format. */
function modelOf(format: ModelFormat) {
    const cpuOnly = ["sklearn", "xgboost", "lightgbm", "pmml", "paddle", "mlflow"].includes(format);
    const llm = format === "vllm" || format === "huggingface";
    const storageUri = llm ? "hf://Qwen/Qwen2.5-0.5B-Instruct:7ae557604adf67be50417f59c2c2f167def9a775" : "gs://bucket/models/v1";
    return parseModels({ name: `m-${format}`, format, storageUri, gpus: cpuOnly ? 0 : 1 })[0];
}

/** The predictor Service KServe creates for a model, with the ports its pods declare (runtime container merged with ours). */
function predictorService(format: ModelFormat): ServiceWithPods {
    const model = modelOf(format);
    const isvc = inferenceServiceManifest(model, { serviceAccountName: "sa", gpuScheduling: a100Scheduling });
    const podPorts: ContainerPort[] = predictorContainerPorts(isvc.spec.predictor.model, selectedRuntime(isvc.spec.predictor.model));
    return { namespace: model.namespace, labels: predictorLabels(model), ports: predictorServicePorts(predictorName(model), podPorts), podPorts };
}

describe("model ServiceMonitor and NetworkPolicy manifests", () => {
    const [llm, cpu] = parseModels(llmModel, { ...cpuModel, namespace: "tabular" });

    it("reads prometheus-operator's port rule from its CRD: names refer to Service ports, targetPort to declared container ports", function () {
        const port = ruleText("port");
        const targetPort = ruleText("targetPort");
        if (port === undefined || targetPort === undefined) {
            console.log("      skipped: the CRD's field descriptions are read from ../shared/upstream, which is not beside this clone");
            return this.skip();
        }
        assert.match(port, /name of the Service port/);
        assert.match(targetPort, /matches against `\.spec\.containers\[\]\.ports\[\]\.containerPort` of the Pods/);
    });

    for (const format of modelFormats) {
        it(`scrapes a ${format} model on its runtime's metrics port, named and declared by the pod`, () => {
            const service = predictorService(format);
            const monitor = serviceMonitorManifest(modelOf(format));
            for (const endpoint of monitor.spec.endpoints) {
                assert.ok(endpoint.port, "selects a port by name");
                const declared = service.podPorts.find((p) => p.name === endpoint.port);
                assert.ok(declared, `the pod declares a port named ${endpoint.port}`);
                assert.deepEqual(scrapedPorts(monitor, endpoint, [service]), [servingRuntimes[format].metricsPort]);
            }
        });
    }

    it("would scrape nothing with the old numeric targetPort on a runtime that declares no port (the rule bites)", () => {
        const monitor = serviceMonitorManifest(modelOf("sklearn"));
        const undeclared: ServiceWithPods = { ...predictorService("sklearn"), podPorts: [] };
        undeclared.ports = predictorServicePorts("m-sklearn-predictor", []);
        assert.deepEqual(scrapedPorts(monitor, { targetPort: 8080 }, [undeclared]), []);
        assert.deepEqual(scrapedPorts(monitor, monitor.spec.endpoints[0], [undeclared]), []);
    });

    it("scrapes /metrics of the predictor Service in the model's namespace", () => {
        const monitor = serviceMonitorManifest(cpu);
        assert.deepEqual(crdErrors(monitor), []);
        assert.deepEqual(monitor.metadata.namespace, "tabular");
        assert.deepEqual(monitor.spec.selector.matchLabels, { "serving.kserve.io/inferenceservice": "iris", component: "predictor" });
        assert.deepEqual(monitor.spec.namespaceSelector, { matchNames: ["tabular"] });
        assert.deepEqual(monitor.spec.endpoints, [{ port: "http", path: "/metrics", scheme: "http", interval: "15s" }]);
        assert.deepEqual(crdErrors(serviceMonitorManifest(llm)), []);
    });

    it("admits Prometheus on a separate metrics port where the runtime has one (Triton 8002)", () => {
        const [onnx] = parseModels({ name: "o", format: "onnx", storageUri: "s3://bucket/models/v1", gpus: 1 });
        const policy = networkPolicyManifest(onnx, { activator: { namespace: "activator", podLabels: {} }, monitoringNamespace: "monitoring" });
        assert.deepEqual(policy.spec.ingress.map((rule) => rule.ports), [[{ protocol: "TCP", port: 8080 }], [{ protocol: "TCP", port: 8002 }]]);
    });

    for (const format of modelFormats) {
        it(`admits the activator on the port a ${format} model's EndpointSlices list, so it can send straight to a replica`, () => {
            // The activator's replica choice sends to `<pod IP>:<ports[0].port>` of the predictor Service's EndpointSlices:
            // the first Service port's targetPort. vLLM's /metrics is read there too.
            const service = predictorService(format);
            const slicePort = service.ports[0]!.targetPort;
            const activatorPods = { "app.kubernetes.io/name": "activator" };
            const policy = networkPolicyManifest(modelOf(format), { activator: { namespace: "activator", podLabels: activatorPods }, monitoringNamespace: "monitoring" });
            const admitted = policy.spec.ingress.filter((rule) => rule.from.some((peer) => peer.podSelector.matchLabels === activatorPods)).flatMap((rule) => rule.ports.map((p) => p.port));
            assert.deepEqual(admitted, [slicePort]);
        });
    }

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
