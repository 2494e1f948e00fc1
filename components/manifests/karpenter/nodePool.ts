/**
 * One Karpenter `EC2NodeClass` and one `NodePool` per GPU pool (a `gpuNodeGroups` entry), as plain data.
 *
 * Same nodes as the managed node group of that pool: the EKS AL2023 AMI (its NVIDIA variant, which Karpenter picks
 * for GPU instance types), IMDSv2 only with hop limit 1, an encrypted gp3 root volume, the pool's labels and the
 * `nvidia.com/gpu=true:NoSchedule` taint. Different where Karpenter allows more: the p4d's 8 x 1 TB local NVMe are
 * striped into one RAID0 volume that holds containerd's images, emptyDirs and pod logs (`instanceStorePolicy: RAID0`;
 * the root volume then only carries the OS), and nodeadm pulls image layers in parallel (`FastImagePull`).
 *
 * Schema: aws/karpenter-provider-aws v1.14.1 pkg/apis/crds/karpenter.k8s.aws_ec2nodeclasses.yaml and
 * karpenter.sh_nodepools.yaml (copies in ../shared/upstream/crds; tests validate every object against them).
 */
import type { GpuNodeGroupConfig } from "../../config/schema";
import { gpuTaint } from "../../domain/clusterFacts";
import { a100InstanceTypes, acceleratorLabel, acceleratorValue, gpuPresentLabel, nodeGroupLabel } from "../../domain/nodeGroups";

export const karpenterApiVersion = "karpenter.sh/v1";
export const ec2NodeClassApiVersion = "karpenter.k8s.aws/v1";

/**
 * The EKS AMI release every GPU pool boots, as a Karpenter alias (`family@version`): pinned, so nodes change only
 * when this changes (Karpenter marks older nodes drifted then). `al2023` resolves to the NVIDIA variant on GPU
 * instance types (aws/karpenter-provider-aws v1.14.1 pkg/providers/amifamily/al2023.go L39-L67: variants standard,
 * nvidia, neuron per architecture). Release: awslabs/amazon-eks-ami tag v20260724 (81fec2e89585).
 */
export const gpuAmiAlias = "al2023@v20260724";

/**
 * Root volume: the OS, the kubelet's own files and nothing else once RAID0 takes images and pods (AL2023 EKS AMIs
 * default to 20 GiB). 100 GiB leaves room for logs and a second AMI's worth of packages. gp3 at 3000 IOPS / 125 MiB/s
 * (its free baseline): no image layers are written there.
 */
export const gpuRootVolumeGiB = 100;

/** Name of the EC2NodeClass and NodePool of a pool: the pool's name (a DNS label, unique). */
export const karpenterPoolName = (pool: Pick<GpuNodeGroupConfig, "name">): string => pool.name;

/**
 * Where nodes launch and what they are: resolved by the stack, passed in as plain strings. Subnets and security
 * groups are selected by id, not by a `karpenter.sh/discovery` tag: the ids are exact (no other tagged subnet of an
 * adopted VPC is picked up) and nothing has to be tagged on resources the stack may not own.
 */
export interface NodeClassRefs {
    /** Physical cluster name (instance tags). */
    clusterName: string;
    /** Name of the instance profile of the node role (created by the stack, so Karpenter needs no IAM writes). */
    instanceProfile: string;
    /** The private node subnets (subnet-...), at least one. A pool pinned to a zone is held there by its NodePool. */
    subnetIds: readonly string[];
    /** Security groups of the nodes (sg-...): the EKS cluster security group, as on the managed node groups. */
    securityGroupIds: readonly string[];
}

/**
 * nodeadm configuration appended to the user data Karpenter generates (AL2023 merges NodeConfig documents).
 * `FastImagePull` is a nodeadm feature gate, off by default (awslabs/amazon-eks-ami v20260724
 * nodeadm/internal/api/featuregates.go L18-L22; doc/examples.md "Enabling fast image pull": ignored on small
 * instances, wants fast disks — here the NVMe RAID0).
 */
export function gpuNodeUserData(): string {
    return [
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="BOUNDARY"',
        "",
        "--BOUNDARY",
        "Content-Type: application/node.eks.aws",
        "",
        "apiVersion: node.eks.aws/v1alpha1",
        "kind: NodeConfig",
        "spec:",
        "  featureGates:",
        "    FastImagePull: true",
        "",
        "--BOUNDARY--",
        "",
    ].join("\n");
}

/** The EC2NodeClass of one GPU pool. */
export function gpuEc2NodeClass(pool: GpuNodeGroupConfig, refs: NodeClassRefs) {
    if (refs.subnetIds.length === 0) throw new Error(`EC2NodeClass ${pool.name}: refs.subnetIds is empty; pass the private node subnets`);
    if (refs.securityGroupIds.length === 0) throw new Error(`EC2NodeClass ${pool.name}: refs.securityGroupIds is empty; pass the cluster security group`);
    return {
        apiVersion: ec2NodeClassApiVersion,
        kind: "EC2NodeClass",
        metadata: { name: karpenterPoolName(pool) },
        spec: {
            amiSelectorTerms: [{ alias: gpuAmiAlias }],
            subnetSelectorTerms: refs.subnetIds.map((id) => ({ id })),
            securityGroupSelectorTerms: refs.securityGroupIds.map((id) => ({ id })),
            instanceProfile: refs.instanceProfile,
            // A Capacity Block or reservation is found by id; Karpenter then launches into it (capacity type `reserved`).
            ...(pool.capacityReservationId !== undefined ? { capacityReservationSelectorTerms: [{ id: pool.capacityReservationId }] } : {}),
            instanceStorePolicy: "RAID0",
            // IMDSv2 only; hop limit 1 keeps pods (one hop further) away from the node role's credentials.
            metadataOptions: { httpEndpoint: "enabled", httpProtocolIPv6: "disabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
            blockDeviceMappings: [
                {
                    deviceName: "/dev/xvda",
                    rootVolume: true,
                    ebs: { volumeSize: `${gpuRootVolumeGiB}Gi`, volumeType: "gp3", encrypted: true, deleteOnTermination: true },
                },
            ],
            userData: gpuNodeUserData(),
            tags: { Name: `${refs.clusterName}-gpu-${pool.name}`, "gpu-serverless:cluster": refs.clusterName },
        },
    };
}

/** The taints of every node of a Karpenter GPU pool: the GPU taint the managed node groups carry too. */
export const karpenterPoolTaints = [{ key: gpuTaint.key, value: gpuTaint.value, effect: gpuTaint.effect }] as const;

/** Karpenter capacity types for a pool's `capacityType` (and capacity reservation, if any). */
export function karpenterCapacityTypes(pool: Pick<GpuNodeGroupConfig, "capacityType" | "capacityReservationId">): string[] {
    switch (pool.capacityType) {
        case "SPOT":
            return ["spot"];
        case "CAPACITY_BLOCK":
            return ["reserved"];
        case "ON_DEMAND":
            // Like the managed node group's targeted reservation: only the reservation when one is named.
            return pool.capacityReservationId !== undefined ? ["reserved"] : ["on-demand"];
    }
}

/** Node labels of a Karpenter GPU pool: the user's, the pool's name, the accelerator, and NVIDIA's presence label. */
export function karpenterNodeLabels(pool: Pick<GpuNodeGroupConfig, "name" | "labels">): Record<string, string> {
    return { ...pool.labels, [nodeGroupLabel]: pool.name, [acceleratorLabel]: acceleratorValue, [gpuPresentLabel]: "true" };
}

export interface NodePoolSettings {
    /** How long a node stays empty (no pods but DaemonSets) before Karpenter removes it: a Go-style duration, e.g. `10m`. */
    consolidateAfter: string;
}

/** The NodePool of one GPU pool. Throws for a pool Karpenter cannot serve as configured. */
export function gpuNodePool(pool: GpuNodeGroupConfig, settings: NodePoolSettings) {
    if (pool.minSize > 0) {
        throw new Error(
            `gpuNodeGroups ${pool.name}: minSize ${pool.minSize} needs nodes kept without pods, which a Karpenter NodePool does not do; set minSize 0 (spare nodes are the pool's warm setting) or provisioner cluster-autoscaler`,
        );
    }
    if (!/^([0-9]+(s|m|h))+$/.test(settings.consolidateAfter)) {
        throw new Error(`NodePool ${pool.name}: consolidateAfter ${JSON.stringify(settings.consolidateAfter)} is not a duration like 10m or 1h30m`);
    }
    const gpus = a100InstanceTypes[pool.instanceType].gpus;
    return {
        apiVersion: karpenterApiVersion,
        kind: "NodePool",
        metadata: { name: karpenterPoolName(pool) },
        spec: {
            template: {
                metadata: { labels: karpenterNodeLabels(pool) },
                spec: {
                    nodeClassRef: { group: "karpenter.k8s.aws", kind: "EC2NodeClass", name: karpenterPoolName(pool) },
                    requirements: [
                        { key: "node.kubernetes.io/instance-type", operator: "In", values: [pool.instanceType] },
                        { key: "karpenter.sh/capacity-type", operator: "In", values: karpenterCapacityTypes(pool) },
                        { key: "kubernetes.io/arch", operator: "In", values: ["amd64"] },
                        { key: "kubernetes.io/os", operator: "In", values: ["linux"] },
                        ...(pool.availabilityZone !== undefined ? [{ key: "topology.kubernetes.io/zone", operator: "In", values: [pool.availabilityZone] }] : []),
                    ],
                    taints: karpenterPoolTaints.map((t) => ({ ...t })),
                    // Nodes go when empty, not on age: a pinned AMI gives a replacement nothing new, and replacing a
                    // serving GPU node costs a cold start.
                    expireAfter: "Never",
                },
            },
            // At most maxSize nodes' worth of GPUs (Karpenter counts the GPUs of nodes it has launched).
            limits: { "nvidia.com/gpu": String(pool.maxSize * gpus) },
            disruption: {
                consolidationPolicy: "WhenEmpty",
                consolidateAfter: settings.consolidateAfter,
                // One node at a time; drift (a new AMI alias) replaces no node: drifted nodes go when empty, by consolidation.
                budgets: [{ nodes: "1" }, { nodes: "0", reasons: ["Drifted"] }],
            },
        },
    };
}
