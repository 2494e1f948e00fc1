/**
 * The node-cache agent (design: components/manifests/model/nodeCache.ts), two commands from the activator's image:
 *
 *   node activator/dist/nodeCacheAgent/main.js agent     # Deployment: creates and recycles the cache PVs
 *   node activator/dist/nodeCacheAgent/main.js prepare   # DaemonSet on the GPU nodes: makes the cache directory
 *
 * `agent` watches the GPU Nodes (`nodeLabelSelector`) and the cache PersistentVolumes (its label) and applies
 * {@link reconcile}'s actions after every change and every `RESYNC_MS`: PV creates (409 AlreadyExists is success)
 * and claimRef clears (merge patch conditional on the PV's resourceVersion; a 409 Conflict waits for the next
 * event). Its ServiceAccount may get/list/watch Nodes and get/list/watch/create/update/patch PersistentVolumes,
 * nothing else. Config: JSON in NODE_CACHE_AGENT_CONFIG (./config.ts); kubeconfig: in-cluster, or KUBECONFIG.
 * `prepare`: see ./prepare.ts.
 */
import pino, { type Logger } from "pino";
import { environmentKubeConfig } from "../kube/config";
import { keepInformer } from "../kube/informer";
import { agentConfigFrom } from "./config";
import { prepareCacheDirectory } from "./prepare";
import { serialRun } from "../base/serialRun";
import { reconcile, type NodeCacheAction, type NodeCacheAgentConfig, type NodeView, type PersistentVolumeView } from "./reconcile";

/** A full pass even without events, in case an action failed for a reason no event reports. */
const RESYNC_MS = 60_000;

function statusOf(err: unknown): number | undefined {
    const e = err as { code?: unknown; statusCode?: unknown } | null;
    return typeof e?.code === "number" ? e.code : typeof e?.statusCode === "number" ? e.statusCode : undefined;
}

/** Runs the agent until SIGTERM/SIGINT. */
export async function runAgent(config: NodeCacheAgentConfig, logger: Logger): Promise<() => void> {
    const k8s = await import("@kubernetes/client-node");
    const kc = environmentKubeConfig();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const mergePatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);
    const volumeSelector = `${config.label.key}=${config.label.value}`;
    const synced = { nodes: false, volumes: false };

    const apply = async (action: NodeCacheAction): Promise<void> => {
        try {
            if (action.kind === "create") {
                await core.createPersistentVolume({ body: action.volume as never });
                logger.info({ volume: action.volume.metadata.name, node: action.volume.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0] }, "created cache volume");
            } else {
                const body = { metadata: { resourceVersion: action.resourceVersion }, spec: { claimRef: null } };
                await core.patchPersistentVolume({ name: action.name, body }, mergePatch);
                logger.info({ volume: action.name }, "released cache volume made available again (claimRef cleared; data kept)");
            }
        } catch (err) {
            const status = statusOf(err);
            if (action.kind === "create" && status === 409) return; // made by an earlier pass the cache had not seen yet
            if (action.kind === "recycle" && status === 409) return; // changed since we saw it: the next event brings it back
            logger.warn({ action: action.kind, volume: action.kind === "create" ? action.volume.metadata.name : action.name, status, err: String(err) }, "cache volume action failed; retried on the next change or resync");
        }
    };

    const reconcileSerially = serialRun(async () => {
        for (const action of reconcile(nodes.list() as NodeView[], volumes.list() as PersistentVolumeView[], config)) await apply(action);
    });
    const pass = async (): Promise<void> => {
        if (!synced.nodes || !synced.volumes) return;
        await reconcileSerially();
    };

    const nodes = keepInformer(
        kc,
        { path: "/api/v1/nodes", list: () => core.listNode({ labelSelector: config.nodeLabelSelector }), labelSelector: config.nodeLabelSelector, what: "nodes" },
        () => {
            synced.nodes = true;
            void pass();
        },
        logger,
    );
    const volumes = keepInformer(
        kc,
        { path: "/api/v1/persistentvolumes", list: () => core.listPersistentVolume({ labelSelector: volumeSelector }), labelSelector: volumeSelector, what: "persistentvolumes" },
        () => {
            synced.volumes = true;
            void pass();
        },
        logger,
    );
    const resync = setInterval(() => void pass(), RESYNC_MS);
    logger.info({ nodeLabelSelector: config.nodeLabelSelector, storageClassName: config.storageClassName, hostPath: config.hostPath }, "node-cache agent started");
    return () => {
        clearInterval(resync);
        nodes.close();
        volumes.close();
    };
}

async function main(): Promise<void> {
    const logger = pino({ base: { service: "node-cache-agent" } }, pino.destination({ dest: 1, sync: true }));
    const command = process.argv[2];
    try {
        if (command === "agent") {
            const stop = await runAgent(agentConfigFrom(process.env), logger);
            for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => (stop(), process.exit(0)));
        } else if (command === "prepare") {
            prepareCacheDirectory(process.env, logger);
            // Stay up: a DaemonSet pod that exits is restarted; this one has nothing more to do.
            setInterval(() => undefined, 1 << 30);
            for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => process.exit(0));
        } else {
            throw new Error(`usage: node dist/nodeCacheAgent/main.js agent|prepare (got ${JSON.stringify(command ?? "")})`);
        }
    } catch (err) {
        logger.fatal((err as Error).message);
        process.exit(1);
    }
}

if (require.main === module) void main();
