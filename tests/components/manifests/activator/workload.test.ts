import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { activatorName, activatorPodLabels, apiKeysDir, apiKeysSecretName, configFileName, peerTokenDir, peerTokenSecretName } from "../../../../components/manifests/activator/names";
import {
    activatorServiceMonitorManifest,
    adminServiceManifest,
    podsServiceManifest,
    proxyServiceManifest,
    scalerAddress,
    scalerServiceManifest,
} from "../../../../components/manifests/activator/services";
import { modelNamespaceRules, activatorNamespaceRules, podDisruptionBudgetManifest, statefulSetManifest, terminationGraceSeconds } from "../../../../components/manifests/activator/workload";
import { crdErrors } from "../../../support/crds";
import { stackWith } from "../model/fixtures";

describe("activator workload and Services manifests", () => {
    const internal = stackWith([], { replicas: 3, shutdownGraceSeconds: 40 }).activator;
    const publicStack = stackWith([], { exposure: "public", allowedCidrs: ["203.0.113.0/24"], apiKeySecrets: ["activatorApiKey"] }).activator;
    const system = { "gpu-serverless/node-group": "system" };
    const pods = podsServiceManifest("activator");
    const workloadOptions = { namespace: "activator", serviceName: pods.metadata.name, configMapName: "activator-config", systemNodeSelector: system };
    const statefulSet = statefulSetManifest(internal, { ...workloadOptions, image: "repo/activator:src-1@sha256:" + "0".repeat(64) });
    const pod = statefulSet.spec.template.spec;
    const container = pod.containers[0];

    it("runs the configured replicas as a StatefulSet spread across system nodes, started at once, rolled one pod at a time", () => {
        assert.equal(statefulSet.spec.replicas, 3);
        assert.equal(statefulSet.metadata.name, activatorName);
        assert.deepEqual(pod.nodeSelector, system);
        assert.deepEqual(pod.topologySpreadConstraints[0], { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: activatorPodLabels } });
        assert.equal(statefulSet.spec.podManagementPolicy, "Parallel");
        assert.deepEqual(statefulSet.spec.updateStrategy, { type: "RollingUpdate", rollingUpdate: { partition: 0 } });
        assert.deepEqual(statefulSet.spec.template.metadata.labels, statefulSet.spec.selector.matchLabels);
        assert.deepEqual(podDisruptionBudgetManifest("activator").spec, { maxUnavailable: 1, selector: { matchLabels: statefulSet.spec.template.metadata.labels } });
    });

    it("names every pod through a headless Service whose EndpointSlices list the replicas' admin ports to each other", () => {
        assert.equal(statefulSet.spec.serviceName, pods.metadata.name);
        assert.equal(pods.spec.clusterIP, "None");
        assert.deepEqual(pods.spec.selector, statefulSet.spec.template.metadata.labels);
        const admin = container.ports.find((p) => p.name === "admin")!;
        assert.deepEqual(pods.spec.ports.map((p) => [p.port, p.targetPort]), [[admin.containerPort, admin.name]]);
        assert.deepEqual(container.env, [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }], "replicas name themselves to peers");
    });

    it("gives KEDA one scaler address: a ClusterIP Service over every replica's gRPC port", () => {
        const grpc = container.ports.find((p) => p.name === "grpc")!;
        const service = scalerServiceManifest("activator");
        assert.equal(scalerAddress("activator"), `${service.metadata.name}.activator.svc.cluster.local:${grpc.containerPort}`);
        assert.deepEqual(service.spec.ports.map((p) => [p.port, p.targetPort]), [[grpc.containerPort, grpc.name]]);
        assert.deepEqual(service.spec.selector, statefulSet.spec.template.metadata.labels);
    });

    it("meets Pod Security restricted: non-root, no privilege escalation, no capabilities, RuntimeDefault seccomp, read-only root", () => {
        assert.equal(pod.securityContext.runAsNonRoot, true);
        assert.deepEqual(pod.securityContext.seccompProfile, { type: "RuntimeDefault" });
        assert.deepEqual(container.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ["ALL"] } });
        assert.deepEqual(container.resources.requests, container.resources.limits);
    });

    it("mounts the config where the image's command reads it, and probes health on the admin port", () => {
        // The StatefulSet keeps the image's command: the file must be where activator/Dockerfile points --config.
        const dockerfile = fs.readFileSync(path.join(__dirname, "../../../../activator/Dockerfile"), "utf8");
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
        assert.deepEqual(pod.volumes.filter((v) => "secret" in v).map((v) => v.name), ["peer-token"], "only the peers' token");
        const keyed = statefulSetManifest(publicStack, { ...workloadOptions, image: "repo/activator:1.0.0", apiKeys: true });
        const keyedPod = keyed.spec.template.spec;
        assert.deepEqual(keyedPod.containers[0].volumeMounts.find((m) => m.name === "api-keys"), { name: "api-keys", mountPath: apiKeysDir, readOnly: true });
        assert.deepEqual(keyedPod.volumes.find((v) => v.name === "api-keys"), { name: "api-keys", secret: { secretName: apiKeysSecretName, defaultMode: 0o440 } });
        assert.equal(keyedPod.securityContext.fsGroup, keyedPod.securityContext.runAsGroup, "the group that may read it is the activator's");
    });

    it("mounts the peers' shared token read-only where the generated config points peers.tokenFile", () => {
        assert.deepEqual(container.volumeMounts.find((m) => m.name === "peer-token"), { name: "peer-token", mountPath: peerTokenDir, readOnly: true });
        assert.deepEqual(pod.volumes.find((v) => v.name === "peer-token"), { name: "peer-token", secret: { secretName: peerTokenSecretName, defaultMode: 0o440 } });
    });

    it("lets Kubernetes wait for the whole drain before killing a pod", () => {
        assert.equal(pod.terminationGracePeriodSeconds, terminationGraceSeconds(internal));
        assert.ok(pod.terminationGracePeriodSeconds > 40 + container.lifecycle.preStop.sleep.seconds);
    });

    it("may only read: EndpointSlices, Pods, Events, ReplicaSets and InferenceServices in model namespaces, EndpointSlices in its own", () => {
        for (const rule of [...modelNamespaceRules, ...activatorNamespaceRules]) assert.deepEqual(rule.verbs, ["get", "list", "watch"]);
        assert.deepEqual(modelNamespaceRules.map((r) => `${r.apiGroups[0]}/${r.resources.join(",")}`), [
            "discovery.k8s.io/endpointslices",
            "/pods,events",
            "apps/replicasets",
            "serving.kserve.io/inferenceservices",
        ]);
        assert.deepEqual(activatorNamespaceRules.map((r) => `${r.apiGroups[0]}/${r.resources.join(",")}`), ["discovery.k8s.io/endpointslices"]);
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

    it("keeps the admin Service inside the cluster", () => {
        assert.equal(adminServiceManifest("activator").spec.type, "ClusterIP");
    });

    it("lets Prometheus scrape the admin Service, with a ServiceMonitor that fits the CRD", () => {
        const monitor = activatorServiceMonitorManifest("activator");
        assert.deepEqual(crdErrors(monitor), []);
        assert.deepEqual(monitor.spec.selector.matchLabels, adminServiceManifest("activator").metadata.labels);
        assert.deepEqual(monitor.spec.endpoints[0].port, adminServiceManifest("activator").spec.ports[0].name);
    });
});
