/**
 * The activator's names, labels, ports and mount paths in the cluster: the one leaf module the activator's manifest
 * builders (config, services, workload, networkPolicy) share. It imports nothing, so any load order sees every name
 * defined (builders that imported these from each other named every Service `undefined-proxy` when `workload.ts`
 * loaded first).
 */

/** In-cluster name of the StatefulSet and ServiceAccount; pods are `<name>-<i>`; Services and the ConfigMap derive theirs from it. */
export const activatorName = "activator";

/** Labels selecting the activator pods (NetworkPolicies of the models admit exactly these). */
export const activatorPodLabels = { "app.kubernetes.io/name": "activator", "app.kubernetes.io/part-of": "gpu-serverless" };

/** The ConfigMap holding the activator's config file (`activator-config`; other tools look it up by this name). */
export const configMapName = `${activatorName}-config`;

/** The Secret holding the digests of the API keys (only with `apiKeySecrets`). */
export const apiKeysSecretName = `${activatorName}-api-keys`;

/** The Secret holding the replicas' shared peer token (generated). */
export const peerTokenSecretName = `${activatorName}-peer-token`;

/** In-cluster names of the four Services. */
export const serviceNames = {
    proxy: `${activatorName}-proxy`,
    /** ClusterIP: KEDA's one `external-push` address; any replica answers for all (they share demand). */
    scaler: `${activatorName}-scaler`,
    /** Headless: governs the StatefulSet's pod DNS names; its EndpointSlices tell each replica where its peers are. */
    pods: `${activatorName}-pods`,
    admin: `${activatorName}-admin`,
} as const;

/** The activator's three listeners (container ports). */
export const activatorPorts = { proxy: 8080, scaler: 9090, admin: 9091 } as const;

/** Port the NLB listens on (plain HTTP; put TLS in front, or terminate it at the NLB with a certificate). */
export const proxyServicePort = 80;

/**
 * Where the ConfigMap is mounted and the file the activator reads: the path the image's default command passes to
 * `--config` (activator/Dockerfile), so the StatefulSet need not override the command. The content is JSON, which
 * YAML parsers read as it is.
 */
export const configDir = "/etc/activator";
export const configFileName = "config.yaml";

/**
 * Where the API keys Secret is mounted (a folder of its own: the kubelet swaps each volume's `..data` symlink) and the
 * file in it, the SHA-256 digests of the keys (`apiKeyDigestsFile`), that `auth.apiKeysFile` names.
 */
export const apiKeysDir = "/etc/activator-api-keys";
export const apiKeysFileName = "digests";

/** Where the peers' shared token Secret is mounted (a folder of its own) and its file: `peers.tokenFile`. */
export const peerTokenDir = "/etc/activator-peer-token";
export const peerTokenFileName = "token";
