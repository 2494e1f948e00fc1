/**
 * The activator's Services and ServiceMonitor, as plain data.
 *
 * The proxy is an AWS Network Load Balancer: internal by default; internet-facing only with `exposure: public`, and
 * then only for `allowedCidrs` (`loadBalancerSourceRanges`). This stack installs no AWS Load Balancer Controller, so
 * the in-tree AWS cloud provider makes the NLB from `-type: nlb`, `-internal` and the source ranges. The `-scheme`,
 * listener and target-group attribute annotations are the Load Balancer Controller's, there for clusters that run it;
 * the in-tree NLB keeps AWS's fixed 350 s idle timeout and its default deregistration delay.
 */
import type { ActivatorStackConfig } from "../config/models";
import { activatorPorts } from "./config";
import { activatorName, activatorPodLabels } from "./workload";

/** In-cluster names of the three Services. */
export const serviceNames = {
    proxy: `${activatorName}-proxy`,
    /** Headless: governs the StatefulSet's pod DNS names, through which KEDA reaches each replica's scaler. */
    pods: `${activatorName}-pods`,
    admin: `${activatorName}-admin`,
} as const;

/** Port the NLB listens on (plain HTTP; put TLS in front, or terminate it at the NLB with a certificate). */
export const proxyServicePort = 80;

/**
 * `<statefulset>-<i>.<headless service>.<namespace>.svc.cluster.local:<port>`, i = 0..replicas-1: one external-scaler
 * address per activator replica. KEDA keeps one gRPC stream per trigger, so one address behind a load-balanced
 * Service would only ever reach one replica and miss the requests held by the others.
 */
export function scalerAddresses(namespace: string, replicas: number): string[] {
    return Array.from({ length: replicas }, (_, i) => `${activatorName}-${i}.${serviceNames.pods}.${namespace}.svc.cluster.local:${activatorPorts.scaler}`);
}

const serviceLabels = (component: string) => ({ ...activatorPodLabels, "app.kubernetes.io/component": component });

export interface ProxyServiceOptions {
    namespace: string;
    /** NLB listener TCP idle timeout (see nlbIdleTimeoutSeconds). */
    idleTimeoutSeconds: number;
}

export function proxyServiceManifest(stack: ActivatorStackConfig, options: ProxyServiceOptions) {
    const internal = stack.exposure === "internal";
    const lb = "service.beta.kubernetes.io/aws-load-balancer";
    return {
        metadata: {
            name: serviceNames.proxy,
            namespace: options.namespace,
            labels: serviceLabels("proxy"),
            annotations: {
                [`${lb}-type`]: "nlb",
                // AWS Load Balancer Controller reads `scheme`, the in-tree provider reads `internal`.
                [`${lb}-scheme`]: internal ? "internal" : "internet-facing",
                ...(internal ? { [`${lb}-internal`]: "true" } : {}),
                [`${lb}-cross-zone-load-balancing-enabled`]: "true",
                [`${lb}-listener-attributes.TCP-${proxyServicePort}`]: `tcp.idle_timeout.seconds=${options.idleTimeoutSeconds}`,
                // Draining replicas keep their connections for the whole shutdown grace.
                [`${lb}-target-group-attributes`]: `deregistration_delay.timeout_seconds=${stack.shutdownGraceSeconds}`,
            },
        },
        spec: {
            type: "LoadBalancer",
            selector: activatorPodLabels,
            ports: [{ name: "http", port: proxyServicePort, targetPort: "proxy", protocol: "TCP" }],
            ...(stack.allowedCidrs.length > 0 ? { loadBalancerSourceRanges: stack.allowedCidrs } : {}),
        },
    };
}

/**
 * The StatefulSet's headless Service: a DNS name per pod for KEDA's gRPC streams (`external-push` triggers). Ready
 * pods only, so KEDA never dials a replica that is starting or draining.
 */
export function podsServiceManifest(namespace: string) {
    return {
        metadata: { name: serviceNames.pods, namespace, labels: serviceLabels("scaler") },
        spec: {
            clusterIP: "None",
            publishNotReadyAddresses: false,
            selector: activatorPodLabels,
            ports: [{ name: "grpc", port: activatorPorts.scaler, targetPort: "grpc", protocol: "TCP", appProtocol: "kubernetes.io/h2c" }],
        },
    };
}

/** Health, queue state and Prometheus metrics; inside the cluster only. */
export function adminServiceManifest(namespace: string) {
    return {
        metadata: { name: serviceNames.admin, namespace, labels: serviceLabels("admin") },
        spec: {
            type: "ClusterIP",
            selector: activatorPodLabels,
            ports: [{ name: "admin", port: activatorPorts.admin, targetPort: "admin", protocol: "TCP" }],
        },
    };
}

export function activatorServiceMonitorManifest(namespace: string) {
    return {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "ServiceMonitor",
        metadata: { name: activatorName, namespace, labels: activatorPodLabels },
        spec: {
            selector: { matchLabels: serviceLabels("admin") },
            namespaceSelector: { matchNames: [namespace] },
            endpoints: [{ port: "admin", path: "/metrics", scheme: "http", interval: "15s" }],
        },
    };
}
