/**
 * The Node a cold start's pod was bound to, and its Karpenter NodeClaim, read once per cold start for the timeline
 * (./timeline `node_ready`). Read only, cluster-scoped: `get` on nodes, `list` on `nodeclaims.karpenter.sh`
 * (ClusterRole in the activator's RBAC). A cluster without Karpenter answers the NodeClaim list with 404: not asked
 * again by this process; a refused or failed read gives null and the timeline goes without the node's phase.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { NodeLookup } from "./coldStartRecorder";
import type { NodeClaimLike, NodeLike } from "./timeline";

export class KubeNodeLookup implements NodeLookup {
  private apis: { core: import("@kubernetes/client-node").CoreV1Api; custom: import("@kubernetes/client-node").CustomObjectsApi } | undefined;
  private karpenter = true;

  constructor(
    private readonly kubeConfig: () => KubeConfig,
    private readonly logger: Logger,
  ) {}

  async lookup(nodeName: string): Promise<{ node: NodeLike | null; nodeClaim: NodeClaimLike | null }> {
    const { core, custom } = this.clients();
    const [node, nodeClaim] = await Promise.all([
      core.readNode({ name: nodeName }).then(
        (n) => n as NodeLike,
        (err: unknown) => this.failed(`Node ${nodeName}`, err),
      ),
      this.karpenter
        ? custom.listClusterCustomObject({ group: "karpenter.sh", version: "v1", plural: "nodeclaims" }).then(
            (list) => ((list as { items?: NodeClaimLike[] }).items ?? []).find((c) => c.status?.nodeName === nodeName) ?? null,
            (err: unknown) => {
              if (status(err) === 404) {
                this.karpenter = false;
                return null;
              }
              return this.failed("NodeClaims", err);
            },
          )
        : null,
    ]);
    return { node, nodeClaim };
  }

  private clients() {
    if (!this.apis) {
      const k8s = require("@kubernetes/client-node") as typeof import("@kubernetes/client-node");
      const kc = this.kubeConfig();
      this.apis = { core: kc.makeApiClient(k8s.CoreV1Api), custom: kc.makeApiClient(k8s.CustomObjectsApi) };
    }
    return this.apis;
  }

  private failed(what: string, err: unknown): null {
    this.logger.debug({ err: String(status(err) ?? err) }, `reading ${what} for the cold-start timeline failed`);
    return null;
  }
}

function status(err: unknown): number | undefined {
  const { code, statusCode } = (err ?? {}) as { code?: unknown; statusCode?: unknown };
  return typeof code === "number" ? code : typeof statusCode === "number" ? statusCode : undefined;
}
