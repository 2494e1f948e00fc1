/**
 * The rule behind the GPU node repair loop (issue 17, section 6): every pod that must run on GPU nodes tolerates
 * every taint of every GPU pool. Each add-on's pod placement is read from its chart's own default values merged with
 * ours (Helm's merge: maps by key, lists replaced), and each GPU pool's node labels and taints from the objects we
 * generate for it (managed node group data and Karpenter NodePools). A pod "must run on GPU nodes" when its node
 * affinity admits a GPU pool's node.
 */
import * as assert from "node:assert/strict";
import { parseStackConfig } from "../../../components/config/stack";
import { gpuNodePool } from "../../../components/manifests/karpenter/nodePool";
import {
    dcgmUnreachable,
    gpuNodeRepairConfig,
    gpuPoolTaints,
    nodeMonitoringAgentConfiguration,
    tolerationsFor,
    type NodeTaint,
} from "../../../components/manifests/nodeMonitoring/agent";
import { allGpuNodesSelector, eksGpuTaint, gpuNodeLabels } from "../../../components/domain/nodeGroups";
import { dcgmExporterValues } from "../../../components/manifests/charts/dcgmExporter";
import { devicePluginValues } from "../../../components/manifests/charts/nvidiaDevicePlugin";
import { chartDefaults, chartSchemaErrors } from "../../support/chartValues";
import { Placement, admits, untolerated } from "../../support/scheduling";
import { mergeValues } from "../../../components/domain/mergeValues";
import { stackConfig } from "../config/stackFiles";
import { cachedPools } from "../../../components/config/nodeCache";
import { nodeCacheAgentManifests } from "../../../components/manifests/nodeCache/agent";

interface GpuNode {
    pool: string;
    labels: Record<string, string>;
    taints: NodeTaint[];
}

const eksEffect = (effect: string) => effect.toLowerCase().replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase()) as NodeTaint["effect"];
const wellKnown = (instanceType: string) => ({ "node.kubernetes.io/instance-type": instanceType, "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux" });

/** The GPU nodes a stack can have: one per pool as a managed node group and as a Karpenter NodePool would make it. */
function gpuNodes(stack: string): GpuNode[] {
    const config = parseStackConfig(stackConfig(stack));
    return config.gpuNodeGroups.flatMap((pool) => {
        const nodePool = gpuNodePool(pool, { consolidateAfter: "10m" });
        const single = Object.fromEntries(
            nodePool.spec.template.spec.requirements.filter((r) => r.operator === "In" && r.values.length === 1).map((r) => [r.key, r.values[0]]),
        );
        return [
            {
                pool: `${pool.name} (managed node group)`,
                labels: { ...gpuNodeLabels(pool), ...wellKnown(pool.instanceType) },
                taints: [{ key: eksGpuTaint.key, value: eksGpuTaint.value, effect: eksEffect(eksGpuTaint.effect) }],
            },
            {
                pool: `${pool.name} (Karpenter)`,
                labels: { ...nodePool.spec.template.metadata.labels, ...single, "karpenter.sh/nodepool": nodePool.metadata.name },
                taints: nodePool.spec.template.spec.taints as NodeTaint[],
            },
        ];
    });
}

/** Every distinct taint of every GPU pool of the stack. */
const poolTaints = (nodes: GpuNode[]): NodeTaint[] => [...new Map(nodes.flatMap((n) => n.taints).map((t) => [JSON.stringify(t), t])).values()];

/**
 * The pods of our add-ons, with the placement their charts render from defaults + our values, built as the stack
 * builds them: from `gpuPoolTaints` of the config's pools (resources/cluster.ts, resources/platform.ts).
 */
function addOnPods(stack: string): { name: string; placement: Placement }[] {
    const config = parseStackConfig(stackConfig(stack));
    const taints = gpuPoolTaints(config.gpuNodeGroups);
    // The node cache's prepare DaemonSet as index.ts builds it, with the cache turned on (its default is off).
    const nodeCache = nodeCacheAgentManifests({
        image: "activator",
        pools: cachedPools({ ...config, nodeCache: true }),
        defaultSlots: 8,
        systemNodeSelector: {},
        gpuTolerations: tolerationsFor(taints),
    });
    const gpuPlacement = { gpuNodeSelector: allGpuNodesSelector, gpuTolerations: tolerationsFor(taints) };
    const monitoring = mergeValues(chartDefaults("eks-node-monitoring-agent"), nodeMonitoringAgentConfiguration(taints)) as Record<string, Placement>;
    return [
        { name: "eks-node-monitoring-agent", placement: monitoring.nodeAgent },
        { name: "dcgm-server (node monitoring agent)", placement: monitoring.dcgmAgent },
        { name: "nvidia-device-plugin", placement: mergeValues(chartDefaults("nvidia-device-plugin"), devicePluginValues(gpuPlacement)) as Placement },
        { name: "dcgm-exporter", placement: mergeValues(chartDefaults("dcgm-exporter"), dcgmExporterValues(gpuPlacement)) as Placement },
        { name: "node-cache-prepare", placement: nodeCache.daemonSet.spec.template.spec as Placement },
    ];
}

/** Pods that would land on a GPU node but not tolerate every GPU pool taint, as readable lines. */
function violations(pods: { name: string; placement: Placement }[], nodes: GpuNode[]): string[] {
    const taints = poolTaints(nodes);
    const out: string[] = [];
    for (const pod of pods) {
        if (!nodes.some((node) => admits(pod.placement, node.labels))) continue;
        for (const taint of untolerated(pod.placement.tolerations, taints)) {
            out.push(`${pod.name} must run on GPU nodes but does not tolerate ${taint.key}=${taint.value ?? ""}:${taint.effect}`);
        }
    }
    return out;
}

describe("GPU node daemons and the node repair loop", () => {
    for (const stack of ["dev", "prod"]) {
        it(`${stack}: every pod that must run on GPU nodes tolerates every taint of every GPU pool`, () => {
            const nodes = gpuNodes(stack);
            const pods = addOnPods(stack);
            assert.deepEqual(violations(pods, nodes), []);
            // Not vacuous: each GPU daemon is admitted on every GPU pool's nodes.
            for (const name of ["dcgm-server (node monitoring agent)", "nvidia-device-plugin", "dcgm-exporter", "eks-node-monitoring-agent"]) {
                const pod = pods.find((p) => p.name === name)!;
                for (const node of nodes) assert.ok(admits(pod.placement, node.labels), `${name} is not admitted on ${node.pool}`);
            }
            // The cache's DaemonSet runs on the Karpenter pools' nodes (the RAID0 mount is theirs).
            const prepare = pods.find((p) => p.name === "node-cache-prepare")!;
            for (const node of nodes.filter((n) => n.pool.endsWith("(Karpenter)"))) assert.ok(admits(prepare.placement, node.labels), `node-cache-prepare is not admitted on ${node.pool}`);
        });
    }

    it("the chart's default dcgm-server tolerates nothing: the rule catches it", () => {
        const nodes = gpuNodes("dev");
        const defaults = chartDefaults("eks-node-monitoring-agent") as Record<string, Placement>;
        assert.deepEqual(violations([{ name: "dcgm-server", placement: defaults.dcgmAgent }], nodes), [
            "dcgm-server must run on GPU nodes but does not tolerate nvidia.com/gpu=true:NoSchedule",
        ]);
    });

    it("the add-on's configurationValues are valid against its v1.7.0 configuration schema", () => {
        const config = nodeMonitoringAgentConfiguration(gpuPoolTaints(parseStackConfig(stackConfig("prod")).gpuNodeGroups));
        assert.deepEqual(chartSchemaErrors("eks-node-monitoring-agent", config), []);
        assert.notDeepEqual(chartSchemaErrors("eks-node-monitoring-agent", { dcgmAgent: { toleration: [] } }), [], "the schema refuses unknown keys");
    });

    it("a pool whose taint the stack forgets is caught", () => {
        const nodes = gpuNodes("dev");
        const extra: GpuNode = { ...nodes[1], pool: "tainted (Karpenter)", taints: [...nodes[1].taints, { key: "example.com/reserved", value: "ml", effect: "NoSchedule" }] };
        assert.ok(violations(addOnPods("dev"), [...nodes, extra]).some((v) => v.startsWith("dcgm-server (node monitoring agent) must run on GPU nodes but does not tolerate example.com/reserved=ml:NoSchedule")));
        assert.ok(violations(addOnPods("dev"), [...nodes, extra]).some((v) => v.startsWith("node-cache-prepare must run on GPU nodes but does not tolerate example.com/reserved=ml:NoSchedule")));
    });

    it("refuses an empty taint list, which would leave the fault in place", () => {
        assert.throws(() => nodeMonitoringAgentConfiguration([]), /gpuPoolTaints is empty/);
    });

    it("managed node groups never replace a node for DCGMError, and repair one node at a time", () => {
        const repair = gpuNodeRepairConfig();
        assert.equal(repair.enabled, true);
        const override = repair.nodeRepairConfigOverrides.find(
            (o) => o.nodeMonitoringCondition === dcgmUnreachable.condition && o.nodeUnhealthyReason === dcgmUnreachable.reason,
        );
        assert.equal(override?.repairAction, "NoAction");
        for (const o of repair.nodeRepairConfigOverrides) {
            // EKS API NodeRepairConfigOverrides: all four fields, minRepairWaitTimeMins >= 1, action from this set.
            assert.ok(["Replace", "Reboot", "NoAction"].includes(o.repairAction));
            assert.ok(Number.isInteger(o.minRepairWaitTimeMins) && o.minRepairWaitTimeMins >= 1);
        }
        assert.equal(repair.maxParallelNodesRepairedCount, 1);
    });
});
