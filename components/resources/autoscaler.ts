/**
 * ClusterAutoscaler: node autoscaling from zero. cluster-autoscaler (Helm) discovers the cluster's node groups by
 * name and calls AWS through an IRSA role that may resize only this cluster's Auto Scaling groups; each A100 group's
 * Auto Scaling group carries the node-template tags (GPU count, labels, taint) it needs to scale that group up while
 * it has no node. Idle nodes go after `scaleDownUnneededTime`.
 */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { type ImageRewriteInput, releaseValues } from "./imageCache";
import { clusterAutoscalerValues } from "../manifests/charts/clusterAutoscaler";
import type { GpuNodeGroupConfig } from "../config/schema";
import { clusterAutoscalerPolicy, serviceAccountTrustPolicy } from "../domain/iamPolicies";
import { check } from "../domain/checks";
import { childName } from "../domain/naming";
import { autoscalerNodeTemplateTags } from "../domain/nodeGroups";
import { ChartVersionOverrides, kubernetesVersionProblem, releaseSource, resolveChart } from "../domain/versions";

export interface ClusterAutoscalerArgs {
    /** Cluster name: auto-discovery and the IAM condition key use it. Required. */
    clusterName: string;
    /** Region of the cluster. Required. */
    region: string;
    /** Kubernetes version `1.<minor>` (picks the matching cluster-autoscaler image). Required. */
    kubernetesVersion: string;
    /** Provider of the AWS resources (IAM role, Auto Scaling group tags). Required. */
    awsProvider: aws.Provider;
    /** Provider of the cluster. Required. */
    provider: k8s.Provider;
    /** The cluster's IAM OIDC provider and issuer (without `https://`), for the IRSA trust policy. Required. */
    oidcProviderArn: pulumi.Input<string>;
    oidcIssuer: pulumi.Input<string>;
    /** The A100 groups with their Auto Scaling group names (by group name). May be empty. */
    gpuNodeGroups: readonly { config: GpuNodeGroupConfig; autoScalingGroupName: pulumi.Input<string> }[];
    /** How long a node stays unneeded before removal (Go duration). Default `"10m"`. */
    scaleDownUnneededTime?: string;
    /** How long a requested node may take to register before cluster-autoscaler backs off its group. Default `"10m"`. */
    maxNodeProvisionTime?: string;
    /** Labels of the system nodes it runs on. Required. */
    systemNodeSelector: Record<string, string>;
    /** Release installing the ServiceMonitor CRD: when set, a ServiceMonitor is created and the release waits for it. */
    monitoringRelease?: pulumi.Resource;
    /** Per-chart version overrides from stack config. Default: the versions pinned in versions.ts. */
    chartVersions?: ChartVersionOverrides;
    /** Images from ECR (ImageCache.rewrite). Default: the charts' upstream registries. */
    imageRewrite?: ImageRewriteInput;
}

/** Namespace and service account of cluster-autoscaler (the IRSA role trusts exactly this one). */
export const clusterAutoscalerServiceAccount = { namespace: "kube-system", name: "cluster-autoscaler" } as const;

/** Resource-name suffix for a node-template tag, e.g. `label-gpu-serverless.io-node-group`. */
function tagRole(key: string): string {
    return key.replace(/^k8s\.io\/cluster-autoscaler\/node-template\//, "").replace(/[^A-Za-z0-9.-]/g, "-");
}

export class ClusterAutoscaler extends pulumi.ComponentResource {
    public readonly role: aws.iam.Role;
    public readonly release: k8s.helm.v3.Release;
    /** The node-template tags, by A100 group name. */
    public readonly nodeTemplateTags: Record<string, aws.autoscaling.Tag[]>;

    constructor(name: string, args: ClusterAutoscalerArgs, opts?: pulumi.ComponentResourceOptions) {
        const owner = `ClusterAutoscaler "${name}"`;
        if (!args.clusterName) throw new Error(`${owner} args.clusterName: required`);
        check(owner, "kubernetesVersion", args.kubernetesVersion, kubernetesVersionProblem);
        const chart = resolveChart("cluster-autoscaler", args.chartVersions);
        super("gpu-serverless:autoscaler:ClusterAutoscaler", name, {}, opts);
        const awsOpts = { parent: this, provider: args.awsProvider };
        const { namespace, name: serviceAccount } = clusterAutoscalerServiceAccount;

        this.role = new aws.iam.Role(
            childName(name, "role"),
            {
                assumeRolePolicy: pulumi
                    .all([args.oidcProviderArn, args.oidcIssuer])
                    .apply(([oidcProviderArn, oidcIssuer]) => JSON.stringify(serviceAccountTrustPolicy({ oidcProviderArn, oidcIssuer, namespace, serviceAccount }))),
            },
            awsOpts,
        );
        const identity = aws.getCallerIdentityOutput({}, awsOpts);
        const partition = aws.getPartitionOutput({}, awsOpts);
        const policy = new aws.iam.RolePolicy(
            childName(name, "policy"),
            {
                role: this.role.name,
                policy: pulumi
                    .all([partition.partition, identity.accountId])
                    .apply(([p, accountId]) =>
                        JSON.stringify(clusterAutoscalerPolicy({ partition: p, region: args.region, accountId, clusterName: args.clusterName })),
                    ),
            },
            awsOpts,
        );

        this.nodeTemplateTags = {};
        for (const { config, autoScalingGroupName } of args.gpuNodeGroups) {
            this.nodeTemplateTags[config.name] = Object.entries(autoscalerNodeTemplateTags(config)).map(
                ([key, value]) =>
                    new aws.autoscaling.Tag(
                        childName(name, `${config.name}-${tagRole(key)}`),
                        // Only cluster-autoscaler reads these; instances need not carry them.
                        { autoscalingGroupName: autoScalingGroupName, tag: { key, value, propagateAtLaunch: false } },
                        awsOpts,
                    ),
            );
        }

        this.release = new k8s.helm.v3.Release(
            childName(name, "release"),
            {
                name: "cluster-autoscaler",
                namespace,
                ...releaseSource(chart),
                values: releaseValues(
                    "cluster-autoscaler",
                    this.role.arn.apply((roleArn) =>
                        clusterAutoscalerValues({
                            clusterName: args.clusterName,
                            region: args.region,
                            kubernetesVersion: args.kubernetesVersion,
                            roleArn,
                            serviceAccount,
                            scaleDownUnneededTime: args.scaleDownUnneededTime ?? "10m",
                            maxNodeProvisionTime: args.maxNodeProvisionTime ?? "10m",
                            systemNodeSelector: args.systemNodeSelector,
                            serviceMonitor: args.monitoringRelease !== undefined,
                        }),
                    ),
                    args.imageRewrite,
                ),
            },
            { parent: this, provider: args.provider, dependsOn: [policy, ...(args.monitoringRelease ? [args.monitoringRelease] : [])] },
        );

        this.registerOutputs({ role: this.role, release: this.release, nodeTemplateTags: this.nodeTemplateTags });
    }
}
