/**
 * The activator's workload and its access to the cluster, as plain data: namespaces, RBAC rules, StatefulSet and
 * PodDisruptionBudget. The Activator component turns these into resources.
 *
 * A StatefulSet: stable pod names identify replicas to each other (they share demand, activator/src/peers), and its
 * rolling update replaces one pod at a time, deleting the old one first, so a replica drains before its successor
 * starts. KEDA reaches any one replica through the scaler Service (./services).
 */
import type { ActivatorStackConfig } from "../../config/models";
import { activatorName, activatorPodLabels, activatorPorts, apiKeysDir, apiKeysSecretName, configDir, peerTokenDir, peerTokenSecretName } from "./names";

/** The activator's namespace: Pod Security `restricted` enforced, which the StatefulSet below satisfies. */
export function activatorNamespaceManifest(namespace: string) {
    return {
        metadata: {
            name: namespace,
            labels: {
                "app.kubernetes.io/part-of": "gpu-serverless",
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            },
        },
    };
}

/**
 * A model namespace. Pod Security `baseline` is enforced and `restricted` only warned about: KServe injects its
 * storage-initializer init container, whose security context the chart, not we, controls.
 */
export function modelNamespaceManifest(namespace: string) {
    return {
        metadata: {
            name: namespace,
            labels: {
                "app.kubernetes.io/part-of": "gpu-serverless",
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
            },
        },
    };
}

/**
 * What the activator may do in a model namespace, read-only: watch readiness (EndpointSlices), and why a model cannot
 * start (its Pods and ReplicaSets, the Events about them, its InferenceService's status).
 */
export const modelNamespaceRules = [
    { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
    { apiGroups: [""], resources: ["pods", "events"], verbs: ["get", "list", "watch"] },
    { apiGroups: ["apps"], resources: ["replicasets"], verbs: ["get", "list", "watch"] },
    { apiGroups: ["serving.kserve.io"], resources: ["inferenceservices"], verbs: ["get", "list", "watch"] },
];

/**
 * What the activator may read cluster-wide, for the cold-start timeline's `node_ready` phase: the Node a cold start's
 * pod was bound to (`get`) and Karpenter's NodeClaims (`list`; `karpenter.sh/v1`, Karpenter v1.14.1's CRD). Read only.
 */
export const clusterRules = [
    { apiGroups: [""], resources: ["nodes"], verbs: ["get"] },
    { apiGroups: ["karpenter.sh"], resources: ["nodeclaims"], verbs: ["list"] },
];

/** What the activator may do in its own namespace, read-only: find its peers (the headless Service's EndpointSlices). */
export const activatorNamespaceRules = [{ apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] }];

// Load balancers and kube-proxy take a few seconds to stop sending to a terminating pod; SIGTERM waits for that.
const PRE_STOP_SECONDS = 5;

/** Seconds Kubernetes waits after SIGTERM: the activator's drain grace plus the pre-stop pause and a margin. */
export function terminationGraceSeconds(stack: Pick<ActivatorStackConfig, "shutdownGraceSeconds">): number {
    return stack.shutdownGraceSeconds + PRE_STOP_SECONDS + 5;
}
// The image's unprivileged user (distroless `nonroot`); set here too so runAsNonRoot holds for any image.
const RUN_AS = 65532;

export interface StatefulSetOptions {
    namespace: string;
    /** The headless Service governing the pods' DNS names (`<name>-<i>.<serviceName>.<namespace>.svc.cluster.local`). */
    serviceName: string;
    image: string;
    configMapName: string;
    systemNodeSelector: Record<string, string>;
    /** Mount the API keys Secret (`apiKeysSecretName`) at `apiKeysDir`, where the generated config points. Default false. */
    apiKeys?: boolean;
    /**
     * The activator's IRSA role (queue load scaling), also on the ServiceAccount: written on the pod template too, so
     * pods are replaced when the role appears or changes (the EKS pod identity webhook injects credentials only into
     * new pods). Default none.
     */
    awsRoleArn?: string;
}

/** The ServiceAccount annotation the EKS pod identity webhook reads to give a pod an IAM role (IRSA). */
export const irsaRoleAnnotation = "eks.amazonaws.com/role-arn";

export function statefulSetManifest(stack: ActivatorStackConfig, options: StatefulSetOptions) {
    const quantities = { cpu: stack.cpu, memory: stack.memory };
    const spread = (topologyKey: string, whenUnsatisfiable: string) => ({
        maxSkew: 1,
        topologyKey,
        whenUnsatisfiable,
        labelSelector: { matchLabels: activatorPodLabels },
    });
    const httpGet = (path: string) => ({ path, port: "admin" });
    return {
        metadata: { name: activatorName, namespace: options.namespace, labels: activatorPodLabels },
        spec: {
            replicas: stack.replicas,
            selector: { matchLabels: activatorPodLabels },
            serviceName: options.serviceName,
            // All replicas start (and scale) at once: they share nothing, so ordered start-up would only delay them.
            podManagementPolicy: "Parallel",
            // A StatefulSet cannot surge: a rollout replaces one pod at a time, highest ordinal first, after the
            // previous one is ready again; the pod being replaced drains its held requests for the termination grace.
            updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 0 } },
            template: {
                metadata: { labels: activatorPodLabels, ...(options.awsRoleArn ? { annotations: { [irsaRoleAnnotation]: options.awsRoleArn } } : {}) },
                spec: {
                    serviceAccountName: activatorName,
                    nodeSelector: options.systemNodeSelector,
                    topologySpreadConstraints: [
                        spread("kubernetes.io/hostname", "DoNotSchedule"),
                        spread("topology.kubernetes.io/zone", "ScheduleAnyway"),
                    ],
                    terminationGracePeriodSeconds: terminationGraceSeconds(stack),
                    securityContext: {
                        runAsNonRoot: true,
                        runAsUser: RUN_AS,
                        runAsGroup: RUN_AS,
                        fsGroup: RUN_AS,
                        seccompProfile: { type: "RuntimeDefault" },
                    },
                    containers: [
                        {
                            name: "activator",
                            image: options.image,
                            // How the replica names itself to its peers.
                            env: [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
                            ports: [
                                { name: "proxy", containerPort: activatorPorts.proxy, protocol: "TCP" },
                                { name: "grpc", containerPort: activatorPorts.scaler, protocol: "TCP" },
                                { name: "admin", containerPort: activatorPorts.admin, protocol: "TCP" },
                            ],
                            resources: { requests: quantities, limits: { ...quantities } },
                            readinessProbe: { httpGet: httpGet("/readyz"), periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 2 },
                            livenessProbe: { httpGet: httpGet("/healthz"), periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
                            lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SECONDS } } },
                            securityContext: {
                                allowPrivilegeEscalation: false,
                                readOnlyRootFilesystem: true,
                                runAsNonRoot: true,
                                capabilities: { drop: ["ALL"] },
                            },
                            volumeMounts: [
                                { name: "config", mountPath: configDir, readOnly: true },
                                ...(options.apiKeys ? [{ name: "api-keys", mountPath: apiKeysDir, readOnly: true }] : []),
                                { name: "peer-token", mountPath: peerTokenDir, readOnly: true },
                                { name: "tmp", mountPath: "/tmp" },
                            ],
                        },
                    ],
                    volumes: [
                        { name: "config", configMap: { name: options.configMapName } },
                        // Readable by the activator's group (fsGroup) only. No subPath: the kubelet then updates the file in
                        // place when the Secret changes, and the activator applies new keys without a restart.
                        ...(options.apiKeys ? [{ name: "api-keys", secret: { secretName: apiKeysSecretName, defaultMode: 0o440 } }] : []),
                        { name: "peer-token", secret: { secretName: peerTokenSecretName, defaultMode: 0o440 } },
                        { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
                    ],
                },
            },
        },
    };
}

/** Voluntary disruptions (node drains, upgrades) take at most one activator replica at a time. */
export function podDisruptionBudgetManifest(namespace: string) {
    return {
        metadata: { name: activatorName, namespace, labels: activatorPodLabels },
        spec: { maxUnavailable: 1, selector: { matchLabels: activatorPodLabels } },
    };
}
