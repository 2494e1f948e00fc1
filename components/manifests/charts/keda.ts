/** Helm values for the KEDA chart (`keda`). */
import { NodeSelector } from "./scheduling";

/**
 * Operator, metrics API server and admission webhooks on the system nodes (the chart's top-level `nodeSelector` applies
 * to all three); Prometheus metrics and ServiceMonitors on for the operator and the metrics server, so scaler errors
 * and HPA metric latency are visible next to the models' own metrics. With `relay`: the KEDA relay container
 * ({@link kedaRelayContainer}) beside the operator, which the ScaledObjects then name as their scaler address.
 */
export function kedaValues(systemNodeSelector: NodeSelector, awsRoleArn?: string, relay?: KedaRelaySettings) {
    const scraped = { enabled: true, serviceMonitor: { enabled: true } };
    return {
        nodeSelector: { ...systemNodeSelector },
        prometheus: { metricServer: scraped, operator: scraped },
        ...(relay
            ? {
                  operator: { extraContainers: [kedaRelayContainer(relay)] },
                  volumes: { keda: { extraVolumes: [{ name: RELAY_NO_TOKEN_VOLUME, emptyDir: {} }] } },
                  // The EKS pod identity webhook would mount the operator's IRSA token into every container: not the relay's.
                  ...(awsRoleArn !== undefined ? { podAnnotations: { keda: { "eks.amazonaws.com/skip-containers": KEDA_RELAY_CONTAINER } } } : {}),
              }
            : {}),
        // With the Batch API: the operator's IRSA role, which reads the chunk queue's length (the batch runner's
        // aws-sqs-queue trigger, components/manifests/batch/runner.ts) and nothing else.
        ...(awsRoleArn !== undefined ? { podIdentity: { aws: { irsa: { enabled: true, roleArn: awsRoleArn } } } } : {}),
    };
}

/** Port the KEDA relay listens on, on the operator pod's loopback only. */
export const kedaRelayPort = 9095;
/** The scaler address every ScaledObject names when the relay is on: the relay in KEDA's own pod. */
export const kedaRelayAddress = `127.0.0.1:${kedaRelayPort}`;
export const KEDA_RELAY_CONTAINER = "keda-relay";
const RELAY_NO_TOKEN_VOLUME = "keda-relay-no-token";

export interface KedaRelaySettings {
    /** The activator's image (it holds activator/dist/kedaRelay). */
    image: string;
    /** `host:port` of the activator's scaler Service (components/manifests/activator/services.ts `scalerAddress`). */
    upstream: string;
}

/**
 * The KEDA relay (activator/src/kedaRelay, docs/operations.md "KEDA's connection to the activator") as a container of
 * the KEDA operator's pod, through the chart's `operator.extraContainers` (kedacore/charts v2.20.2
 * keda/templates/manager/deployment.yaml appends it to the operator's containers): KEDA dials it on 127.0.0.1, and
 * it cannot vanish without KEDA. Least privilege: it needs no Kubernetes API and no AWS access, so an empty volume
 * shadows the ServiceAccount token path (the ServiceAccount admission plugin mounts the token only into containers
 * that have no mount there), no capabilities, read-only root, the image's nonroot user.
 */
export function kedaRelayContainer(relay: KedaRelaySettings) {
    if (!/^[^\s/:]+:\d+$/.test(relay.upstream)) throw new Error(`KEDA relay upstream "${relay.upstream}" is not host:port`);
    return {
        name: KEDA_RELAY_CONTAINER,
        image: relay.image,
        args: ["activator/dist/kedaRelay/main.js", "--listen", String(kedaRelayPort), "--upstream", relay.upstream],
        resources: { requests: { cpu: "10m", memory: "48Mi" }, limits: { memory: "128Mi" } },
        securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ["ALL"] },
            seccompProfile: { type: "RuntimeDefault" },
        },
        volumeMounts: [{ name: RELAY_NO_TOKEN_VOLUME, mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true }],
    };
}
