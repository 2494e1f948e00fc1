/**
 * One model served from zero: KServe InferenceService (Standard mode, external autoscaler), the KEDA ScaledObject
 * that owns its replica count (one `external-push` trigger to the activator, which also reports vLLM's load, and a
 * `cron` trigger per `prewarm` window: manifests/warm/warmCapacity.ts), a ServiceMonitor
 * for its metrics, a NetworkPolicy admitting only the activator and Prometheus, a ServiceAccount without API access,
 * and the credentials KServe's storage initializer downloads the weights with: for gated Hugging Face models a Secret
 * with the token; for `s3://` models an IAM role (IRSA) that may only list and read the model's prefix; for private
 * `gs://` buckets a Secret with a GCP service-account key.
 *
 * How the storage initializer finds them (kserve/kserve v0.20.0 pkg/credentials/service_account_credentials.go
 * `CreateSecretVolumeAndEnvFromServiceAccount`): the predictor's ServiceAccount annotated `eks.amazonaws.com/role-arn`
 * gets the S3 settings of its annotations (`serving.kserve.io/s3-region` → `AWS_DEFAULT_REGION`), and the EKS pod
 * identity webhook injects the web-identity token boto3 then uses; Secrets listed on the ServiceAccount are mounted
 * by their data key (`gcloud-application-credentials.json` → `GOOGLE_APPLICATION_CREDENTIALS`).
 *
 * The manifests come from the pure builders in `./models/`; this file only turns them into resources.
 */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { setTimeout as sleep } from "node:timers/promises";
import { modelKey } from "../../activator/src/index";
import type { ModelConfig } from "../config/models";
import { modelStoragePolicy, serviceAccountTrustPolicy } from "../domain/iamPolicies";
import { inferenceServiceManifest } from "../manifests/model/inferenceService";
import { backendUrl, modelLabels, predictorName } from "../manifests/model/predictor";
import { bindingEnforcedAfterMs, firstReplicaBinding } from "../manifests/model/firstReplicaAdmission";
import { scaledObjectManifest, scaledObjectType } from "../manifests/model/scaledObject";
import { networkPolicyManifest, serviceMonitorManifest } from "../manifests/model/traffic";
import { withPrewarmTriggers } from "../manifests/warm/warmCapacity";
import { childName } from "../domain/naming";
import type { GpuScheduling } from "../domain/nodeGroups";
import { argsError } from "../domain/checks";

export interface ServerlessModelArgs {
    /** The model, as parsed from `gpu-serverless:models` (defaults filled in). */
    model: ModelConfig;
    /** Kubernetes provider of the cluster. */
    provider: k8s.Provider;
    /** `host:port` KEDA dials for the ScaledObject's one trigger (Activator.scalerAddress: the KEDA relay). */
    scalerAddress: pulumi.Input<string>;
    /** Namespace and pod labels of the activator, the only client the NetworkPolicy admits besides Prometheus. */
    activator: { namespace: string; podLabels: Record<string, string> };
    /** Namespace of Prometheus (platform.namespaces.monitoring). */
    monitoringNamespace: string;
    /** Node selector and GPU toleration of the model's A100 group; required when `model.gpus > 0`. Default none. */
    gpuScheduling?: GpuScheduling;
    /** Hugging Face token (a Pulumi secret); required when `model.hfTokenSecret` is set. Default none. */
    hfToken?: pulumi.Input<string>;
    /** GCP service-account key JSON (a Pulumi secret); required when `model.gcsCredentialsSecret` is set. Default none. */
    gcsCredentials?: pulumi.Input<string>;
    /**
     * Where the IRSA role of an `s3://` model comes from: the AWS provider, the cluster's OIDC provider ARN and issuer
     * (without `https://`) and the bucket's region. Required when `model.storageUri` is `s3://`.
     */
    s3Access?: { awsProvider: aws.Provider; oidcProviderArn: pulumi.Input<string>; oidcIssuer: pulumi.Input<string>; region: string };
    /**
     * What must exist first: the CRD releases of KServe, KEDA and monitoring, and the model's namespace; and the
     * first-replica admission policy (platform), which a GPU model binds before its InferenceService exists so that
     * its first pod boots no GPU node. Without the policy no binding is made.
     */
    dependencies: { kserve: pulumi.Resource; keda: pulumi.Resource; monitoring: pulumi.Resource; namespace: pulumi.Resource; firstReplicaPolicy?: pulumi.Resource };
    /** The node cache's StorageClass (resources/nodeCache.ts) when this model uses the cache (`usesNodeCache`). Default none: no cache. */
    nodeCache?: pulumi.Resource;
    /**
     * Milliseconds between creating a GPU model's first-replica binding and creating its InferenceService, so that
     * kube-apiserver enforces the binding before KServe's first pod exists. Default `bindingEnforcedAfterMs` (2000);
     * 0 creates them back to back. Not waited in a preview.
     */
    admissionSettleMs?: number;
}

/**
 * The binding as a dependency that resolves `settleMs` after the binding was created (its id known). In a preview,
 * or with 0, the binding itself: a preview creates nothing, and an unknown id would never resolve.
 */
function enforcedBinding(binding: pulumi.Resource & { id: pulumi.Output<string> }, settleMs: number): pulumi.Input<pulumi.Resource> {
    if (settleMs <= 0 || pulumi.runtime.isDryRun()) return binding;
    return new Promise<pulumi.Resource>((resolve) => {
        binding.id.apply(async () => {
            await sleep(settleMs);
            resolve(binding);
        });
    });
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
    /** The IAM role the storage initializer reads an `s3://` model's weights with; undefined for other models. */
    readonly storageRole?: aws.iam.Role;

    constructor(name: string, args: ServerlessModelArgs, opts?: pulumi.ComponentResourceOptions) {
        const { model } = args;
        const owner = `ServerlessModel "${name}"`;
        if (model.gpus > 0 && (!args.gpuScheduling || args.gpuScheduling.tolerations.length === 0)) {
            throw argsError(owner, "gpuScheduling", `model "${model.name}" asks for ${model.gpus} GPU(s): pass the A100 group's node selector and GPU toleration`);
        }
        if (model.hfTokenSecret !== undefined && args.hfToken === undefined) {
            throw argsError(owner, "hfToken", `model "${model.name}" names hfTokenSecret "${model.hfTokenSecret}": pass its value`);
        }
        if (model.gcsCredentialsSecret !== undefined && args.gcsCredentials === undefined) {
            throw argsError(owner, "gcsCredentials", `model "${model.name}" names gcsCredentialsSecret "${model.gcsCredentialsSecret}": pass its value`);
        }
        const s3 = model.storageUri.startsWith("s3://");
        if (s3 && args.s3Access === undefined) {
            throw argsError(owner, "s3Access", `model "${model.name}" downloads from ${model.storageUri}: pass the AWS provider, OIDC provider and region for its IAM role`);
        }
        super("gpu-serverless:models:ServerlessModel", name, {}, opts);

        const k8sOpts = (dependsOn: pulumi.Input<pulumi.Resource>[] = []): pulumi.CustomResourceOptions => ({
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
        const gcsSecret =
            args.gcsCredentials === undefined
                ? undefined
                : new k8s.core.v1.Secret(
                      childName(name, "gcs-credentials"),
                      {
                          metadata: meta("gcs-credentials"),
                          type: "Opaque",
                          stringData: pulumi.secret(pulumi.output(args.gcsCredentials).apply((key) => ({ [gcsCredentialFileName]: key }))),
                      },
                      k8sOpts(),
                  );
        const serviceAccountName = `${model.name}-model`;
        const storageRole = s3 ? this.s3Role(name, model, serviceAccountName, args.s3Access!) : undefined;
        // KServe's storage initializer takes credentials from the predictor's ServiceAccount (see the file comment).
        const secrets = [hfSecret, gcsSecret].filter((x): x is k8s.core.v1.Secret => x !== undefined);
        const serviceAccount = new k8s.core.v1.ServiceAccount(
            childName(name, "service-account"),
            {
                metadata: {
                    ...meta("model"),
                    ...(storageRole
                        ? { annotations: { "eks.amazonaws.com/role-arn": storageRole.role.arn, "serving.kserve.io/s3-region": args.s3Access!.region } }
                        : {}),
                },
                automountServiceAccountToken: false,
                ...(secrets.length > 0 ? { secrets: secrets.map((secret) => ({ name: secret.metadata.name })) } : {}),
            },
            k8sOpts(storageRole ? [storageRole.policy] : []),
        );

        const isvc = inferenceServiceManifest(model, {
            serviceAccountName,
            gpuScheduling: args.gpuScheduling,
            hfTokenSecretName: hfSecret ? `${model.name}-hf-token` : undefined,
            s3Region: s3 ? args.s3Access!.region : undefined,
            nodeCache: args.nodeCache !== undefined,
        });
        // In force before the InferenceService exists: KServe's Deployment starts at one replica. Created is not yet
        // enforced: the InferenceService waits `admissionSettleMs` after the binding is created (bindingEnforcedAfterMs).
        const admission =
            model.gpus > 0 && args.dependencies.firstReplicaPolicy
                ? [
                      enforcedBinding(
                          new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
                              childName(name, "first-replica-binding"),
                              firstReplicaBinding(model),
                              k8sOpts([args.dependencies.firstReplicaPolicy]),
                          ),
                          args.admissionSettleMs ?? bindingEnforcedAfterMs,
                      ),
                  ]
                : [];
        this.inferenceService = new k8s.apiextensions.CustomResource(
            childName(name, "inference-service"),
            isvc,
            k8sOpts([args.dependencies.kserve, serviceAccount, ...secrets, ...admission, ...(args.nodeCache ? [args.nodeCache] : [])]),
        );

        const scaledObject = pulumi.output(args.scalerAddress).apply((scalerAddress) => withPrewarmTriggers(scaledObjectManifest(model, { scalerAddress }), model.prewarm));
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

        this.storageRole = storageRole?.role;
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
            storageRole: this.storageRole,
        });
    }

    /** IRSA role for the model's ServiceAccount: list and read the model's S3 prefix, nothing else. */
    private s3Role(name: string, model: ModelConfig, serviceAccount: string, access: NonNullable<ServerlessModelArgs["s3Access"]>) {
        const awsOpts = { parent: this, provider: access.awsProvider };
        const role = new aws.iam.Role(
            childName(name, "storage-role"),
            {
                description: `Reads ${model.storageUri} for model ${model.namespace}/${model.name}`,
                assumeRolePolicy: pulumi
                    .all([access.oidcProviderArn, access.oidcIssuer])
                    .apply(([oidcProviderArn, oidcIssuer]) =>
                        JSON.stringify(serviceAccountTrustPolicy({ oidcProviderArn, oidcIssuer, namespace: model.namespace, serviceAccount })),
                    ),
            },
            awsOpts,
        );
        const partition = aws.getPartitionOutput({}, awsOpts).partition;
        const policy = new aws.iam.RolePolicy(
            childName(name, "storage-policy"),
            { role: role.name, policy: partition.apply((p) => JSON.stringify(modelStoragePolicy(p, model.storageUri))) },
            awsOpts,
        );
        return { role, policy };
    }
}

/** The Secret data key KServe mounts as a GCP service-account key (kserve/kserve v0.20.0 pkg/credentials/gcs/gcs_secret.go). */
export const gcsCredentialFileName = "gcloud-application-credentials.json";
