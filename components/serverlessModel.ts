/**
 * One model served from zero: KServe InferenceService (Standard mode, external autoscaler), the KEDA ScaledObject
 * that owns its replica count (one `external-push` trigger to the activator, which also reports vLLM's load), a ServiceMonitor
 * for its metrics, a NetworkPolicy admitting only the activator and Prometheus, a ServiceAccount without API access,
 * and, for gated Hugging Face models, a Secret with the token.
 *
 * The manifests come from the pure builders in `./models/`; this file only turns them into resources.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { modelKey } from "../activator/src/config/schema";
import type { ModelConfig } from "./config/models";
import { inferenceServiceManifest } from "./models/inferenceService";
import { backendUrl, modelLabels, predictorName } from "./models/predictor";
import { scaledObjectManifest, scaledObjectType } from "./models/scaledObject";
import { networkPolicyManifest, serviceMonitorManifest } from "./models/traffic";
import { childName } from "./naming";
import type { GpuScheduling } from "./platform";
import { argsError } from "./values/checks";

export interface ServerlessModelArgs {
    /** The model, as parsed from `gpu-serverless:models` (defaults filled in). */
    model: ModelConfig;
    /** Kubernetes provider of the cluster. */
    provider: k8s.Provider;
    /** `host:port` of the activator's scaler Service (Activator.scalerAddress): the ScaledObject's one trigger. */
    scalerAddress: pulumi.Input<string>;
    /** Namespace and pod labels of the activator, the only client the NetworkPolicy admits besides Prometheus. */
    activator: { namespace: string; podLabels: Record<string, string> };
    /** Namespace of Prometheus (platform.namespaces.monitoring). */
    monitoringNamespace: string;
    /** Node selector and GPU toleration of the model's A100 group; required when `model.gpus > 0`. Default none. */
    gpuScheduling?: GpuScheduling;
    /** Hugging Face token (a Pulumi secret); required when `model.hfTokenSecret` is set. Default none. */
    hfToken?: pulumi.Input<string>;
    /** What must exist first: the CRD releases of KServe, KEDA and monitoring, and the model's namespace. */
    dependencies: { kserve: pulumi.Resource; keda: pulumi.Resource; monitoring: pulumi.Resource; namespace: pulumi.Resource };
}

export class ServerlessModel extends pulumi.ComponentResource {
    /** `<namespace>/<name>`, how the activator, KEDA and metrics name the model. */
    readonly modelKey: string;
    /** In-cluster URL of the predictor Service the activator forwards to. */
    readonly backendUrl: string;
    readonly inferenceService: k8s.apiextensions.CustomResource;
    readonly scaledObject: k8s.apiextensions.CustomResource;
    readonly serviceMonitor: k8s.apiextensions.CustomResource;
    readonly networkPolicy: k8s.networking.v1.NetworkPolicy;

    constructor(name: string, args: ServerlessModelArgs, opts?: pulumi.ComponentResourceOptions) {
        const { model } = args;
        const owner = `ServerlessModel "${name}"`;
        if (model.gpus > 0 && (!args.gpuScheduling || args.gpuScheduling.tolerations.length === 0)) {
            throw argsError(owner, "gpuScheduling", `model "${model.name}" asks for ${model.gpus} GPU(s): pass the A100 group's node selector and GPU toleration`);
        }
        if (model.hfTokenSecret !== undefined && args.hfToken === undefined) {
            throw argsError(owner, "hfToken", `model "${model.name}" names hfTokenSecret "${model.hfTokenSecret}": pass its value`);
        }
        super("gpu-serverless:models:ServerlessModel", name, {}, opts);

        const k8sOpts = (dependsOn: pulumi.Resource[] = []): pulumi.CustomResourceOptions => ({
            parent: this,
            provider: args.provider,
            dependsOn: [args.dependencies.namespace, ...dependsOn],
        });
        const meta = (suffix: string) => ({ name: `${model.name}-${suffix}`, namespace: model.namespace, labels: modelLabels(model) });

        const hfSecret =
            args.hfToken === undefined
                ? undefined
                : new k8s.core.v1.Secret(
                      childName(name, "hf-token"),
                      { metadata: meta("hf-token"), type: "Opaque", stringData: { HF_TOKEN: pulumi.secret(args.hfToken) } },
                      k8sOpts(),
                  );
        // KServe's storage initializer takes HF_TOKEN from the Secrets listed on the predictor's ServiceAccount.
        const serviceAccount = new k8s.core.v1.ServiceAccount(
            childName(name, "service-account"),
            {
                metadata: meta("model"),
                automountServiceAccountToken: false,
                ...(hfSecret ? { secrets: [{ name: hfSecret.metadata.name }] } : {}),
            },
            k8sOpts(),
        );

        const isvc = inferenceServiceManifest(model, {
            serviceAccountName: `${model.name}-model`,
            gpuScheduling: args.gpuScheduling,
            hfTokenSecretName: hfSecret ? `${model.name}-hf-token` : undefined,
        });
        this.inferenceService = new k8s.apiextensions.CustomResource(
            childName(name, "inference-service"),
            isvc,
            k8sOpts([args.dependencies.kserve, serviceAccount, ...(hfSecret ? [hfSecret] : [])]),
        );

        const scaledObject = pulumi.output(args.scalerAddress).apply((scalerAddress) => scaledObjectManifest(model, { scalerAddress }));
        this.scaledObject = new k8s.apiextensions.CustomResource(
            childName(name, "scaled-object"),
            { ...scaledObjectType, metadata: scaledObject.metadata, spec: scaledObject.spec },
            k8sOpts([args.dependencies.keda, this.inferenceService]),
        );

        this.serviceMonitor = new k8s.apiextensions.CustomResource(
            childName(name, "service-monitor"),
            serviceMonitorManifest(model),
            k8sOpts([args.dependencies.monitoring]),
        );

        this.networkPolicy = new k8s.networking.v1.NetworkPolicy(
            childName(name, "network-policy"),
            networkPolicyManifest(model, { activator: args.activator, monitoringNamespace: args.monitoringNamespace }),
            k8sOpts(),
        );

        this.modelKey = modelKey(model);
        this.backendUrl = backendUrl(model);
        this.registerOutputs({
            modelKey: this.modelKey,
            backendUrl: this.backendUrl,
            predictor: predictorName(model),
            inferenceService: this.inferenceService,
            scaledObject: this.scaledObject,
            serviceMonitor: this.serviceMonitor,
            networkPolicy: this.networkPolicy,
        });
    }
}
