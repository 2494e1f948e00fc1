/**
 * gpu-serverless: stack config → validated config → platform → activator and models → stack outputs.
 * An invalid config stops here, before any resource is registered, with every problem listed.
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { loadStackConfig, ServerlessGpuPlatform } from "./components";
import { Activator } from "./components/resources/activator";
import { deployedVersions } from "./components/config/canary";
import { BatchRunner, BatchStorage } from "./components/resources/batch";
import { gpuNodeGroupOf } from "./components/config/models";
import { cachedPools, usesNodeCache } from "./components/config/nodeCache";
import { a100RegionNotes } from "./components/domain/awsCatalog";
import { a100InstanceTypes } from "./components/domain/nodeGroups";
import { gpuPoolTaints, tolerationsFor } from "./components/manifests/nodeMonitoring/agent";
import { NodeCache } from "./components/resources/nodeCache";
import { Observability } from "./components/resources/observability";
import { ServerlessModel } from "./components/resources/serverlessModel";

const config = loadStackConfig();
for (const note of a100RegionNotes(config.region, config.gpuNodeGroups)) void pulumi.log.warn(note);

const secrets = new pulumi.Config();

const { dockerHubCredentialsSecret, githubCredentialsSecret } = config.imageCache;
const platform = new ServerlessGpuPlatform("gpu", {
    config,
    registryCredentials: {
        ...(dockerHubCredentialsSecret ? { "docker.io": secrets.requireSecret(dockerHubCredentialsSecret) } : {}),
        ...(githubCredentialsSecret ? { "ghcr.io": secrets.requireSecret(githubCredentialsSecret) } : {}),
    },
});

// The OpenAI Batch API (`gpu-serverless:batch`, docs/batch-api.md): bucket, chunk queue, IAM roles; the runner below.
const batchStorage = config.batch.enabled
    ? new BatchStorage("batch", {
          config: config.batch,
          awsProvider: platform.awsProvider,
          region: platform.region,
          oidcProviderArn: platform.oidc.providerArn,
          oidcIssuer: platform.oidc.issuer,
          activatorNamespace: config.activator.namespace,
          kedaNamespace: platform.namespaces.keda,
      })
    : undefined;
// The key the batch runner presents to the activator (only when the activator checks keys).
const runnerApiKey =
    batchStorage && config.activator.apiKeySecrets.length > 0 ? new random.RandomPassword("batch-runner-api-key", { length: 48, special: false }).result : undefined;

// One endpoint in front of every model: routes, holds requests while a model is at zero, wakes it through KEDA.
const activator = new Activator("activator", {
    ...(batchStorage ? { batch: { config: batchStorage.activatorBatch, policy: batchStorage.activatorPolicy, ...(runnerApiKey ? { runnerApiKey } : {}) } } : {}),
    config: config.activator,
    models: config.models,
    apiKeys: config.activator.apiKeySecrets.map((name) => secrets.requireSecret(name)),
    provider: platform.provider,
    awsProvider: platform.awsProvider,
    systemNodeSelector: platform.systemNodeSelector,
    kedaNamespace: platform.namespaces.keda,
    monitoringNamespace: platform.namespaces.monitoring,
    dependencies: { monitoring: platform.crdReleases.monitoring },
    // Queue load scaling and the Batch API: the activator's own IRSA role, made only when a model lists queues or batch is on.
    awsAccess: { awsProvider: platform.awsProvider, oidcProviderArn: platform.oidc.providerArn, oidcIssuer: platform.oidc.issuer },
});

// The KEDA relay in the KEDA operator's pod runs the activator's image and dials its scaler Service.
platform.useActivator(activator);

if (batchStorage) {
    new BatchRunner("batch-runner", {
        config: config.batch,
        storage: batchStorage,
        provider: platform.provider,
        namespace: activator.namespace,
        region: platform.region,
        image: activator.image,
        systemNodeSelector: platform.systemNodeSelector,
        ...(runnerApiKey ? { apiKey: runnerApiKey } : {}),
        dependsOn: [platform.crdReleases.keda, activator],
    });
}

// Alerts (PrometheusRule) and the Grafana dashboard, with thresholds from `gpu-serverless:alerts`.
new Observability("observability", {
    provider: platform.provider,
    monitoringNamespace: platform.namespaces.monitoring,
    monitoring: platform.crdReleases.monitoring,
    activatorNamespace: config.activator.namespace,
    thresholds: config.alerts,
    canaryModels: config.models.filter((m) => m.canary).map((m) => `${m.namespace}/${m.name}`),
    models: deployedVersions(config.models).map((m) => ({ key: `${m.namespace}/${m.name}`, minReplicas: m.minReplicas, cooldownSeconds: m.cooldownSeconds, pollingSeconds: m.pollingSeconds })),
});

// The node-local NVMe cache of the Karpenter GPU pools (`nodeCache`; manifests/model/nodeCache.ts), its agent from the activator's image.
const cachePools = cachedPools(config);
const nodeCache =
    cachePools.length > 0
        ? new NodeCache("node-cache", {
              provider: platform.provider,
              image: activator.image,
              pools: cachePools,
              defaultSlots: Math.max(...config.gpuNodeGroups.filter((g) => cachePools.includes(g.name)).map((g) => a100InstanceTypes[g.instanceType as keyof typeof a100InstanceTypes]?.gpus ?? 8)),
              systemNodeSelector: platform.systemNodeSelector,
              gpuTolerations: tolerationsFor(gpuPoolTaints(config.gpuNodeGroups)),
          })
        : undefined;

const gpuGroupNames = config.gpuNodeGroups.map((group) => group.name);
// Each model, and its canary as an InferenceService of its own (components/config/canary.ts).
for (const model of deployedVersions(config.models)) {
    new ServerlessModel(model.name, {
        model,
        provider: platform.provider,
        scalerAddress: activator.scalerAddress,
        activator: { namespace: activator.namespace, podLabels: activator.podLabels },
        monitoringNamespace: platform.namespaces.monitoring,
        gpuScheduling: model.gpus > 0 ? platform.gpuScheduling[gpuNodeGroupOf(model, gpuGroupNames)!] : undefined,
        hfToken: model.hfTokenSecret !== undefined ? secrets.requireSecret(model.hfTokenSecret) : undefined,
        gcsCredentials: model.gcsCredentialsSecret !== undefined ? secrets.requireSecret(model.gcsCredentialsSecret) : undefined,
        s3Access: {
            awsProvider: platform.awsProvider,
            oidcProviderArn: platform.oidc.providerArn,
            oidcIssuer: platform.oidc.issuer,
            region: platform.region,
        },
        dependencies: { ...platform.crdReleases, namespace: activator.modelNamespaces[model.namespace] },
        nodeCache: nodeCache && usesNodeCache(model, gpuNodeGroupOf(model, gpuGroupNames), cachePools) ? nodeCache.storageClass : undefined,
    });
}

export const clusterName = platform.clusterName;
export const kubeconfig = platform.kubeconfig;
export const gpuNodeGroupNames = platform.gpuNodeGroupNames;
export const prometheusUrl = platform.prometheusUrl;
export const grafanaAdminPassword = platform.grafanaAdminPassword;
/** Where clients send requests: `http://<activator NLB>:80` (OpenAI API at /v1/..., other models by host or path). */
export const activatorEndpoint = activator.endpoint;
/** With `imageCache.nvcrMirror`: run these once per pinned version before GPU nodes start (ECR cannot cache nvcr.io). */
export const nvcrMirrorCopies = platform.nvcrMirrorCopies;
