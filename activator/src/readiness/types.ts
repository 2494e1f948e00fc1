/**
 * What a model's readiness is, to the rest of the activator: one watcher per model (never one per waiting request),
 * a synchronous `ready` for the warm path, and one shared promise that releases every held request at once.
 * Implemented by ./probe (mode "probe") and ./kubernetes (mode "kubernetes"); built by ./index (`createReadiness`).
 */
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";

export interface Readiness {
  readonly ready: boolean;            // synchronous fast path
  whenReady(): Promise<void>;         // one shared promise per backend, resolves when a ready replica is seen
  readonly lastObserved: string;      // human text of the last observation, for the 504 error
  readonly readyReplicas: number;     // ready replicas seen (probe mode sees one Service: 1 when ready), for the per-replica cap
  readonly endpoints: readonly string[]; // base URLs of the ready replicas (probe mode: the backend itself), for engine metrics
  /** True when `endpoints` are the replicas' own addresses (mode kubernetes), which requests may be sent to directly. */
  readonly direct?: boolean;
  /**
   * Mode "kubernetes": calls `listener` when the number of ready replicas changes while the model stays ready (a
   * scale-out's new replica: requests held at the per-replica cap may go now). One listener; a later call replaces it.
   */
  onReplicasChange?(listener: () => void): void;
  wake(): void;                       // demand appeared: probe fast again
  markUnready(reason: string): void;  // e.g. connection refused to a replica that went away
  close(): void;
}

export interface ReadinessTarget {
  /** "<namespace>/<name>", for logs. */
  modelKey: string;
  namespace: string;
  /** Kubernetes Service whose EndpointSlices are watched (mode "kubernetes"). */
  serviceName: string;
  /** Base URL of the model's Service (mode "probe"). */
  backend: string;
  /** Path probed on the backend (mode "probe"). */
  readinessPath: string;
}

export interface ReadinessDeps {
  logger: Logger;
  /** Mode "kubernetes" only; default: loaded from the environment (in-cluster service account or ~/.kube/config). */
  kubeConfig?: KubeConfig;
}
