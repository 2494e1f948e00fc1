/**
 * ServerlessGpuPlatform: everything the models run on. Network → EKS cluster with system and A100 node groups →
 * cluster-autoscaler, then the add-ons on the cluster's Kubernetes provider: kube-prometheus-stack, the NVIDIA device
 * plugin and DCGM exporter, KEDA, cert-manager and KServe.
 *
 * Ordering: every Kubernetes resource goes through the cluster's provider, which waits for the system nodes and the
 * EBS CSI driver; releases that create ServiceMonitors (DCGM, KEDA, cluster-autoscaler) wait for the monitoring
 * release that installs that CRD; KServe waits for cert-manager. Later components create custom resources only after
 * the releases in `crdReleases`.
 */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ClusterAutoscaler } from "./autoscaler";
import { GpuCluster } from "./cluster";
import type { PlatformConfig } from "../config/schema";
import { GpuSupport } from "./gpuSupport";
import { Keda } from "./keda";
import { KServe } from "./kserve";
import { Monitoring } from "./monitoring";
import { childName } from "../domain/naming";
import { Network } from "./network";
import { a100InstanceTypes, allGpuNodesSelector, type GpuScheduling, gpuSchedulingFor, systemNodeLabels } from "../domain/nodeGroups";
import { gpuTaint } from "../domain/clusterFacts";
import { firstReplicaPolicy } from "../manifests/model/firstReplicaAdmission";
import { tolerationsFor } from "../manifests/nodeMonitoring/agent";
import { Karpenter } from "./karpenter";
import { ImageCache, type ImageRewriteInput } from "./imageCache";
import { VpcEndpoints } from "./vpcEndpoints";
import { WarmCapacity } from "./warmCapacity";
import { kedaQueueReaderRoleName, roleArnBeside } from "./batch";

export type { GpuScheduling } from "../domain/nodeGroups";

export interface ServerlessGpuPlatformArgs {
    /** The validated platform stack config (`loadStackConfig()` from `components/config/stack`). Required. */
    config: PlatformConfig;
    /** Physical EKS cluster name. Default `<project>-<stack>`, e.g. `gpu-serverless-dev`. */
    clusterName?: string;
    /**
     * Values of the secret config keys `imageCache.dockerHubCredentialsSecret` / `githubCredentialsSecret` name
     * (JSON {username, accessToken}); required with `imageCache.pullThroughCache`. Default none.
     */
    registryCredentials?: Partial<Record<"docker.io" | "ghcr.io", pulumi.Input<string>>>;
}

/** Namespaces of the add-ons. */
const namespaces = { monitoring: "monitoring", keda: "keda", kserve: "kserve", certManager: "cert-manager", gpu: "nvidia" } as const;

export class ServerlessGpuPlatform extends pulumi.ComponentResource {
    /** Provider of the cluster; use it for every Kubernetes resource. */
    public readonly provider: k8s.Provider;
    public readonly clusterName: pulumi.Output<string>;
    /** Kubeconfig of the cluster (secret). */
    public readonly kubeconfig: pulumi.Output<string>;
    /** EKS names of the A100 node groups, in config order. */
    public readonly gpuNodeGroupNames: pulumi.Output<string[]>;
    /** In-cluster Prometheus URL, for KEDA prometheus triggers. */
    public readonly prometheusUrl: pulumi.Output<string>;
    /** Grafana `admin` password (secret). */
    public readonly grafanaAdminPassword: pulumi.Output<string>;
    public readonly namespaces: { monitoring: string; keda: string; kserve: string; certManager: string; gpu: string };
    /** Node selector of the system (CPU) node group, for controllers. */
    public readonly systemNodeSelector: Record<string, string>;
    /** Node selector and tolerations per A100 node group, keyed by the group's name from config. */
    public readonly gpuScheduling: Record<string, GpuScheduling>;
    /** Releases that install the CRDs our custom resources use: dependsOn them before creating any CR. */
    public readonly crdReleases: { keda: pulumi.Resource; monitoring: pulumi.Resource; kserve: pulumi.Resource; firstReplicaPolicy: pulumi.Resource };
    /** AWS provider in the configured region, for ECR and other AWS resources of later components. */
    public readonly awsProvider: aws.Provider;
    /** The cluster's IAM OIDC provider ARN and issuer (without `https://`), for IRSA roles of later components. */
    public readonly oidc: { providerArn: pulumi.Output<string>; issuer: pulumi.Output<string> };
    /** The AWS region of the stack. */
    public readonly region: string;
    /** `crane copy` commands that fill the nvcr.io mirror (empty without `imageCache.nvcrMirror`). */
    public readonly nvcrMirrorCopies: pulumi.Output<string[]>;
    /**
     * Hands the KEDA release what its relay container needs from the activator, built after the platform:
     * `Activator.image` and `Activator.scalerServiceAddress`. Call it once; the KEDA release waits for it.
     */
    public readonly useActivator: (activator: { image: pulumi.Output<string>; scalerServiceAddress: pulumi.Output<string> }) => void;

    constructor(name: string, args: ServerlessGpuPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        const config = args.config;
        if (!config) throw new Error(`ServerlessGpuPlatform "${name}" args.config: required (loadStackConfig())`);
        const clusterName = args.clusterName ?? `${pulumi.getProject()}-${pulumi.getStack()}`;
        super("gpu-serverless:index:ServerlessGpuPlatform", name, {}, opts);

        this.awsProvider = new aws.Provider(
            childName(name, "aws"),
            { region: config.region as aws.Region, defaultTags: { tags: { "gpu-serverless:cluster": clusterName } } },
            { parent: this },
        );
        const awsChildOpts = { parent: this, providers: { aws: this.awsProvider } };

        const network = new Network(childName(name, "network"), { vpc: config.vpc, clusterName }, awsChildOpts);

        const cluster = new GpuCluster(
            childName(name, "cluster"),
            {
                clusterName,
                kubernetesVersion: config.kubernetesVersion,
                awsProvider: this.awsProvider,
                vpcId: network.vpcId,
                privateSubnetIds: network.privateSubnetIds,
                publicSubnetIds: network.publicSubnetIds,
                privateSubnetsByZone: network.privateSubnetsByZone,
                apiEndpoint: config.apiEndpoint,
                systemNodeGroup: config.systemNodeGroup,
                gpuNodeGroups: config.gpuNodeGroups,
                protect: config.protect,
                networkReady: network.egress,
                adminPrincipalArns: config.adminPrincipalArns,
            },
            awsChildOpts,
        );
        this.provider = cluster.provider;

        if (config.vpcEndpoints) {
            new VpcEndpoints(
                childName(name, "vpc-endpoints"),
                {
                    region: config.region,
                    clusterName,
                    vpcId: network.vpcId,
                    cidrBlock: network.cidrBlock,
                    privateSubnetIds: network.privateSubnetIds,
                    privateRouteTableIds: network.privateRouteTableIds,
                },
                awsChildOpts,
            );
        }
        const k8sChildOpts = { parent: this, providers: { kubernetes: this.provider } };
        const chartVersions = config.chartVersions;

        const monitoring = new Monitoring(
            childName(name, "monitoring"),
            {
                provider: this.provider,
                systemNodeSelector: systemNodeLabels,
                retention: config.prometheus.retention,
                storageSize: config.prometheus.storageSize,
                namespace: namespaces.monitoring,
                chartVersions,
            },
            k8sChildOpts,
        );

        // Before the image cache, which gives Karpenter's node role its pull-through policy.
        const karpenterPools = config.gpuNodeGroups.filter((g) => g.provisioner === "karpenter");
        const karpenter =
            karpenterPools.length > 0
                ? new Karpenter(
                      childName(name, "karpenter"),
                      {
                          clusterName,
                          region: config.region,
                          awsProvider: this.awsProvider,
                          provider: this.provider,
                          oidcProviderArn: cluster.oidcProviderArn,
                          oidcIssuer: cluster.oidcIssuer,
                          privateSubnetIds: network.privateSubnetIds,
                          clusterSecurityGroupId: cluster.clusterSecurityGroupId,
                          pools: karpenterPools,
                          // The same idle time as cluster-autoscaler's pools: an empty GPU node goes after it.
                          consolidateAfter: config.clusterAutoscaler.scaleDownUnneededTime,
                          systemNodeSelector: systemNodeLabels,
                          monitoringRelease: monitoring.release,
                          chartVersions,
                      },
                      { ...awsChildOpts, providers: { aws: this.awsProvider, kubernetes: this.provider } },
                  )
                : undefined;

        const cacheOn = config.imageCache.pullThroughCache || config.imageCache.nvcrMirror;
        const imageCache = cacheOn
            ? new ImageCache(
                  childName(name, "image-cache"),
                  {
                      config: config.imageCache,
                      region: config.region,
                      // Every role whose nodes pull: the managed node groups' and Karpenter's (its GPU nodes pull the model servers).
                      nodeRoleNames: [cluster.nodeRoleName, ...(karpenter ? [karpenter.nodeRole.name] : [])],
                      credentials: args.registryCredentials ?? {},
                  },
                  awsChildOpts,
              )
            : undefined;
        const imageRewrite: ImageRewriteInput = imageCache?.rewrite;
        this.nvcrMirrorCopies = imageCache?.nvcrMirrorCopies ?? pulumi.output([]);

        new ClusterAutoscaler(
            childName(name, "autoscaler"),
            {
                clusterName,
                region: config.region,
                kubernetesVersion: config.kubernetesVersion,
                awsProvider: this.awsProvider,
                provider: this.provider,
                oidcProviderArn: cluster.oidcProviderArn,
                oidcIssuer: cluster.oidcIssuer,
                // The managed GPU node groups; it also sizes the system node group. Karpenter pools are not its.
                gpuNodeGroups: config.gpuNodeGroups
                    .filter((g) => g.provisioner === "cluster-autoscaler")
                    .map((g) => ({ config: g, autoScalingGroupName: cluster.gpuAutoScalingGroupNames[g.name] })),
                scaleDownUnneededTime: config.clusterAutoscaler.scaleDownUnneededTime,
                maxNodeProvisionTime: config.clusterAutoscaler.maxNodeProvisionTime,
                systemNodeSelector: systemNodeLabels,
                monitoringRelease: monitoring.release,
                chartVersions,
                imageRewrite,
            },
            { ...awsChildOpts, providers: { aws: this.awsProvider, kubernetes: this.provider } },
        );

        // GPU daemons tolerate the taint every GPU pool carries (the same rule as the node monitoring agent's dcgm-server).
        new GpuSupport(
            childName(name, "gpu-support"),
            {
                provider: this.provider,
                monitoring,
                gpuNodeSelector: allGpuNodesSelector,
                gpuTolerations: tolerationsFor([gpuTaint]),
                namespace: namespaces.gpu,
                chartVersions,
                imageRewrite,
            },
            k8sChildOpts,
        );

        const [activatorImage, setActivatorImage] = pulumi.deferredOutput<string>();
        const [scalerService, setScalerService] = pulumi.deferredOutput<string>();
        this.useActivator = (activator) => {
            setActivatorImage(activator.image);
            setScalerService(activator.scalerServiceAddress);
        };
        const keda = new Keda(
            childName(name, "keda"),
            {
                provider: this.provider,
                monitoring,
                systemNodeSelector: systemNodeLabels,
                namespace: namespaces.keda,
                chartVersions,
                imageRewrite,
                // KEDA dials the relay in its own pod, which keeps the connection to the scaler Service alive.
                relay: { image: activatorImage, upstream: scalerService },
                // The Batch API's queue reader (created by BatchStorage under this fixed name, in the cluster's account).
                ...(config.batch.enabled ? { awsRoleArn: cluster.oidcProviderArn.apply((oidc) => roleArnBeside(oidc, kedaQueueReaderRoleName(pulumi.getStack()))) } : {}),
            },
            k8sChildOpts,
        );

        const kserve = new KServe(
            childName(name, "kserve"),
            {
                provider: this.provider,
                systemNodeSelector: systemNodeLabels,
                namespace: namespaces.kserve,
                certManagerNamespace: namespaces.certManager,
                chartVersions,
                imageRewrite,
            },
            k8sChildOpts,
        );

        const warmPools = config.gpuNodeGroups.flatMap((g) => (g.warm ? [{ name: g.name, gpusPerNode: a100InstanceTypes[g.instanceType].gpus, warm: g.warm }] : []));
        if (warmPools.length > 0) {
            new WarmCapacity(childName(name, "warm-capacity"), { provider: this.provider, pools: warmPools, keda: keda.release, imageRewrite }, k8sChildOpts);
        }

        this.oidc = { providerArn: cluster.oidcProviderArn, issuer: cluster.oidcIssuer };
        this.region = config.region;
        this.clusterName = cluster.clusterName;
        this.kubeconfig = cluster.kubeconfig;
        this.gpuNodeGroupNames = cluster.gpuNodeGroupNames;
        this.prometheusUrl = monitoring.prometheusUrl;
        this.grafanaAdminPassword = monitoring.grafanaAdminPassword;
        this.namespaces = { ...namespaces };
        this.systemNodeSelector = { ...systemNodeLabels };
        this.gpuScheduling = Object.fromEntries(config.gpuNodeGroups.map((g) => [g.name, gpuSchedulingFor(g.name)]));
        // The KServe runtimes release waits for the controller (which waits for its CRDs and cert-manager and serves
        // the webhooks that admit InferenceServices): depending on it covers all four, runtimes included.
        // Refuses a GPU model's first pod until KEDA has checked its ScaledObject (paramKind: KEDA's CRD), so a new
        // model boots no GPU node under either provisioner (manifests/model/firstReplicaAdmission.ts).
        const admission = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            childName(name, "first-replica-policy"),
            firstReplicaPolicy(),
            { parent: this, provider: this.provider, dependsOn: [keda.release] },
        );
        this.crdReleases = { keda: keda.release, monitoring: monitoring.release, kserve: kserve.vllmRuntime, firstReplicaPolicy: admission };

        this.registerOutputs({
            provider: this.provider,
            awsProvider: this.awsProvider,
            oidc: this.oidc,
            region: this.region,
            nvcrMirrorCopies: this.nvcrMirrorCopies,
            crdReleases: this.crdReleases,
            clusterName: this.clusterName,
            kubeconfig: this.kubeconfig,
            gpuNodeGroupNames: this.gpuNodeGroupNames,
            prometheusUrl: this.prometheusUrl,
            grafanaAdminPassword: this.grafanaAdminPassword,
            namespaces: this.namespaces,
            systemNodeSelector: this.systemNodeSelector,
            gpuScheduling: this.gpuScheduling,
        });
    }
}
