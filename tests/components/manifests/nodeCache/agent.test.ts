/**
 * The node-cache agent's objects (components/manifests/nodeCache/agent.ts): least-privilege RBAC, Pod Security of its
 * namespace and pods, the config the agent reads, and the directory the DaemonSet makes being the PVs' path.
 */
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { agentConfigFrom } from "../../../../activator/src/nodeCacheAgent/config";
import { reconcile } from "../../../../activator/src/nodeCacheAgent/reconcile";
import { cachedPools, nodeCacheProblem } from "../../../../components/config/nodeCache";
import { parseStackConfig } from "../../../../components/config/stack";
import { modelNamespaceManifest } from "../../../../components/manifests/activator/workload";
import { nodeCacheHostPath, nodeCacheOwner, nodeCachePersistentVolume, nodeCacheStorageClass } from "../../../../components/manifests/model/nodeCache";
import { nodeCacheAgentManifests } from "../../../../components/manifests/nodeCache/agent";
import { problemsOf, stackConfig } from "../../config/stackFiles";

const manifests = nodeCacheAgentManifests({
    image: "123.dkr.ecr.us-west-2.amazonaws.com/activator:1",
    pools: ["a100", "a100-spot"],
    defaultSlots: 8,
    systemNodeSelector: { "gpu-serverless.io/node-group": "system" },
    gpuTolerations: [{ key: "nvidia.com/gpu", operator: "Equal", value: "true", effect: "NoSchedule" }],
});
const env = (container: { env: { name: string; value: string }[] }) => Object.fromEntries(container.env.map((e) => [e.name, e.value]));

describe("manifests/nodeCache: the agent", () => {
    it("may only read nodes and read, create and update persistent volumes", () => {
        assert.deepEqual(manifests.clusterRole.rules, [
            { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
            { apiGroups: [""], resources: ["persistentvolumes"], verbs: ["get", "list", "watch", "create", "update", "patch"] },
        ]);
        assert.deepEqual(manifests.clusterRoleBinding.subjects, [{ kind: "ServiceAccount", name: "node-cache-agent", namespace: "node-cache" }]);
        assert.equal(manifests.deployment.spec.template.spec.serviceAccountName, "node-cache-agent");
        assert.equal(manifests.daemonSet.spec.template.spec.automountServiceAccountToken, false, "the hostPath pod gets no API credentials");
    });

    it("alone is privileged: the node-cache namespace for the hostPath DaemonSet, model namespaces stay baseline", () => {
        assert.equal(manifests.namespace.metadata.labels["pod-security.kubernetes.io/enforce"], "privileged");
        assert.equal(modelNamespaceManifest("models").metadata.labels["pod-security.kubernetes.io/enforce"], "baseline");
        const hostPaths = (spec: { volumes?: { hostPath?: unknown }[] }) => (spec.volumes ?? []).filter((v) => v.hostPath !== undefined);
        assert.deepEqual(hostPaths(manifests.deployment.spec.template.spec as never), [], "the agent itself needs no hostPath");
        assert.deepEqual(hostPaths(manifests.daemonSet.spec.template.spec), [{ name: "raid0", hostPath: { path: "/mnt/k8s-disks/0", type: "Directory" } }]);
    });

    it("runs the agent as Pod Security restricted asks (non-root, no escalation, no capabilities, RuntimeDefault seccomp)", () => {
        const pod = manifests.deployment.spec.template.spec;
        const [container] = pod.containers;
        assert.equal(pod.securityContext.runAsNonRoot, true);
        assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
        assert.equal(container.securityContext.allowPrivilegeEscalation, false);
        assert.deepEqual(container.securityContext.capabilities, { drop: ["ALL"] });
        assert.deepEqual(pod.nodeSelector, { "gpu-serverless.io/node-group": "system" });
        assert.deepEqual(container.args, ["activator/dist/nodeCacheAgent/main.js", "agent"]);
    });

    it("passes a config the agent accepts, whose volumes are the ones the model pods claim", () => {
        const config = agentConfigFrom(env(manifests.deployment.spec.template.spec.containers[0]));
        assert.equal(config.nodeLabelSelector, "gpu-serverless.io/accelerator=nvidia-a100,gpu-serverless.io/node-group in (a100,a100-spot)");
        assert.equal(config.storageClassName, nodeCacheStorageClass().metadata.name);
        const [create] = reconcile([{ metadata: { name: "ip-10-0-1-2" } }], [], config);
        assert.equal(create.kind, "create");
        assert.deepEqual(create.kind === "create" && create.volume, nodeCachePersistentVolume("ip-10-0-1-2", 0));
        assert.equal(reconcile([{ metadata: { name: "ip-10-0-1-2" } }], [], config).length, 8, "one per GPU of a p4d until the device plugin reports");
    });

    it("makes, on every cache node, the directory the volumes point at, owned by the model pods' fsGroup", () => {
        const pod = manifests.daemonSet.spec.template.spec;
        const [container] = pod.containers;
        const e = env(container);
        const mount = container.volumeMounts.find((m) => m.mountPath === e.NODE_CACHE_ROOT)!;
        const hostDir = pod.volumes.find((v) => v.name === mount.name)!.hostPath.path;
        assert.equal(path.posix.join(hostDir, e.NODE_CACHE_DIRECTORY), nodeCacheHostPath);
        assert.deepEqual([Number(e.NODE_CACHE_UID), Number(e.NODE_CACHE_GID)], [nodeCacheOwner.uid, nodeCacheOwner.gid]);
        assert.deepEqual(container.securityContext.capabilities, { drop: ["ALL"], add: ["CHOWN"] });
        assert.deepEqual(pod.tolerations, [{ key: "nvidia.com/gpu", operator: "Equal", value: "true", effect: "NoSchedule" }]);
    });
});

describe("config: nodeCache", () => {
    it("is off by default and, when on, covers the Karpenter GPU pools only", () => {
        assert.equal(parseStackConfig(stackConfig("dev")).nodeCache, false);
        const pools = [
            { name: "a", provisioner: "karpenter" },
            { name: "b", provisioner: "cluster-autoscaler" },
        ];
        assert.deepEqual(cachedPools({ nodeCache: true, gpuNodeGroups: pools }), ["a"]);
        assert.deepEqual(cachedPools({ nodeCache: false, gpuNodeGroups: pools }), []);
        assert.equal(nodeCacheProblem({ nodeCache: true, gpuNodeGroups: pools }), undefined);
    });

    it("refuses the cache with no Karpenter pool", () => {
        const groups = (parseStackConfig(stackConfig("dev")).gpuNodeGroups as object[]).map((g) => ({ ...g, provisioner: "cluster-autoscaler" }));
        const problems = problemsOf(stackConfig("dev", { nodeCache: true, gpuNodeGroups: groups }));
        assert.ok(
            problems.includes("gpu-serverless:nodeCache: needs a gpuNodeGroups entry with provisioner karpenter: the cache lives on the RAID0 instance-store mount its EC2NodeClass makes"),
            problems.join("\n"),
        );
        assert.deepEqual(problemsOf(stackConfig("dev", { nodeCache: "yes" })), ['gpu-serverless:nodeCache: "yes" is not true or false']);
    });
});
