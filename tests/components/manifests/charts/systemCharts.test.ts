import * as assert from "node:assert/strict";
import { chartDefaults, chartSchemaErrors, unknownValuePaths } from "../../../support/chartValues";
import { documentedDeploymentModes } from "../../../support/upstreamFacts";
import { certManagerValues } from "../../../../components/manifests/charts/certManager";
import { kedaRelayAddress, kedaRelayContainer, kedaValues } from "../../../../components/manifests/charts/keda";
import { relayOptionsFrom } from "../../../../activator/src/kedaRelay/main";
import { kserveDeploymentMode, kserveRuntimeValues, kserveValues } from "../../../../components/manifests/charts/kserve";

const systemNodeSelector = { "gpu-serverless.io/node-group": "system" };

describe("values/keda", () => {
    const values = kedaValues(systemNodeSelector);

    it("runs every KEDA component on the system nodes", () => {
        assert.deepEqual(values.nodeSelector, systemNodeSelector);
    });

    it("exposes operator and metrics server metrics with ServiceMonitors", () => {
        for (const part of [values.prometheus.operator, values.prometheus.metricServer]) {
            assert.deepEqual(part, { enabled: true, serviceMonitor: { enabled: true } });
        }
    });

    it("sets only keys the chart declares", () => {
        assert.deepEqual(unknownValuePaths("keda", values), []);
    });
});

describe("values/keda with the KEDA relay", () => {
    const relay = { image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/activator:abc", upstream: "activator-scaler.gpu.svc.cluster.local:9090" };
    const values = kedaValues(systemNodeSelector, "arn:aws:iam::123456789012:role/keda-queue-reader", relay) as any;

    it("adds the relay as a container of the operator's pod (operator.extraContainers), with keys the chart declares", () => {
        assert.deepEqual(unknownValuePaths("keda", values), []);
        assert.deepEqual(values.operator.extraContainers.map((c: any) => [c.name, c.image]), [["keda-relay", relay.image]]);
    });

    it("runs the relay listening where the ScaledObjects point, dialing the scaler Service", () => {
        const [container] = values.operator.extraContainers;
        assert.equal(container.args[0], "activator/dist/kedaRelay/main.js", "the entry the activator image builds");
        const options = relayOptionsFrom(container.args.slice(1));
        assert.equal(`127.0.0.1:${options.listen.port}`, kedaRelayAddress);
        assert.deepEqual(options.upstream, { host: "activator-scaler.gpu.svc.cluster.local", port: 9090 });
    });

    it("gives the relay no Kubernetes token, no AWS token, no capabilities", () => {
        const [container] = values.operator.extraContainers;
        const mount = container.volumeMounts.find((m: any) => m.mountPath === "/var/run/secrets/kubernetes.io/serviceaccount");
        assert.ok(mount, "the token path is taken by another volume, so the ServiceAccount token is not mounted there");
        assert.deepEqual(values.volumes.keda.extraVolumes, [{ name: mount.name, emptyDir: {} }]);
        assert.equal(values.podAnnotations.keda["eks.amazonaws.com/skip-containers"], "keda-relay");
        assert.deepEqual(container.securityContext.capabilities, { drop: ["ALL"] });
        assert.equal(container.securityContext.readOnlyRootFilesystem, true);
        assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    });

    it("refuses an upstream that is not host:port", () => {
        assert.throws(() => kedaRelayContainer({ image: "x", upstream: "activator-scaler" }), { message: 'KEDA relay upstream "activator-scaler" is not host:port' });
    });
});

describe("values/certManager", () => {
    const values = certManagerValues(systemNodeSelector);

    it("installs and keeps its CRDs", () => {
        assert.equal((chartDefaults("cert-manager").crds as any).enabled, false);
        assert.deepEqual(values.crds, { enabled: true, keep: true });
    });

    it("runs every component on the system nodes", () => {
        assert.deepEqual(values.global.nodeSelector, systemNodeSelector);
    });

    it("sets only keys the chart declares, and passes its values schema", () => {
        assert.deepEqual(unknownValuePaths("cert-manager", values), []);
        assert.deepEqual(chartSchemaErrors("cert-manager", values), []);
    });
});

describe("values/kserve", () => {
    const values = kserveValues(systemNodeSelector);

    it("defaults InferenceServices to Standard (raw Deployment) mode, not the chart's Knative", () => {
        assert.equal((chartDefaults("kserve-resources") as any).kserve.controller.deploymentMode, "Knative");
        assert.equal(values.kserve.controller.deploymentMode, "Standard");
    });

    it("uses the mode name KServe v0.20 documents in its inferenceservice-config", () => {
        assert.deepEqual(documentedDeploymentModes(), ["Standard", "Knative"]);
        assert.equal(kserveDeploymentMode, "Standard");
    });

    it("creates no Ingress per InferenceService and runs the controller on the system nodes", () => {
        assert.equal(values.kserve.controller.gateway.disableIngressCreation, true);
        assert.deepEqual(values.kserve.controller.nodeSelector, systemNodeSelector);
    });

    it("sets only keys the chart declares", () => {
        assert.deepEqual(unknownValuePaths("kserve-resources", values), []);
    });
});

describe("values/kserve runtimes (kserve-runtime-configs)", () => {
    const values = kserveRuntimeValues();

    it("turns on the ClusterServingRuntimes the chart leaves off by default", () => {
        // Upstream default: no runtime at all, so every InferenceService would stay without a predictor.
        assert.equal((chartDefaults("kserve-runtime-configs") as any).kserve.servingruntime.enabled, false);
        assert.equal(values.kserve.servingruntime.enabled, true);
    });

    it("sets only keys the chart declares", () => {
        assert.deepEqual(unknownValuePaths("kserve-runtime-configs", values), []);
    });
});
