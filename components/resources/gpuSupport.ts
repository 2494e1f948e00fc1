/**
 * GPU support on the A100 node groups: the NVIDIA device plugin (advertises `nvidia.com/gpu` so pods can request GPUs)
 * and the DCGM exporter (GPU utilisation, memory, temperature, XID errors for Prometheus). Both are DaemonSets pinned
 * to the GPU nodes through their label and taint; the driver and container runtime come with the EKS NVIDIA AMI.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { type ImageRewriteInput, releaseValues } from "./imageCache";
import { Monitoring } from "./monitoring";
import { childName } from "../domain/naming";
import { checkDnsLabel } from "../domain/checks";
import { dcgmExporterValues } from "../manifests/charts/dcgmExporter";
import { devicePluginValues } from "../manifests/charts/nvidiaDevicePlugin";
import { NodeSelector, Toleration, checkNodeSelector, checkTolerations } from "../manifests/charts/scheduling";
import { ChartVersionOverrides, releaseSource, resolveChart } from "../domain/versions";

export interface GpuSupportArgs {
    /** Provider of the cluster every Kubernetes resource goes to. */
    provider: k8s.Provider;
    /** The monitoring stack: the DCGM exporter's ServiceMonitor needs its CRDs, so that release waits for it. Required. */
    monitoring: Monitoring;
    /** Labels every GPU node group carries (e.g. `{"gpu-serverless.io/accelerator": "nvidia-a100"}`). Required, non-empty. */
    gpuNodeSelector: NodeSelector;
    /**
     * Tolerations for the GPU node taint, e.g. `[{key: "nvidia.com/gpu", operator: "Equal", value: "true", effect: "NoSchedule"}]`.
     * Required, non-empty.
     */
    gpuTolerations: readonly Toleration[];
    /** Namespace of both releases. Default `"nvidia"`. */
    namespace?: string;
    /** Per-chart version overrides from stack config. Default: the versions pinned in versions.ts. */
    chartVersions?: ChartVersionOverrides;
    /** Images from ECR (ImageCache.rewrite). Default: the charts' upstream registries. */
    imageRewrite?: ImageRewriteInput;
}

/** Arguments with defaults applied; throws naming the argument when one is invalid. */
function gpuSupportSettings(name: string, args: GpuSupportArgs) {
    const owner = `GpuSupport "${name}"`;
    if (!args.monitoring) {
        throw new Error(`${owner} args.monitoring: required (the DCGM exporter's ServiceMonitor needs the monitoring CRDs)`);
    }
    const settings = {
        namespaceName: args.namespace ?? "nvidia",
        placement: { gpuNodeSelector: args.gpuNodeSelector, gpuTolerations: args.gpuTolerations },
        devicePluginChart: resolveChart("nvidia-device-plugin", args.chartVersions),
        dcgmChart: resolveChart("dcgm-exporter", args.chartVersions),
    };
    checkNodeSelector(owner, "gpuNodeSelector", args.gpuNodeSelector, true);
    checkTolerations(owner, "gpuTolerations", args.gpuTolerations);
    checkDnsLabel(owner, "namespace", settings.namespaceName);
    return settings;
}

export class GpuSupport extends pulumi.ComponentResource {
    /** The NVIDIA device plugin release. */
    public readonly devicePlugin: k8s.helm.v3.Release;
    /** The DCGM exporter release (with its ServiceMonitor). */
    public readonly dcgmExporter: k8s.helm.v3.Release;
    /** Namespace of both releases. */
    public readonly namespace: pulumi.Output<string>;

    constructor(name: string, args: GpuSupportArgs, opts?: pulumi.ComponentResourceOptions) {
        const { namespaceName, placement, devicePluginChart, dcgmChart } = gpuSupportSettings(name, args);
        super("gpu-serverless:gpuSupport:GpuSupport", name, {}, opts);

        const k8sOpts = { parent: this, provider: args.provider };
        const namespace = new k8s.core.v1.Namespace(childName(name, "namespace"), { metadata: { name: namespaceName } }, k8sOpts);

        this.devicePlugin = new k8s.helm.v3.Release(
            childName(name, "device-plugin"),
            {
                name: "nvidia-device-plugin",
                namespace: namespace.metadata.name,
                ...releaseSource(devicePluginChart),
                values: releaseValues("nvidia-device-plugin", devicePluginValues(placement), args.imageRewrite),
            },
            k8sOpts,
        );

        this.dcgmExporter = new k8s.helm.v3.Release(
            childName(name, "dcgm-exporter"),
            {
                name: "dcgm-exporter",
                namespace: namespace.metadata.name,
                ...releaseSource(dcgmChart),
                values: releaseValues("dcgm-exporter", dcgmExporterValues(placement), args.imageRewrite),
            },
            { ...k8sOpts, dependsOn: [args.monitoring.release] },
        );

        this.namespace = namespace.metadata.name;
        this.registerOutputs({ devicePlugin: this.devicePlugin, dcgmExporter: this.dcgmExporter, namespace: this.namespace });
    }
}
