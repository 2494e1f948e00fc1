/**
 * The EKS node monitoring agent add-on, as plain data: its `configurationValues` and the node repair settings of the
 * managed GPU node groups.
 *
 * The fault this fixes: the add-on's `dcgm-server` DaemonSet takes its tolerations from `dcgmAgent.tolerations`
 * only, `[]` by default (aws/eks-node-monitoring-agent v1.7.0 charts/eks-node-monitoring-agent/values.yaml), so it
 * never lands on our tainted GPU nodes. After its one-minute grace the agent reports `AcceleratedHardwareReady=False`
 * with reason `DCGMError`, and managed node repair replaces the node ~10 minutes later: every GPU node, about 11
 * minutes after it joins (aws/containers-roadmap#2555, #2567). The condition also latches: once raised it is not
 * cleared when DCGM recovers (aws/eks-node-monitoring-agent#266, fix proposed in #275), so even a transient
 * dcgm-server restart condemns a serving node.
 *
 * Two rules follow: (1) dcgm-server tolerates every taint of every GPU pool; (2) `DCGMError` — the agent failing to
 * reach its own host engine, a monitoring fault — is never a reason to replace a node. GPU faults DCGM does report
 * (health codes, XIDs, NVLink) keep the default repair.
 */
import type { GpuNodeGroupConfig } from "../../config/schema";
import { gpuTaint } from "../../domain/clusterFacts";
import type { Toleration } from "../charts/scheduling";

/** A taint as nodes carry it (Kubernetes spelling of the effect). */
export interface NodeTaint {
    readonly key: string;
    readonly value?: string;
    readonly effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
}

/**
 * Every distinct taint of every GPU pool, as nodes carry it: `[gpuTaint]` when there is a pool, `[]` otherwise. Both
 * provisioners put the one taint of domain/clusterFacts.ts on their nodes (managed node groups as `eksGpuTaint`,
 * Karpenter NodePools as `karpenterPoolTaints`, both built from it).
 */
export function gpuPoolTaints(pools: readonly Pick<GpuNodeGroupConfig, "provisioner">[]): NodeTaint[] {
    return pools.length > 0 ? [{ ...gpuTaint }] : [];
}

/** Tolerations matching each taint exactly (`Equal` with its value, or `Exists` for a taint without one), deduplicated. */
export function tolerationsFor(taints: readonly NodeTaint[]): Toleration[] {
    const out = new Map<string, Toleration>();
    for (const t of taints) {
        const toleration: Toleration =
            t.value === undefined || t.value === ""
                ? { key: t.key, operator: "Exists", effect: t.effect }
                : { key: t.key, operator: "Equal", value: t.value, effect: t.effect };
        out.set(JSON.stringify(toleration), toleration);
    }
    return [...out.values()];
}

/**
 * The add-on's `configurationValues` (checked against the add-on's configuration.schema.json v1.7.0 by the tests):
 * dcgm-server tolerates the GPU pools' taints. Its node affinity (GPU instance types only) stays the chart's.
 * Throws when no taint is given: with tainted GPU pools that would leave the fault in place.
 */
export function nodeMonitoringAgentConfiguration(gpuPoolTaints: readonly NodeTaint[]) {
    if (gpuPoolTaints.length === 0) {
        throw new Error("nodeMonitoringAgentConfiguration: gpuPoolTaints is empty; pass every taint of every GPU pool (e.g. nvidia.com/gpu=true:NoSchedule)");
    }
    return { dcgmAgent: { tolerations: tolerationsFor(gpuPoolTaints) } };
}

/** The node condition and reason the agent sets when it cannot reach dcgm-server's host engine (aws/containers-roadmap#2555). */
export const dcgmUnreachable = { condition: "AcceleratedHardwareReady", reason: "DCGMError" } as const;

/**
 * Managed node group repair settings (EKS API NodeRepairConfig; NodeRepairConfigOverrides: all four fields required,
 * repairAction one of Replace | Reboot | NoAction, minRepairWaitTimeMins >= 1 — docs.aws.amazon.com/eks/latest/
 * APIReference/API_NodeRepairConfigOverrides.html). Repair stays on for real faults; `DCGMError` takes `NoAction`.
 * At most one node of a group is repaired at a time.
 */
export function gpuNodeRepairConfig() {
    return {
        enabled: true,
        maxParallelNodesRepairedCount: 1,
        nodeRepairConfigOverrides: [
            { nodeMonitoringCondition: dcgmUnreachable.condition, nodeUnhealthyReason: dcgmUnreachable.reason, minRepairWaitTimeMins: 10, repairAction: "NoAction" },
        ],
    };
}
