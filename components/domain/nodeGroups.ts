/**
 * What our node groups look like, as plain data: A100 instance facts, node labels and taints, where pods must go to
 * land on them, launch template settings, and the Auto Scaling group tags cluster-autoscaler reads to scale a group up
 * from zero nodes (with no node to look at, it builds a template node from these tags).
 */
import type * as aws from "@pulumi/aws";
import type * as k8s from "@pulumi/kubernetes";
import { gpuTaint } from "./clusterFacts";

/**
 * The A100 instance types we run, with what a node offers: `gpus` per node and each GPU's memory. Both carry eight
 * A100s, 40 GiB resp. 80 GiB each (https://aws.amazon.com/ec2/instance-types/p4/).
 */
export const a100InstanceTypes = {
    "p4d.24xlarge": { gpus: 8, gpuMemoryGiB: 40 },
    "p4de.24xlarge": { gpus: 8, gpuMemoryGiB: 80 },
} as const;

export type A100InstanceType = keyof typeof a100InstanceTypes;
export const a100InstanceTypeNames = Object.keys(a100InstanceTypes) as A100InstanceType[];

/** EC2 capacity a GPU group launches on: on-demand, Spot, or an EC2 Capacity Block for ML. */
export const capacityTypes = ["ON_DEMAND", "SPOT", "CAPACITY_BLOCK"] as const;
export type CapacityType = (typeof capacityTypes)[number];

/** What the builders here read of the system node group (config/schema's `systemNodeGroup` has this shape). */
export interface SystemNodeGroupFacts {
    instanceType: string;
    rootVolumeSizeGiB: number;
}

/** What the builders here read of one GPU node group (config/schema's `gpuNodeGroups[i]` has this shape). */
export interface GpuNodeGroupFacts {
    name: string;
    instanceType: A100InstanceType;
    rootVolumeSizeGiB: number;
    capacityType: CapacityType;
    /** cr-...; required with CAPACITY_BLOCK (config/schema checks that). */
    capacityReservationId?: string;
    labels: Record<string, string>;
}

/** Label naming the node group a node belongs to (`system`, or the GPU group's name from config). */
export const nodeGroupLabel = "gpu-serverless.io/node-group";
/** Label naming the accelerator of GPU nodes; the same on every A100 group, for DaemonSets that run on all of them. */
export const acceleratorLabel = "gpu-serverless.io/accelerator";
export const acceleratorValue = "nvidia-a100";
/** The label NVIDIA's charts look for (normally set by node-feature-discovery, which we do not run). */
export const gpuPresentLabel = "nvidia.com/gpu.present";
/**
 * The label cluster-autoscaler's AWS provider reads to know a node has GPUs (value: one of its known GPU types). A new
 * GPU node whose device plugin has not yet advertised `nvidia.com/gpu` then counts as still starting, instead of as a
 * node the pending pod does not fit, which would make cluster-autoscaler add another one.
 */
export const autoscalerGpuLabel = { key: "k8s.amazonaws.com/accelerator", value: "nvidia-tesla-a100" } as const;
/** Name of the system node group in {@link nodeGroupLabel}; not available to GPU groups. */
export const systemGroupName = "system";

/** Label keys we set on nodes ourselves; config labels may not override them. */
export const reservedLabelKeys: readonly string[] = [nodeGroupLabel, acceleratorLabel, gpuPresentLabel, autoscalerGpuLabel.key];

/** Labels of the system nodes, and the node selector of every controller. */
export const systemNodeLabels: Record<string, string> = { [nodeGroupLabel]: systemGroupName };

/** Labels of the nodes of one GPU group: the user's plus ours (ours win; config validation refuses clashes). */
export function gpuNodeLabels(group: Pick<GpuNodeGroupFacts, "name" | "labels">): Record<string, string> {
    return {
        ...group.labels,
        [nodeGroupLabel]: group.name,
        [acceleratorLabel]: acceleratorValue,
        [gpuPresentLabel]: "true",
        [autoscalerGpuLabel.key]: autoscalerGpuLabel.value,
    };
}

/** Labels shared by every GPU node of every group, for DaemonSets (device plugin, DCGM exporter). */
export const allGpuNodesSelector: Record<string, string> = { [acceleratorLabel]: acceleratorValue };

/** Where pods must go to run on one A100 node group. */
export interface GpuScheduling {
    nodeSelector: Record<string, string>;
    tolerations: k8s.types.input.core.v1.Toleration[];
}

/** What a pod needs to be scheduled on one GPU group. */
export function gpuSchedulingFor(groupName: string) {
    return {
        nodeSelector: { [nodeGroupLabel]: groupName },
        tolerations: [{ key: gpuTaint.key, operator: "Equal", value: gpuTaint.value, effect: gpuTaint.effect }],
    };
}

/** The EKS API spells taint effects in upper snake case. */
export const eksGpuTaint = { key: gpuTaint.key, value: gpuTaint.value, effect: "NO_SCHEDULE" } as const;

/** Root volume of the AL2023 EKS AMIs. */
const rootDevice = "/dev/xvda";

// GPU nodes pull multi-GiB images and read model weights from the root volume: gp3 above its baseline
// (3000 IOPS, 125 MiB/s) shortens cold starts for a few dollars a month.
const gpuVolumePerformance = { iops: 6000, throughput: 500 };

/** Launch template settings shared by both kinds of group (the `aws.ec2.LaunchTemplate` args, minus tags and name). */
function launchTemplateBase(instanceType: string, rootVolumeSizeGiB: number, performance?: { iops: number; throughput: number }) {
    return {
        instanceType,
        // IMDSv2 only, and a hop limit of 1 so pods (one hop further) cannot read the node role's credentials; pods
        // get AWS access through IRSA instead.
        metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" },
        blockDeviceMappings: [
            {
                deviceName: rootDevice,
                ebs: { volumeSize: rootVolumeSizeGiB, volumeType: "gp3", ...performance, encrypted: "true", deleteOnTermination: "true" },
            },
        ],
        updateDefaultVersion: true,
    } satisfies aws.ec2.LaunchTemplateArgs;
}

export function systemLaunchTemplateData(group: SystemNodeGroupFacts) {
    return launchTemplateBase(group.instanceType, group.rootVolumeSizeGiB);
}

export function gpuLaunchTemplateData(group: GpuNodeGroupFacts) {
    const base = launchTemplateBase(group.instanceType, group.rootVolumeSizeGiB, gpuVolumePerformance);
    if (group.capacityType === "CAPACITY_BLOCK") {
        return {
            ...base,
            instanceMarketOptions: { marketType: "capacity-block" },
            capacityReservationSpecification: { capacityReservationTarget: { capacityReservationId: group.capacityReservationId } },
        } satisfies aws.ec2.LaunchTemplateArgs;
    }
    if (group.capacityReservationId !== undefined) {
        // An on-demand capacity reservation, targeted so the group only launches into it.
        return {
            ...base,
            capacityReservationSpecification: { capacityReservationTarget: { capacityReservationId: group.capacityReservationId } },
        } satisfies aws.ec2.LaunchTemplateArgs;
    }
    return base;
}

const nodeTemplate = "k8s.io/cluster-autoscaler/node-template";

/** Longest tag key AWS accepts (Auto Scaling group tags included). */
export const awsTagKeyMaxLength = 128;

/**
 * Tags for the group's Auto Scaling group that describe a node to cluster-autoscaler while the group has none: GPU
 * count, root volume, labels and taint. Without them a pending GPU pod never triggers a scale-up from zero.
 */
export function autoscalerNodeTemplateTags(group: GpuNodeGroupFacts): Record<string, string> {
    const tags: Record<string, string> = {
        [`${nodeTemplate}/resources/nvidia.com/gpu`]: String(a100InstanceTypes[group.instanceType].gpus),
        [`${nodeTemplate}/resources/ephemeral-storage`]: `${group.rootVolumeSizeGiB}Gi`,
        [`${nodeTemplate}/taint/${gpuTaint.key}`]: `${gpuTaint.value}:${gpuTaint.effect}`,
    };
    for (const [key, value] of Object.entries(gpuNodeLabels(group))) {
        tags[`${nodeTemplate}/label/${key}`] = value;
    }
    return tags;
}
