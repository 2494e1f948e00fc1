/**
 * The activator's Services and ServiceMonitor, as plain data.
 *
 * The proxy is an AWS Network Load Balancer: internal by default; internet-facing only with `exposure: public`, and
 * then only for `allowedCidrs` (`loadBalancerSourceRanges`). This stack installs no AWS Load Balancer Controller, so
 * the in-tree AWS cloud provider makes the NLB from `-type: nlb`, `-internal` and the source ranges. The `-scheme`,
 * listener and target-group attribute annotations are the Load Balancer Controller's, there for clusters that run it;
 * the in-tree NLB keeps AWS's fixed 350 s idle timeout and its default deregistration delay.
 */
import type { ActivatorStackConfig } from "../../config/models";
import { activatorName, activatorPodLabels, activatorPorts, proxyServicePort, serviceNames } from "./names";

/**
 * `<scaler Service>.<namespace>.svc.cluster.local:<port>`: the one external-scaler address of every ScaledObject. KEDA
 * keeps one gRPC connection per address (kedacore/keda v2.20.2 pkg/scalers/external_scaler.go
 * `getClientForConnectionPool`), which the Service sends to one ready replica; that replica answers for the cluster.
 */
export function scalerAddress(namespace: string): string {
    return `${serviceNames.scaler}.${namespace}.svc.cluster.local:${activatorPorts.scaler}`;
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
 * KEDA's address: a ClusterIP Service over the ready replicas' scaler port. A draining replica fails its readiness
 * probe, leaves the Service, and ends its KEDA streams when it stops (status OK: KEDA reconnects, here to another one).
 */
export function scalerServiceManifest(namespace: string) {
    return {
        metadata: { name: serviceNames.scaler, namespace, labels: serviceLabels("scaler") },
        spec: {
            type: "ClusterIP",
            selector: activatorPodLabels,
            ports: [{ name: "grpc", port: activatorPorts.scaler, targetPort: "grpc", protocol: "TCP", appProtocol: "kubernetes.io/h2c" }],
        },
    };
}

/**
 * The StatefulSet's headless Service. Its EndpointSlices list every replica, starting and terminating ones included
 * (condition `ready: false` / `terminating: true`): the peer list each replica pushes its demand to (admin port).
 */
export function podsServiceManifest(namespace: string) {
    return {
        metadata: { name: serviceNames.pods, namespace, labels: serviceLabels("peers") },
        spec: {
            clusterIP: "None",
            publishNotReadyAddresses: false,
            selector: activatorPodLabels,
            ports: [{ name: "admin", port: activatorPorts.admin, targetPort: "admin", protocol: "TCP" }],
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
