/**
 * KServe in `Standard` mode (raw Deployments, no Knative, no Istio): cert-manager for its webhook certificates, then
 * the `kserve-crd` and `kserve-resources` charts, then `kserve-runtime-configs` (the ClusterServingRuntimes, which
 * the controller's webhook validates). InferenceServices must depend on `runtimes`: it comes after the CRDs and the
 * controller, and without a runtime the controller creates no predictor.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { type ImageRewriteInput, releaseValues } from "./imageCache";
import { childName } from "../domain/naming";
import { imageReference } from "../manifests/images/chartImages";
import { vllmRuntimeManifest } from "../manifests/model/vllmRuntime";
import { certManagerValues } from "../manifests/charts/certManager";
import { checkDnsLabel } from "../domain/checks";
import { kserveRuntimeValues, kserveValues } from "../manifests/charts/kserve";
import { NodeSelector, checkNodeSelector } from "../manifests/charts/scheduling";
import { ChartVersionOverrides, releaseSource, resolveChart } from "../domain/versions";

/** The image of our vLLM runtime: KServe's own Hugging Face server image (manifests/model/vllmRuntime.ts). */
const vllmRuntimeImage = "kserve/huggingfaceserver:v0.20.0";

export interface KServeArgs {
    /** Provider of the cluster every Kubernetes resource goes to. */
    provider: k8s.Provider;
    /** Labels of the system node group; cert-manager and the KServe controller run there. Required. */
    systemNodeSelector: NodeSelector;
    /** Namespace of the KServe releases. Default `"kserve"`. */
    namespace?: string;
    /** Namespace of the cert-manager release. Default `"cert-manager"`. */
    certManagerNamespace?: string;
    /** Per-chart version overrides from stack config. Default: the versions pinned in versions.ts. */
    chartVersions?: ChartVersionOverrides;
    /** Images from ECR (ImageCache.rewrite). Default: the charts' upstream registries. */
    imageRewrite?: ImageRewriteInput;
}

/** Arguments with defaults applied; throws naming the argument when one is invalid. */
function kserveSettings(name: string, args: KServeArgs) {
    const owner = `KServe "${name}"`;
    const settings = {
        namespaceName: args.namespace ?? "kserve",
        certManagerNamespaceName: args.certManagerNamespace ?? "cert-manager",
        certManagerChart: resolveChart("cert-manager", args.chartVersions),
        crdChart: resolveChart("kserve-crd", args.chartVersions),
        resourcesChart: resolveChart("kserve-resources", args.chartVersions),
        runtimesChart: resolveChart("kserve-runtime-configs", args.chartVersions),
    };
    checkNodeSelector(owner, "systemNodeSelector", args.systemNodeSelector, false);
    checkDnsLabel(owner, "namespace", settings.namespaceName);
    checkDnsLabel(owner, "certManagerNamespace", settings.certManagerNamespaceName);
    if (settings.namespaceName === settings.certManagerNamespaceName) {
        throw new Error(`${owner} args.namespace: must differ from certManagerNamespace (${JSON.stringify(settings.namespaceName)})`);
    }
    return settings;
}

export class KServe extends pulumi.ComponentResource {
    /** The cert-manager release (with its CRDs). */
    public readonly certManager: k8s.helm.v3.Release;
    /** The `kserve-crd` release: InferenceService, ServingRuntime and the other `serving.kserve.io` CRDs. */
    public readonly crds: k8s.helm.v3.Release;
    /** The `kserve-resources` release: controller, webhooks, `inferenceservice-config`. */
    public readonly controller: k8s.helm.v3.Release;
    /** The `kserve-runtime-configs` release: the ClusterServingRuntimes; after the controller, whose webhook admits them. */
    public readonly runtimes: k8s.helm.v3.Release;
    /** Our ClusterServingRuntime `gpu-serverless-vllm-openai` (vLLM streaming s3:// weights), after the chart's runtimes. */
    public readonly vllmRuntime: k8s.apiextensions.CustomResource;
    /** Namespace of the KServe releases. */
    public readonly namespace: pulumi.Output<string>;

    constructor(name: string, args: KServeArgs, opts?: pulumi.ComponentResourceOptions) {
        const { namespaceName, certManagerNamespaceName, certManagerChart, crdChart, resourcesChart, runtimesChart } = kserveSettings(name, args);
        super("gpu-serverless:kserve:KServe", name, {}, opts);

        const k8sOpts = { parent: this, provider: args.provider };
        const certManagerNamespace = new k8s.core.v1.Namespace(
            childName(name, "cert-manager-namespace"),
            { metadata: { name: certManagerNamespaceName } },
            k8sOpts,
        );
        // Ours to create: kserve-resources v0.20.0 ships no Namespace (kserve/kserve#4148 removed its template).
        const namespace = new k8s.core.v1.Namespace(childName(name, "namespace"), { metadata: { name: namespaceName } }, k8sOpts);

        this.certManager = new k8s.helm.v3.Release(
            childName(name, "cert-manager"),
            {
                name: "cert-manager",
                namespace: certManagerNamespace.metadata.name,
                ...releaseSource(certManagerChart),
                values: releaseValues("cert-manager", certManagerValues(args.systemNodeSelector), args.imageRewrite),
            },
            k8sOpts,
        );

        this.crds = new k8s.helm.v3.Release(
            childName(name, "crds"),
            { name: "kserve-crd", namespace: namespace.metadata.name, ...releaseSource(crdChart) },
            k8sOpts,
        );

        // The chart creates cert-manager Issuers and Certificates for its webhooks, and KServe objects of its own kinds.
        this.controller = new k8s.helm.v3.Release(
            childName(name, "controller"),
            {
                name: "kserve",
                namespace: namespace.metadata.name,
                ...releaseSource(resourcesChart),
                values: releaseValues("kserve-resources", kserveValues(args.systemNodeSelector), args.imageRewrite),
            },
            { ...k8sOpts, dependsOn: [this.certManager, this.crds] },
        );

        this.runtimes = new k8s.helm.v3.Release(
            childName(name, "runtimes"),
            {
                name: "kserve-runtime-configs",
                namespace: namespace.metadata.name,
                ...releaseSource(runtimesChart),
                values: releaseValues("kserve-runtime-configs", kserveRuntimeValues(), args.imageRewrite),
            },
            { ...k8sOpts, dependsOn: [this.controller] },
        );

        // Never auto-selected: only models with `runtime: gpu-serverless-vllm-openai` use it.
        const vllmRuntime = pulumi
            .output(args.imageRewrite)
            .apply((rewrite) => vllmRuntimeManifest({ image: imageReference(vllmRuntimeImage, rewrite) }));
        this.vllmRuntime = new k8s.apiextensions.CustomResource(
            childName(name, "vllm-runtime"),
            { apiVersion: "serving.kserve.io/v1alpha1", kind: "ClusterServingRuntime", metadata: vllmRuntime.metadata, spec: vllmRuntime.spec },
            { ...k8sOpts, dependsOn: [this.runtimes] },
        );

        this.namespace = namespace.metadata.name;
        this.registerOutputs({
            vllmRuntime: this.vllmRuntime,
            certManager: this.certManager,
            crds: this.crds,
            controller: this.controller,
            runtimes: this.runtimes,
            namespace: this.namespace,
        });
    }
}
