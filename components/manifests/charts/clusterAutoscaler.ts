/** Helm values for the `cluster-autoscaler` chart (AWS, auto-discovery by cluster name), as plain data. */
import { clusterAutoscalerImageTags } from "../../domain/versions";

export interface ClusterAutoscalerSettings {
    clusterName: string;
    region: string;
    /** Kubernetes version `1.<minor>`: cluster-autoscaler's minor must match the cluster's. */
    kubernetesVersion: string;
    /** ARN of its IRSA role, annotated on its service account. */
    roleArn: string;
    /** Service account the IRSA role trusts. */
    serviceAccount: string;
    /** How long a node stays unneeded before removal (Go duration). */
    scaleDownUnneededTime: string;
    /** How long a requested node may take to register before the group is backed off (Go duration). */
    maxNodeProvisionTime: string;
    /** Labels of the system nodes it runs on. */
    systemNodeSelector: Record<string, string>;
    /** Create a ServiceMonitor (needs the Prometheus operator CRDs). */
    serviceMonitor: boolean;
}

/** The cluster-autoscaler image tag for a cluster minor (newest patch, versions.ts); throws for a minor we do not pin. */
export function clusterAutoscalerImageTag(kubernetesVersion: string): string {
    const tag = clusterAutoscalerImageTags[kubernetesVersion];
    if (tag === undefined) {
        throw new Error(`no cluster-autoscaler image pinned for Kubernetes ${kubernetesVersion}; pinned: ${Object.keys(clusterAutoscalerImageTags).join(", ")}`);
    }
    return tag;
}

export function clusterAutoscalerValues(s: ClusterAutoscalerSettings) {
    return {
        cloudProvider: "aws",
        awsRegion: s.region,
        // Finds every Auto Scaling group tagged k8s.io/cluster-autoscaler/enabled and k8s.io/cluster-autoscaler/<name>,
        // which EKS puts on the groups of its managed node groups.
        autoDiscovery: { clusterName: s.clusterName },
        // Releases follow Kubernetes minors; the chart's default image is for the newest one. The newest patch of
        // the cluster's minor, not `.0`, which lacks the fixes since.
        image: { tag: clusterAutoscalerImageTag(s.kubernetesVersion) },
        rbac: { serviceAccount: { create: true, name: s.serviceAccount, annotations: { "eks.amazonaws.com/role-arn": s.roleArn } } },
        extraArgs: {
            "scale-down-unneeded-time": s.scaleDownUnneededTime,
            // Below every GPU model's hold budget: a group that cannot deliver a node (no capacity) is backed off
            // and the next group tried while the held request still waits.
            "max-node-provision-time": s.maxNodeProvisionTime,
            // vLLM pods mount an emptyDir at /dev/shm; without this, nodes running them would never scale down.
            "skip-nodes-with-local-storage": false,
            // Of the groups that fit the pending pods, grow the one left with the least idle CPU and memory.
            expander: "least-waste",
            "balance-similar-node-groups": true,
        },
        nodeSelector: s.systemNodeSelector,
        resources: { requests: { cpu: "100m", memory: "300Mi" }, limits: { memory: "600Mi" } },
        serviceMonitor: { enabled: s.serviceMonitor, namespace: "kube-system" },
    };
}
