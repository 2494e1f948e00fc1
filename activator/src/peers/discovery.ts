/**
 * Where the peers are. `static`: a fixed list of admin `host:port`s (local runs). `kubernetes`: every endpoint of a
 * Service's EndpointSlices, ready or not: a starting replica learns the cluster's demand before KEDA can reach it,
 * and a terminating one (EndpointSlice condition `terminating`, listed until the pod is gone) is still sent to while
 * it drains. The replicas' own pushes, not this list, decide whose demand counts (see ./sync).
 */
import type { KubeConfig, V1EndpointSlice } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { ActivatorConfig } from "../config/schema";

export type PeersConfig = NonNullable<ActivatorConfig["peers"]>;

export interface PeerDiscovery {
  close(): void;
}

/** `ip:port` of every endpoint address in the slices (IPv6 in brackets). */
export function endpointAddresses(slices: readonly V1EndpointSlice[], port: number): string[] {
  const out = new Set<string>();
  for (const slice of slices) {
    for (const endpoint of slice.endpoints ?? []) {
      for (const ip of endpoint.addresses ?? []) out.add(ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`);
    }
  }
  return [...out].sort();
}

export function discoverPeers(
  config: PeersConfig,
  setAddresses: (addresses: readonly string[]) => void,
  deps: { logger: Logger; kubeConfig: () => KubeConfig },
): PeerDiscovery {
  if (config.static) {
    setAddresses(config.static);
    return { close: () => setAddresses([]) };
  }
  const { namespace, service, port } = config.kubernetes!;
  // Loaded on first use: @kubernetes/client-node takes ~0.5 s to load, which runs without Kubernetes never need.
  const { DiscoveryV1Api } = require("@kubernetes/client-node") as typeof import("@kubernetes/client-node");
  const { keepInformer } = require("../kube/informer") as typeof import("../kube/informer");
  const kc = deps.kubeConfig();
  const api = kc.makeApiClient(DiscoveryV1Api);
  const labelSelector = `kubernetes.io/service-name=${service}`;
  let last = "";
  const informer = keepInformer<V1EndpointSlice>(
    kc,
    {
      path: `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/endpointslices`,
      list: () => api.listNamespacedEndpointSlice({ namespace, labelSelector }),
      labelSelector,
      what: `EndpointSlices of Service ${namespace}/${service} (peers)`,
    },
    (slices) => {
      const addresses = endpointAddresses(slices, port);
      const key = addresses.join(",");
      if (key === last) return;
      last = key;
      deps.logger.info({ peers: addresses }, "peer addresses");
      setAddresses(addresses);
    },
    deps.logger,
  );
  return {
    close() {
      informer.close();
      setAddresses([]);
    },
  };
}
