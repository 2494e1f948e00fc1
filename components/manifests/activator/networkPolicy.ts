/**
 * Who may reach the activator pods, as plain data: one NetworkPolicy (ingress only) for the StatefulSet's pods.
 *
 * - proxy port: from anywhere. Clients arrive through the NLB, which keeps their addresses; the proxy Service's
 *   `loadBalancerSourceRanges` (`allowedCidrs`) and the API keys stay the client filter.
 * - scaler port (plaintext gRPC, no auth): only the KEDA operator, so no other pod can fake demand and keep GPUs up.
 * - admin port (`/queue`, `/metrics`, peer demand): only the other activator replicas, Prometheus and the batch runner.
 *
 * Kubelet probes need no rule: the VPC CNI network policy agent always admits traffic from the pod's own node
 * (aws/aws-network-policy-agent, pkg/fwruleprocessor `FirewallRuleProcessor.ComputeMapEntriesFromEndpointRules`
 * adds the node IP as allow-all to every policy map; since PR #65 "Ignore policy restrictions against Node IP").
 */
import { peer } from "../model/traffic";
import { kedaOperatorPodLabels, prometheusPodLabels } from "../../domain/clusterFacts";
import { activatorName, activatorPodLabels, activatorPorts } from "./names";
import { batchRunnerLabels } from "../batch/runner";

export interface ActivatorNetworkPolicyOptions {
    /** Namespace of the activator. */
    namespace: string;
    /** Namespace KEDA is installed in (platform.namespaces.keda). */
    kedaNamespace: string;
    /** Namespace of Prometheus (platform.namespaces.monitoring). */
    monitoringNamespace: string;
}

const tcp = (port: number) => [{ protocol: "TCP", port }];

export function activatorNetworkPolicyManifest(options: ActivatorNetworkPolicyOptions) {
    return {
        metadata: { name: activatorName, namespace: options.namespace, labels: activatorPodLabels },
        spec: {
            podSelector: { matchLabels: activatorPodLabels },
            policyTypes: ["Ingress"],
            ingress: [
                // No `from`: every source.
                { ports: tcp(activatorPorts.proxy) },
                { from: [peer(options.kedaNamespace, kedaOperatorPodLabels)], ports: tcp(activatorPorts.scaler) },
                {
                    // The batch runner reads `/queue` (engine gauges) to yield to interactive traffic (docs/batch-api.md).
                    from: [peer(options.namespace, activatorPodLabels), peer(options.monitoringNamespace, prometheusPodLabels), peer(options.namespace, batchRunnerLabels)],
                    ports: tcp(activatorPorts.admin),
                },
            ],
        },
    };
}
