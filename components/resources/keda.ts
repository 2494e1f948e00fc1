/**
 * KEDA: the operator that scales model Deployments from zero (ScaledObjects with the activator's `external-push`
 * trigger and Prometheus triggers) and the metrics API server behind the HPAs it creates. Its release installs the
 * `keda.sh` CRDs, so every ScaledObject must depend on `release`.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { type ImageRewriteInput, releaseValues } from "./imageCache";
import { Monitoring } from "./monitoring";
import { childName } from "../domain/naming";
import { checkDnsLabel } from "../domain/checks";
import { kedaValues } from "../manifests/charts/keda";
import { NodeSelector, checkNodeSelector } from "../manifests/charts/scheduling";
import { ChartVersionOverrides, releaseSource, resolveChart } from "../domain/versions";

export interface KedaArgs {
    /** Provider of the cluster every Kubernetes resource goes to. */
    provider: k8s.Provider;
    /** The monitoring stack: KEDA's ServiceMonitors need its CRDs, so the release waits for it. Required. */
    monitoring: Monitoring;
    /** Labels of the system node group; operator, metrics server and webhooks run there. Required. */
    systemNodeSelector: NodeSelector;
    /** Namespace of the release. Default `"keda"`. */
    namespace?: string;
    /** Per-chart version overrides from stack config. Default: the versions pinned in versions.ts. */
    chartVersions?: ChartVersionOverrides;
    /** Images from ECR (ImageCache.rewrite). Default: the charts' upstream registries. */
    imageRewrite?: ImageRewriteInput;
    /** IRSA role of the operator (the Batch API's queue reader, ./batch.ts `kedaQueueReaderRoleName`). Default none. */
    awsRoleArn?: pulumi.Input<string>;
    /**
     * The KEDA relay beside the operator (../manifests/charts/keda.ts `kedaRelayContainer`): the activator's image and
     * its scaler Service's `host:port`. Default none (ScaledObjects then must name the Service itself).
     */
    relay?: { image: pulumi.Input<string>; upstream: pulumi.Input<string> };
}

/** Arguments with defaults applied; throws naming the argument when one is invalid. */
function kedaSettings(name: string, args: KedaArgs) {
    const owner = `Keda "${name}"`;
    if (!args.monitoring) {
        throw new Error(`${owner} args.monitoring: required (KEDA's ServiceMonitors need the monitoring CRDs)`);
    }
    const settings = { namespaceName: args.namespace ?? "keda", chart: resolveChart("keda", args.chartVersions) };
    checkNodeSelector(owner, "systemNodeSelector", args.systemNodeSelector, false);
    checkDnsLabel(owner, "namespace", settings.namespaceName);
    return settings;
}

export class Keda extends pulumi.ComponentResource {
    /** The KEDA release; depend on it before creating ScaledObjects or TriggerAuthentications. */
    public readonly release: k8s.helm.v3.Release;
    /** Namespace of the release. */
    public readonly namespace: pulumi.Output<string>;

    constructor(name: string, args: KedaArgs, opts?: pulumi.ComponentResourceOptions) {
        const { namespaceName, chart } = kedaSettings(name, args);
        super("gpu-serverless:keda:Keda", name, {}, opts);

        const k8sOpts = { parent: this, provider: args.provider };
        const namespace = new k8s.core.v1.Namespace(childName(name, "namespace"), { metadata: { name: namespaceName } }, k8sOpts);

        this.release = new k8s.helm.v3.Release(
            childName(name, "release"),
            {
                name: "keda",
                namespace: namespace.metadata.name,
                ...releaseSource(chart),
                values: releaseValues(
                    "keda",
                    pulumi
                        .all([args.awsRoleArn, args.relay?.image, args.relay?.upstream])
                        .apply(([arn, image, upstream]) =>
                            kedaValues(args.systemNodeSelector, arn, image !== undefined && upstream !== undefined ? { image, upstream } : undefined),
                        ),
                    args.imageRewrite,
                ),
            },
            { ...k8sOpts, dependsOn: [args.monitoring.release] },
        );

        this.namespace = namespace.metadata.name;
        this.registerOutputs({ release: this.release, namespace: this.namespace });
    }
}
