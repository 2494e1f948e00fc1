/**
 * Several real activator processes on loopback that share their demand (static `peers`), as replicas do in a cluster.
 *
 *   const cluster = await ActivatorCluster.start(3, config);       // each started, then given the others' admin ports
 *   cluster.replicas[i]                                            // ActivatorProcess
 *   await cluster.restart(i)                                        // a replica killed earlier comes back on the same ports
 *   await cluster.stop()
 *
 * Every replica lists every admin address, its own included, as a ConfigMap shared by all pods would, and reads the
 * peers' shared token from a mounted file (`peers.tokenFile`).
 */
import { ActivatorProcess } from "./activatorProcess";
import { eventually, sendJson } from "./http";

type Config = Record<string, unknown>;

export interface ClusterQueue {
  held: number;
  inFlight: number;
  models: Record<string, { held: number; inFlight: number; ready: boolean; clusterDemand: number; failure?: Record<string, string> }>;
  cluster: {
    name: string;
    peers: Array<{ name: string; lastSeenMsAgo: number; kedaStreams: boolean }>;
    targets: Array<{ address: string; peer?: string; reachable: boolean }>;
  };
}

export const queueOf = async (act: ActivatorProcess): Promise<ClusterQueue> => (await sendJson<ClusterQueue>(`${act.adminUrl}/queue`)).json;

export class ActivatorCluster {
  private constructor(
    readonly replicas: ActivatorProcess[],
    private readonly config: Config,
    private readonly env: Record<string, string>,
  ) {}

  /** The peers' shared token every replica has mounted at `peer/token`. */
  static readonly TOKEN = "peer-token-0123456789abcdef";

  /** `env`: more environment for every replica (KUBECONFIG of a fake API server for readiness mode `kubernetes`). */
  static async start(
    count: number,
    config: Config,
    peerTimes: { heartbeatSeconds: number; ttlSeconds: number } = { heartbeatSeconds: 0.5, ttlSeconds: 1.5 },
    env: Record<string, string> = {},
  ): Promise<ActivatorCluster> {
    const files = { "peer/token": `${ActivatorCluster.TOKEN}\n` };
    const replicas = await Promise.all(Array.from({ length: count }, () => ActivatorProcess.start(config, { files, env })));
    const full = { ...config, peers: { static: replicas.map((r) => `127.0.0.1:${r.adminPort}`), ...peerTimes, tokenFile: "peer/token" } };
    const cluster = new ActivatorCluster(replicas, full, env);
    for (const r of replicas) r.writeConfig(full);
    try {
      await cluster.waitConnected();
    } catch (err) {
      await cluster.stop(); // no replica left running behind a failed start (mocha would wait for them)
      throw err;
    }
    return cluster;
  }

  /** Until every replica has heard from every other one. */
  async waitConnected(timeoutMs = 5000): Promise<void> {
    const live = this.replicas.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
    await eventually(
      async () => (await Promise.all(live.map(queueOf))).every((q) => q.cluster.peers.length >= live.length - 1),
      `${live.length} replicas to hear from each other`,
      timeoutMs,
      5,
    );
  }

  /** Starts replica i again (after it was killed) on its previous ports, with the shared config. */
  async restart(i: number): Promise<ActivatorProcess> {
    const old = this.replicas[i]!;
    const listeners = {
      proxy: { host: "127.0.0.1", port: old.proxyPort },
      scaler: { host: "127.0.0.1", port: old.scalerPort },
      admin: { host: "127.0.0.1", port: old.adminPort },
    };
    const next = await ActivatorProcess.start({ ...this.config, listeners }, { files: { "peer/token": `${ActivatorCluster.TOKEN}\n` }, env: this.env });
    this.replicas[i] = next;
    return next;
  }

  async stop(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.stop()));
  }
}
