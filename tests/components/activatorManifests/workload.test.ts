import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { apiKeysDir, configFileName } from "../../../components/activatorManifests/config";
import {
    activatorServiceMonitorManifest,
    adminServiceManifest,
    proxyServiceManifest,
    scalerAddress,
    scalerServiceManifest,
} from "../../../components/activatorManifests/services";
import {
    activatorPodLabels,
    apiKeysSecretName,
    deploymentManifest,
    modelNamespaceRules,
    podDisruptionBudgetManifest,
    terminationGraceSeconds,
} from "../../../components/activatorManifests/workload";
import { crdErrors } from "../../support/crds";
import { stackWith } from "../models/fixtures";

describe("activator workload and Services manifests", () => {
    const internal = stackWith([], { replicas: 3, shutdownGraceSeconds: 40 }).activator;
    const publicStack = stackWith([], { exposure: "public", allowedCidrs: ["203.0.113.0/24"], apiKeySecrets: ["activatorApiKey"] }).activator;
    const system = { "gpu-serverless/node-group": "system" };
    const deployment = deploymentManifest(internal, { namespace: "activator", image: "repo/activator:src-1@sha256:" + "0".repeat(64), configMapName: "activator-config", systemNodeSelector: system });
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];

    it("runs the configured replicas spread across system nodes, rolling without losing capacity", () => {
        assert.equal(deployment.spec.replicas, 3);
        assert.deepEqual(pod.nodeSelector, system);
        assert.deepEqual(pod.topologySpreadConstraints[0], { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: activatorPodLabels } });
        assert.deepEqual(deployment.spec.strategy.rollingUpdate, { maxUnavailable: 0, maxSurge: 1 });
        assert.deepEqual(podDisruptionBudgetManifest("activator").spec, { maxUnavailable: 1, selector: { matchLabels: activatorPodLabels } });
    });

    it("meets Pod Security restricted: non-root, no privilege escalation, no capabilities, RuntimeDefault seccomp, read-only root", () => {
        assert.equal(pod.securityContext.runAsNonRoot, true);
        assert.deepEqual(pod.securityContext.seccompProfile, { type: "RuntimeDefault" });
        assert.deepEqual(container.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ["ALL"] } });
        assert.deepEqual(container.resources.requests, container.resources.limits);
    });

    it("mounts the config where the image's command reads it, and probes health on the admin port", () => {
        // The Deployment keeps the image's command: the file must be where activator/Dockerfile points --config.
        const dockerfile = fs.readFileSync(path.join(__dirname, "../../../activator/Dockerfile"), "utf8");
        const command = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]) as string[];
        const configPath = command[command.indexOf("--config") + 1];
        assert.equal((container as { args?: unknown }).args, undefined);
        const mount = container.volumeMounts.find((m) => m.name === "config")!;
        assert.equal(`${mount.mountPath}/${configFileName}`, configPath);
        assert.deepEqual(pod.volumes[0], { name: "config", configMap: { name: "activator-config" } });
        assert.deepEqual(container.readinessProbe.httpGet, { path: "/readyz", port: "admin" });
        assert.deepEqual(container.livenessProbe.httpGet, { path: "/healthz", port: "admin" });
        assert.deepEqual(container.ports.map((p) => [p.name, p.containerPort]), [["proxy", 8080], ["grpc", 9090], ["admin", 9091]]);
    });

    it("mounts the API keys Secret read-only, readable by the activator's group only, when asked", () => {
        assert.ok(!container.volumeMounts.some((m) => m.name === "api-keys"), "not without API keys");
        assert.ok(!pod.volumes.some((v) => "secret" in v));
        const keyed = deploymentManifest(publicStack, { namespace: "activator", image: "repo/activator:1.0.0", configMapName: "activator-config", systemNodeSelector: system, apiKeys: true });
        const keyedPod = keyed.spec.template.spec;
        assert.deepEqual(keyedPod.containers[0].volumeMounts.find((m) => m.name === "api-keys"), { name: "api-keys", mountPath: apiKeysDir, readOnly: true });
        assert.deepEqual(keyedPod.volumes.find((v) => v.name === "api-keys"), { name: "api-keys", secret: { secretName: apiKeysSecretName, defaultMode: 0o440 } });
        assert.equal(keyedPod.securityContext.fsGroup, keyedPod.securityContext.runAsGroup, "the group that may read it is the activator's");
    });

    it("lets Kubernetes wait for the whole drain before killing a pod", () => {
        assert.equal(pod.terminationGracePeriodSeconds, terminationGraceSeconds(internal));
        assert.ok(pod.terminationGracePeriodSeconds > 40 + container.lifecycle.preStop.sleep.seconds);
    });

    it("may only read EndpointSlices and Pods in model namespaces", () => {
        assert.deepEqual(modelNamespaceRules.flatMap((r) => r.verbs).sort(), ["get", "get", "list", "list", "watch", "watch"]);
        assert.deepEqual(modelNamespaceRules.map((r) => `${r.apiGroups[0]}/${r.resources.join(",")}`), ["discovery.k8s.io/endpointslices", "/pods"]);
    });

    it("exposes the proxy on an internal NLB by default, public only to the allowed CIDRs", () => {
        const lb = "service.beta.kubernetes.io/aws-load-balancer";
        const inside = proxyServiceManifest(internal, { namespace: "activator", idleTimeoutSeconds: 960 });
        assert.equal(inside.spec.type, "LoadBalancer");
        assert.equal(inside.metadata.annotations[`${lb}-scheme`], "internal");
        assert.equal(inside.metadata.annotations[`${lb}-internal`], "true");
        assert.equal(inside.metadata.annotations[`${lb}-type`], "nlb");
        assert.equal(inside.metadata.annotations[`${lb}-listener-attributes.TCP-80`], "tcp.idle_timeout.seconds=960");
        assert.equal(inside.spec.loadBalancerSourceRanges, undefined);
        assert.deepEqual(inside.spec.ports, [{ name: "http", port: 80, targetPort: "proxy", protocol: "TCP" }]);

        const outside = proxyServiceManifest(publicStack, { namespace: "activator", idleTimeoutSeconds: 960 });
        assert.equal(outside.metadata.annotations[`${lb}-scheme`], "internet-facing");
        assert.equal(outside.metadata.annotations[`${lb}-internal`], undefined);
        assert.deepEqual(outside.spec.loadBalancerSourceRanges, ["203.0.113.0/24"]);
    });

    it("keeps the scaler and admin Services inside the cluster; KEDA dials the scaler by its DNS name", () => {
        const scaler = scalerServiceManifest("activator");
        const admin = adminServiceManifest("activator");
        assert.equal(scaler.spec.type, "ClusterIP");
        assert.equal(admin.spec.type, "ClusterIP");
        assert.deepEqual(scaler.spec.ports.map((p) => [p.port, p.targetPort]), [[9090, "grpc"]]);
        assert.equal(scalerAddress("activator"), `${scaler.metadata.name}.activator.svc.cluster.local:9090`);
    });

    it("lets Prometheus scrape the admin Service, with a ServiceMonitor that fits the CRD", () => {
        const monitor = activatorServiceMonitorManifest("activator");
        assert.deepEqual(crdErrors(monitor), []);
        assert.deepEqual(monitor.spec.selector.matchLabels, adminServiceManifest("activator").metadata.labels);
        assert.deepEqual(monitor.spec.endpoints[0].port, adminServiceManifest("activator").spec.ports[0].name);
    });
});
