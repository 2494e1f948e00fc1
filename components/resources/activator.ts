/**
 * The activator in the cluster: one endpoint in front of every model.
 *
 * Creates its namespace and the model namespaces, a ServiceAccount with read-only access to EndpointSlices, Pods,
 * Events and InferenceServices in each model namespace and to EndpointSlices in its own (peers), the config file generated from the models (a ConfigMap the activator hot-reloads), with
 * API keys a Secret holding their SHA-256 digests (never the keys; the activator hot-reloads it too), the
 * StatefulSet (spread across system nodes, PodDisruptionBudget, restricted security context), the proxy NLB, the
 * scaler Service KEDA dials (any replica answers for all), the headless Service through which replicas find each
 * other, the admin Service, a ServiceMonitor, and a NetworkPolicy admitting only the KEDA operator to the scaler port
 * and only peers and Prometheus to the admin port.
 * The image is built from `activator/Dockerfile` (the repository root as context) and pushed to an ECR repository
 * created here, unless `activator.image` names one.
 *
 * The manifests come from the pure builders in `../manifests/activator/`; this file only turns them into resources.
 */
import * as aws from "@pulumi/aws";
import * as dockerBuild from "@pulumi/docker-build";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { ActivatorStackConfig, ModelConfig } from "../config/models";
import { activatorConfig, activatorConfigFile, apiKeysSecretData, configuredQueueArns, nlbIdleTimeoutSeconds } from "../manifests/activator/config";
import { activatorQueuePolicy, serviceAccountTrustPolicy } from "../domain/iamPolicies";
import type { BatchConfigInput } from "../../activator/src/index";
import { activatorNetworkPolicyManifest } from "../manifests/activator/networkPolicy";
import { activatorImageTag, imageContextDir, imageDockerfile } from "../manifests/activator/image";
import { kedaRelayAddress } from "../manifests/charts/keda";
import { activatorServiceMonitorManifest, adminServiceManifest, podsServiceManifest, proxyServiceManifest, scalerAddress, scalerServiceManifest } from "../manifests/activator/services";
import { activatorNamespaceManifest, activatorNamespaceRules, irsaRoleAnnotation, modelNamespaceManifest, modelNamespaceRules, clusterRules, podDisruptionBudgetManifest, statefulSetManifest } from "../manifests/activator/workload";
import { childName } from "../domain/naming";
import { argsError, checkDnsLabel } from "../domain/checks";
import { checkNodeSelector } from "../manifests/charts/scheduling";
import { activatorName, activatorPodLabels, apiKeysSecretName, configFileName, configMapName, peerTokenFileName, peerTokenSecretName, proxyServicePort, serviceNames } from "../manifests/activator/names";

export interface ActivatorArgs {
    /** `gpu-serverless:activator`, as parsed (defaults filled in). */
    config: ActivatorStackConfig;
    /** Every model served (`gpu-serverless:models`); each gets a route, and its namespace is created here. */
    models: readonly ModelConfig[];
    /** Kubernetes provider of the cluster. */
    provider: k8s.Provider;
    /**
     * The API keys (Pulumi secrets), one per `config.apiKeySecrets` name, in that order; required when it names any.
     * Only their SHA-256 digests reach the cluster. Default none.
     */
    apiKeys?: pulumi.Input<string>[];
    /**
     * The Batch API (`gpu-serverless:batch`, ./batch.ts): the activator config's `batch` section, the policy document
     * (JSON) the activator's IAM role gets for it (BatchStorage.activatorPolicy), and the batch runner's API key (its
     * digest joins the keys Secret). Needs `awsAccess`. Default none.
     */
    batch?: { config: pulumi.Input<BatchConfigInput>; policy: pulumi.Input<string>; runnerApiKey?: pulumi.Input<string> };
    /** AWS provider for the ECR repository; required unless `config.image` is set. Default none. */
    awsProvider?: aws.Provider;
    /** Node labels of the system node group (platform.systemNodeSelector). */
    systemNodeSelector: Record<string, string>;
    /** Namespace KEDA is installed in (platform.namespaces.keda): its operator alone may reach the scaler port. */
    kedaNamespace: string;
    /** Namespace of Prometheus (platform.namespaces.monitoring): it may scrape the admin port. */
    monitoringNamespace: string;
    /** What must exist first: the monitoring release that installs the ServiceMonitor CRD. */
    dependencies: { monitoring: pulumi.Resource };
    /**
     * Where the activator's one IRSA role comes from, required when a model has `queueScaling` or `batch` is given: the
     * AWS provider and the cluster's OIDC provider ARN and issuer (without `https://`). The role may call exactly
     * `sqs:GetQueueAttributes` on exactly the listed queues (iamPolicies.ts `activatorQueuePolicy`) and what `batch.policy`
     * allows; with neither, no role is made.
     */
    awsAccess?: { awsProvider: aws.Provider; oidcProviderArn: pulumi.Input<string>; oidcIssuer: pulumi.Input<string> };
}

export class Activator extends pulumi.ComponentResource {
    /** Namespace of the activator. */
    readonly namespace: string;
    /** Labels of the activator pods (model NetworkPolicies admit these). */
    readonly podLabels: Record<string, string>;
    /**
     * `127.0.0.1:9095`: the one `external-push` address of every ScaledObject, the KEDA relay in the KEDA operator's
     * pod (components/manifests/charts/keda.ts `kedaRelayContainer`), which dials {@link scalerServiceAddress}.
     */
    readonly scalerAddress: pulumi.Output<string>;
    /** `activator-scaler.<namespace>.svc.cluster.local:9090`: the scaler Service, the KEDA relay's upstream. */
    readonly scalerServiceAddress: pulumi.Output<string>;
    /** `http://<NLB host name>`: where clients send requests (in-cluster Service URL until the NLB has an address). */
    readonly endpoint: pulumi.Output<string>;
    /** Image the StatefulSet runs (`repository:tag@digest` when built here). */
    readonly image: pulumi.Output<string>;
    /** The model namespaces by name; each ServerlessModel depends on its own. */
    readonly modelNamespaces: Record<string, k8s.core.v1.Namespace>;
    /** The generated activator config file (JSON). */
    readonly configFile: string;

    constructor(name: string, args: ActivatorArgs, opts?: pulumi.ComponentResourceOptions) {
        const { config, models } = args;
        const owner = `Activator "${name}"`;
        const namespace = config.namespace;
        const modelNamespaceNames = [...new Set(models.map((m) => m.namespace))];
        if (modelNamespaceNames.includes(namespace)) {
            throw argsError(owner, "models", `a model uses the activator's namespace "${namespace}"; models need a namespace of their own`);
        }
        if (config.image === undefined && args.awsProvider === undefined) {
            throw argsError(owner, "awsProvider", "required to create the ECR repository when config.image is not set");
        }
        checkNodeSelector(owner, "systemNodeSelector", args.systemNodeSelector, true);
        checkDnsLabel(owner, "kedaNamespace", args.kedaNamespace);
        checkDnsLabel(owner, "monitoringNamespace", args.monitoringNamespace);
        const apiKeys = args.apiKeys ?? [];
        if (apiKeys.length !== config.apiKeySecrets.length) {
            const names = config.apiKeySecrets.join(", ") || "none";
            throw argsError(owner, "apiKeys", `${apiKeys.length} given for ${config.apiKeySecrets.length} config.apiKeySecrets (${names}): pass one value per name`);
        }
        const queuePolicy = activatorQueuePolicy(configuredQueueArns(models));
        if ((queuePolicy || args.batch) && args.awsAccess === undefined) {
            throw argsError(owner, "awsAccess", "required when a model has queueScaling or batch is given: the activator calls AWS through an IAM role of its own");
        }
        // Validated against the activator's own schema before any resource exists.
        const activatorConfigInput = activatorConfig(models, config);
        const configFile = activatorConfigFile(activatorConfigInput);
        super("gpu-serverless:activator:Activator", name, {}, opts);
        this.configFile = configFile;

        const k8sOpts = (dependsOn: pulumi.Resource[] = []): pulumi.CustomResourceOptions => ({ parent: this, provider: args.provider, dependsOn });

        const ns = new k8s.core.v1.Namespace(childName(name, "namespace"), activatorNamespaceManifest(namespace), k8sOpts());
        const inNamespace = (more: pulumi.Resource[] = []) => k8sOpts([ns, ...more]);

        // Queue load scaling and the Batch API: one IRSA role trusted by this ServiceAccount alone, with an inline policy
        // for each (exactly the configured queues; the batch bucket and chunk queue).
        const awsRole = queuePolicy || args.batch ? this.awsRole(name, namespace, queuePolicy, args.batch?.policy, args.awsAccess!) : undefined;
        const serviceAccount = new k8s.core.v1.ServiceAccount(
            childName(name, "service-account"),
            // The readiness watch talks to the API server with this account's token.
            {
                metadata: { name: activatorName, namespace, labels: activatorPodLabels, ...(awsRole ? { annotations: { [irsaRoleAnnotation]: awsRole.role.arn } } : {}) },
                automountServiceAccountToken: true,
            },
            inNamespace(),
        );

        this.modelNamespaces = {};
        const bindings: pulumi.Resource[] = [];
        for (const modelNamespace of modelNamespaceNames) {
            const created = new k8s.core.v1.Namespace(childName(name, `model-namespace-${modelNamespace}`), modelNamespaceManifest(modelNamespace), k8sOpts());
            this.modelNamespaces[modelNamespace] = created;
            const meta = { name: `${activatorName}-reader`, namespace: modelNamespace, labels: activatorPodLabels };
            const role = new k8s.rbac.v1.Role(childName(name, `reader-${modelNamespace}`), { metadata: meta, rules: modelNamespaceRules }, k8sOpts([created]));
            bindings.push(
                new k8s.rbac.v1.RoleBinding(
                    childName(name, `reader-binding-${modelNamespace}`),
                    {
                        metadata: meta,
                        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: meta.name },
                        subjects: [{ kind: "ServiceAccount", name: activatorName, namespace }],
                    },
                    k8sOpts([created, role, serviceAccount]),
                ),
            );
        }

        // Peers: the replicas read their headless Service's EndpointSlices in their own namespace.
        const peersMeta = { name: `${activatorName}-peers`, namespace, labels: activatorPodLabels };
        const peersRole = new k8s.rbac.v1.Role(childName(name, "peers"), { metadata: peersMeta, rules: activatorNamespaceRules }, inNamespace());
        bindings.push(
            new k8s.rbac.v1.RoleBinding(
                childName(name, "peers-binding"),
                {
                    metadata: peersMeta,
                    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: peersMeta.name },
                    subjects: [{ kind: "ServiceAccount", name: activatorName, namespace }],
                },
                inNamespace([peersRole, serviceAccount]),
            ),
        );

        // Cold-start timeline: the Node and NodeClaim of a cold start's pod, read only (cluster-scoped objects).
        const nodesMeta = { name: `${namespace}-${activatorName}-nodes`, labels: activatorPodLabels };
        const nodesRole = new k8s.rbac.v1.ClusterRole(childName(name, "nodes"), { metadata: nodesMeta, rules: clusterRules }, k8sOpts());
        bindings.push(
            new k8s.rbac.v1.ClusterRoleBinding(
                childName(name, "nodes-binding"),
                {
                    metadata: nodesMeta,
                    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: nodesMeta.name },
                    subjects: [{ kind: "ServiceAccount", name: activatorName, namespace }],
                },
                k8sOpts([nodesRole, serviceAccount]),
            ),
        );

        const configMap = new k8s.core.v1.ConfigMap(
            childName(name, "config"),
            { metadata: { name: configMapName, namespace, labels: activatorPodLabels }, data: { [configFileName]: args.batch ? pulumi.output(args.batch.config).apply((batch) => activatorConfigFile({ ...activatorConfigInput, batch })) : this.configFile } },
            inNamespace(),
        );

        // The digests are computed inside the secret Output: neither keys nor digests reach the state in clear.
        const apiKeysSecret =
            apiKeys.length === 0
                ? undefined
                : new k8s.core.v1.Secret(
                      childName(name, "api-keys"),
                      {
                          metadata: { name: apiKeysSecretName, namespace, labels: activatorPodLabels },
                          type: "Opaque",
                          stringData: pulumi.secret(pulumi.all(args.batch?.runnerApiKey !== undefined ? [...apiKeys, args.batch.runnerApiKey] : apiKeys).apply(apiKeysSecretData)),
                      },
                      inNamespace(),
                  );

        // The replicas' shared token for their demand messages: generated, kept in the state as a secret.
        const peerToken = new random.RandomPassword(childName(name, "peer-token"), { length: 48, special: false }, { parent: this });
        const peerTokenSecret = new k8s.core.v1.Secret(
            childName(name, "peer-token-secret"),
            { metadata: { name: peerTokenSecretName, namespace, labels: activatorPodLabels }, type: "Opaque", stringData: { [peerTokenFileName]: peerToken.result } },
            inNamespace(),
        );

        this.image = config.image !== undefined ? pulumi.output(config.image) : this.buildImage(name, args.awsProvider!);

        const pods = new k8s.core.v1.Service(childName(name, "pods"), podsServiceManifest(namespace), inNamespace());
        const workload = pulumi.all([this.image, awsRole?.role.arn]).apply(([image, awsRoleArn]) =>
            statefulSetManifest(config, {
                ...(awsRoleArn ? { awsRoleArn } : {}),
                namespace,
                serviceName: serviceNames.pods,
                image,
                configMapName,
                systemNodeSelector: args.systemNodeSelector,
                apiKeys: apiKeysSecret !== undefined,
            }),
        );
        const statefulSet = new k8s.apps.v1.StatefulSet(
            childName(name, "stateful-set"),
            { metadata: workload.metadata, spec: workload.spec },
            inNamespace([pods, serviceAccount, configMap, peerTokenSecret, ...bindings, ...(apiKeysSecret ? [apiKeysSecret] : []), ...(awsRole?.policies ?? [])]),
        );
        new k8s.policy.v1.PodDisruptionBudget(childName(name, "disruption-budget"), podDisruptionBudgetManifest(namespace), inNamespace());
        new k8s.networking.v1.NetworkPolicy(
            childName(name, "network-policy"),
            activatorNetworkPolicyManifest({ namespace, kedaNamespace: args.kedaNamespace, monitoringNamespace: args.monitoringNamespace }),
            inNamespace(),
        );

        const proxy = new k8s.core.v1.Service(
            childName(name, "proxy"),
            proxyServiceManifest(config, { namespace, idleTimeoutSeconds: nlbIdleTimeoutSeconds(activatorConfigInput) }),
            inNamespace([statefulSet]),
        );
        const admin = new k8s.core.v1.Service(childName(name, "admin"), adminServiceManifest(namespace), inNamespace());
        const serviceMonitor = activatorServiceMonitorManifest(namespace);
        new k8s.apiextensions.CustomResource(childName(name, "service-monitor"), serviceMonitor, inNamespace([args.dependencies.monitoring, admin]));

        this.namespace = namespace;
        this.podLabels = activatorPodLabels;
        // Read through the headless Service so every trigger that uses an address waits for the Service to exist.
        const scaler = new k8s.core.v1.Service(childName(name, "scaler"), scalerServiceManifest(namespace), inNamespace());
        // Read through the Service so every trigger that uses the address waits for the Service to exist.
        this.scalerServiceAddress = scaler.metadata.apply(() => scalerAddress(namespace));
        // KEDA dials the relay in its own pod (ServerlessGpuPlatform.useActivator), which dials the Service.
        this.scalerAddress = scaler.metadata.apply(() => kedaRelayAddress);
        this.endpoint = proxy.status.apply((status) => {
            const ingress = status?.loadBalancer?.ingress?.[0];
            const host = ingress?.hostname ?? ingress?.ip ?? `${serviceNames.proxy}.${namespace}.svc.cluster.local`;
            return `http://${host}:${proxyServicePort}`;
        });
        this.registerOutputs({
            namespace: this.namespace,
            podLabels: this.podLabels,
            scalerAddress: this.scalerAddress,
            scalerServiceAddress: this.scalerServiceAddress,
            endpoint: this.endpoint,
            image: this.image,
            modelNamespaces: this.modelNamespaces,
            configFile: this.configFile,
        });
    }

    /** The activator's IRSA role: trusted by its ServiceAccount alone; the queue policy (GetQueueAttributes on the queues) and the batch policy inline. */
    private awsRole(
        name: string,
        namespace: string,
        queuePolicy: ReturnType<typeof activatorQueuePolicy>,
        batchPolicy: pulumi.Input<string> | undefined,
        access: NonNullable<ActivatorArgs["awsAccess"]>,
    ) {
        const awsOpts = { parent: this, provider: access.awsProvider };
        const role = new aws.iam.Role(
            childName(name, "aws-role"),
            {
                description: "The activator's AWS calls: queueScaling depths (sqs:GetQueueAttributes) and the Batch API's bucket and chunk queue",
                assumeRolePolicy: pulumi
                    .all([access.oidcProviderArn, access.oidcIssuer])
                    .apply(([oidcProviderArn, oidcIssuer]) => JSON.stringify(serviceAccountTrustPolicy({ oidcProviderArn, oidcIssuer, namespace, serviceAccount: activatorName }))),
            },
            awsOpts,
        );
        const policies = [
            ...(queuePolicy ? [new aws.iam.RolePolicy(childName(name, "queue-policy"), { role: role.name, policy: JSON.stringify(queuePolicy) }, awsOpts)] : []),
            ...(batchPolicy !== undefined ? [new aws.iam.RolePolicy(childName(name, "batch-policy"), { role: role.name, policy: batchPolicy }, awsOpts)] : []),
        ];
        return { role, policies };
    }

    /** ECR repository (immutable tags, scan on push) and the image built from the activator sources, pushed there. */
    private buildImage(name: string, awsProvider: aws.Provider): pulumi.Output<string> {
        const awsOpts = { parent: this, provider: awsProvider };
        const repository = new aws.ecr.Repository(
            childName(name, "repository"),
            {
                imageTagMutability: "IMMUTABLE",
                imageScanningConfiguration: { scanOnPush: true },
                // `pulumi destroy` deletes it with its images (ECR refuses to delete a repository that holds any).
                forceDelete: true,
                encryptionConfigurations: [{ encryptionType: "AES256" }],
            },
            awsOpts,
        );
        new aws.ecr.LifecyclePolicy(
            childName(name, "repository-lifecycle"),
            {
                repository: repository.name,
                policy: JSON.stringify({
                    rules: [
                        {
                            rulePriority: 1,
                            description: "keep the 30 most recent images",
                            selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 30 },
                            action: { type: "expire" },
                        },
                    ],
                }),
            },
            awsOpts,
        );
        const token = aws.ecr.getAuthorizationTokenOutput({ registryId: repository.registryId }, { provider: awsProvider });
        const image = new dockerBuild.Image(
            childName(name, "image"),
            {
                context: { location: imageContextDir },
                dockerfile: { location: imageDockerfile },
                // The system node group runs x86_64 instances.
                platforms: ["linux/amd64"],
                push: true,
                tags: [pulumi.interpolate`${repository.repositoryUrl}:${activatorImageTag()}`],
                registries: [
                    { address: repository.repositoryUrl, username: token.userName, password: token.password },
                ],
            },
            { parent: this },
        );
        return image.ref;
    }
}
