/**
 * Which pod ports a ServiceMonitor endpoint scrapes, by prometheus-operator's rule (our code, following
 * prometheus-operator v0.93.0 pkg/prometheus/promcfg.go `generateServiceMonitorConfig`):
 * - Services are selected by `selector` in `namespaceSelector`'s namespaces; their endpoints (one per Service port and
 *   ready pod) are the candidate targets;
 * - `port` keeps targets whose endpoint port NAME (the Service port's name) equals it;
 * - `targetPort` as a string keeps targets whose pod container port NAME equals it, as a number those whose pod
 *   container port NUMBER equals it; both labels exist only for ports the container DECLARES
 *   (`__meta_kubernetes_pod_container_port_*`), so an undeclared port matches nothing.
 * The upstream CRD's own field descriptions state the same (`ruleText` reads them from the CRD file in
 * `../shared/upstream`, when it is there: descriptions are prose, which tests/upstream-facts does not carry).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { sharedUpstreamDir } from "./upstreamFacts";
import type { ContainerPort, ServicePort } from "./servingRuntimes";

export interface ServiceMonitorEndpoint {
    port?: string;
    targetPort?: number | string;
}

export interface ServiceMonitorLike {
    metadata: { namespace: string };
    spec: { selector: { matchLabels: Record<string, string> }; namespaceSelector?: { matchNames?: string[] }; endpoints: ServiceMonitorEndpoint[] };
}

/** A Service with the pods behind it (the ports each pod's containers declare). */
export interface ServiceWithPods {
    namespace: string;
    labels: Record<string, string>;
    ports: ServicePort[];
    podPorts: ContainerPort[];
}

/** The container port a Service port sends to on a pod: by number, or by the declared port's name; undefined when none. */
function endpointPort(servicePort: ServicePort, podPorts: readonly ContainerPort[]): number | undefined {
    if (typeof servicePort.targetPort === "number") return servicePort.targetPort;
    return podPorts.find((p) => p.name === servicePort.targetPort)?.containerPort;
}

/** The pod ports (numbers) `endpoint` of `monitor` scrapes across `services`; empty when Prometheus would scrape nothing. */
export function scrapedPorts(monitor: ServiceMonitorLike, endpoint: ServiceMonitorEndpoint, services: readonly ServiceWithPods[]): number[] {
    const namespaces = monitor.spec.namespaceSelector?.matchNames ?? [monitor.metadata.namespace];
    const selected = services.filter(
        (s) => namespaces.includes(s.namespace) && Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => s.labels[k] === v),
    );
    const ports: number[] = [];
    for (const service of selected) {
        for (const servicePort of service.ports) {
            const target = endpointPort(servicePort, service.podPorts);
            if (target === undefined) continue;
            const declared = service.podPorts.find((p) => p.containerPort === target);
            let kept: boolean;
            if (endpoint.port !== undefined && endpoint.port !== "") kept = servicePort.name === endpoint.port;
            else if (typeof endpoint.targetPort === "string") kept = declared?.name === endpoint.targetPort;
            else if (typeof endpoint.targetPort === "number") kept = declared?.containerPort === endpoint.targetPort;
            else kept = true;
            if (kept) ports.push(target);
        }
    }
    return ports;
}

/**
 * The description of `spec.endpoints[].<field>` in the upstream ServiceMonitor CRD (prometheus-operator v0.93.0), or
 * `undefined` without `../shared/upstream` beside the repository.
 */
export function ruleText(field: "port" | "targetPort"): string | undefined {
    const upstreamDir = sharedUpstreamDir();
    if (!upstreamDir) return undefined;
    const crd = YAML.parse(fs.readFileSync(path.join(upstreamDir, "crds", "prometheus-operator-servicemonitors.yaml"), "utf8"));
    const schema = crd.spec.versions[0].schema.openAPIV3Schema;
    return String(schema.properties.spec.properties.endpoints.items.properties[field].description);
}
