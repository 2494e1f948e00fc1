/**
 * Every ServiceMonitor the program creates scrapes something: each endpoint selects, by prometheus-operator's rule
 * (tests/support/serviceMonitors.ts), a port that the pods behind the selected Services declare. The Services are the
 * program's own, plus the predictor Services KServe makes from each InferenceService (tests/support/servingRuntimes.ts).
 */
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { modelFormats } from "../components/config/models";
import { scrapedPorts, type ServiceMonitorLike, type ServiceWithPods } from "./support/serviceMonitors";
import { predictorContainerPorts, predictorServicePorts, selectedRuntime, type ContainerPort } from "./support/servingRuntimes";
import { kubernetesObjects, resetRecorded, setupMocks, settled } from "./support/mocks";
import { stackConfig } from "./components/config/stackFiles";

const cpuOnly = ["sklearn", "xgboost", "lightgbm", "pmml", "paddle", "mlflow"];

describe("every ServiceMonitor of the program scrapes a declared port (dev stack + one model per format, mocks)", () => {
    let services: ServiceWithPods[];
    let monitors: ServiceMonitorLike[];

    before(async () => {
        const models = modelFormats.map((format) => ({
            name: `m-${format}`,
            format,
            storageUri: format === "vllm" || format === "huggingface" ? `hf://org/model:${"b".repeat(40)}` : "gs://bucket/models/v1",
            gpus: cpuOnly.includes(format) ? 0 : 1,
        }));
        setupMocks({ project: "gpu-serverless", stack: "dev", config: stackConfig("dev", { models }) });
        resetRecorded();
        delete require.cache[require.resolve("../index")];
        require("../index");
        await settled();

        const objects = kubernetesObjects().map((r) => r.inputs);
        const workloads = objects.filter((o) => ["Deployment", "StatefulSet", "DaemonSet"].includes(o.kind));
        const podPortsFor = (namespace: string, selector: Record<string, string>): ContainerPort[] =>
            workloads
                .filter((w) => w.metadata.namespace === namespace)
                .filter((w) => Object.entries(selector).every(([k, v]) => w.spec.template.metadata.labels?.[k] === v))
                .flatMap((w) => w.spec.template.spec.containers.flatMap((c: { ports?: ContainerPort[] }) => c.ports ?? []));
        const ours: ServiceWithPods[] = objects
            .filter((o) => o.kind === "Service")
            .map((o) => ({
                namespace: o.metadata.namespace,
                labels: o.metadata.labels ?? {},
                ports: o.spec.ports.map((p: { name: string; port: number; targetPort?: number | string }) => ({ name: p.name, port: p.port, targetPort: p.targetPort ?? p.port })),
                podPorts: podPortsFor(o.metadata.namespace, o.spec.selector ?? {}),
            }));
        const predictors: ServiceWithPods[] = objects
            .filter((o) => o.kind === "InferenceService")
            .map((isvc) => {
                const model = isvc.spec.predictor.model;
                const podPorts = predictorContainerPorts(model, selectedRuntime(model));
                const labels = { ...isvc.metadata.labels, "serving.kserve.io/inferenceservice": isvc.metadata.name, component: "predictor" };
                return { namespace: isvc.metadata.namespace, labels, ports: predictorServicePorts(`${isvc.metadata.name}-predictor`, podPorts), podPorts };
            });
        services = [...ours, ...predictors];
        monitors = objects.filter((o) => o.kind === "ServiceMonitor") as ServiceMonitorLike[];
    });
    after(() => {
        pulumi.runtime.setAllConfig({});
        delete require.cache[require.resolve("../index")];
    });

    it("has ServiceMonitors to check: the activator's and one per model", () => {
        assert.equal(monitors.length, 1 + modelFormats.length);
    });

    it("finds, for every endpoint, at least one port the selected pods declare", () => {
        for (const monitor of monitors) {
            for (const endpoint of monitor.spec.endpoints) {
                const ports = scrapedPorts(monitor, endpoint, services);
                const name = (monitor as unknown as { metadata: { name: string } }).metadata.name;
                assert.ok(ports.length > 0, `${monitor.metadata.namespace}/${name} endpoint ${JSON.stringify(endpoint)} scrapes nothing`);
                const selected = services.filter((s) => Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => s.labels[k] === v));
                for (const port of ports) {
                    assert.ok(selected.some((s) => s.podPorts.some((p) => p.containerPort === port)), `${name}: port ${port} is declared`);
                }
            }
        }
    });
});
