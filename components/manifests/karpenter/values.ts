/**
 * Helm values for the `karpenter` chart (aws/karpenter-provider-aws v1.14.1, charts/karpenter/values.yaml; every key
 * is checked against that file by the tests).
 *
 * The controller runs on the system nodes (never on nodes it launches: the chart's default affinity keeps it off
 * `karpenter.sh/nodepool` nodes), calls AWS through an IRSA role, and reads the interruption queue.
 */

export interface KarpenterSettings {
    /** Physical EKS cluster name. Required. */
    clusterName: string;
    /** SQS queue name for interruption events (see domain/karpenterInterruption.ts). Required. */
    interruptionQueue: string;
    /** ARN of the controller's IRSA role, annotated on its service account. Required. */
    roleArn: string;
    /** Labels of the system nodes. Required, non-empty. */
    systemNodeSelector: Record<string, string>;
    /** Create a ServiceMonitor (needs the Prometheus operator CRDs). */
    serviceMonitor: boolean;
}

/** Service account of the controller (the IRSA role trusts exactly this one), in the release's namespace. */
export const karpenterServiceAccount = { namespace: "kube-system", name: "karpenter" } as const;

/**
 * Pending pods are batched until none arrived for `batchIdleDuration`, at most `batchMaxDuration`: a lone cold start
 * waits about 1 s before Karpenter launches, where cluster-autoscaler waits 30 s for GPU pods. The chart's defaults,
 * set explicitly because the cold-start budget reads them.
 */
export const karpenterBatch = { idleSeconds: 1, maxSeconds: 10 } as const;

export function karpenterValues(s: KarpenterSettings) {
    if (!s.clusterName) throw new Error("karpenterValues: clusterName is required");
    if (!s.interruptionQueue) throw new Error("karpenterValues: interruptionQueue is required (without it Karpenter ignores spot and maintenance notices)");
    if (Object.keys(s.systemNodeSelector ?? {}).length === 0) throw new Error("karpenterValues: systemNodeSelector must name the system nodes' labels");
    return {
        serviceAccount: { create: true, name: karpenterServiceAccount.name, annotations: { "eks.amazonaws.com/role-arn": s.roleArn } },
        nodeSelector: { "kubernetes.io/os": "linux", ...s.systemNodeSelector } as Record<string, string>,
        // Two replicas (leader election), on two system nodes, spread over zones where the nodes allow (the chart's
        // default DoNotSchedule would leave the second replica pending on a one-zone system group).
        replicas: 2,
        topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway" }],
        controller: { resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { memory: "1Gi" } } },
        serviceMonitor: { enabled: s.serviceMonitor },
        settings: {
            clusterName: s.clusterName,
            interruptionQueue: s.interruptionQueue,
            batchIdleDuration: `${karpenterBatch.idleSeconds}s`,
            batchMaxDuration: `${karpenterBatch.maxSeconds}s`,
            featureGates: {
                // Off (the chart's default, alpha). On, Karpenter deletes a node 10 minutes after its
                // AcceleratedHardwareReady turns False, whatever the reason — including DCGMError, which the node
                // monitoring agent raises when its own dcgm-server pod is missing and never clears (see
                // manifests/nodeMonitoring/agent.ts). A monitoring fault must not take down a serving GPU node.
                nodeRepair: false,
                // Capacity reservations and Capacity Blocks (capacity type `reserved`): beta, on by default.
                reservedCapacity: true,
            },
        },
    };
}
