/**
 * `prepare`: makes the node-cache directory on the node (a local PersistentVolume's path must exist: the kubelet's
 * `local` volume plugin refuses to mount a missing one, and retries). Runs in the node-cache DaemonSet's pod, which
 * mounts the RAID0 instance-store mount (`/mnt/k8s-disks/0`, hostPath type `Directory`: on a node without it the pod
 * does not start and its event says why) at `NODE_CACHE_ROOT`.
 *
 * Env: NODE_CACHE_ROOT (the mount in the container), NODE_CACHE_DIRECTORY (name of the cache directory under it),
 * NODE_CACHE_UID / NODE_CACHE_GID (owner given to it: the model server's user, 1000 in KServe's Hugging Face image).
 * Mode 2775: the group (the model pods' `fsGroup`) may write, new entries keep the group. Idempotent; an existing
 * directory keeps its contents (the cache).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Logger } from "pino";

export function prepareCacheDirectory(env: Record<string, string | undefined>, logger: Pick<Logger, "info">): string {
    const root = env.NODE_CACHE_ROOT;
    const name = env.NODE_CACHE_DIRECTORY;
    const uid = Number(env.NODE_CACHE_UID);
    const gid = Number(env.NODE_CACHE_GID);
    if (!root || !path.isAbsolute(root)) throw new Error(`NODE_CACHE_ROOT must be an absolute path, not ${JSON.stringify(root ?? "")}`);
    if (!name || name.includes("/") || name === "." || name === "..") throw new Error(`NODE_CACHE_DIRECTORY must be one directory name, not ${JSON.stringify(name ?? "")}`);
    if (!Number.isInteger(uid) || uid < 0 || !Number.isInteger(gid) || gid < 0) throw new Error(`NODE_CACHE_UID and NODE_CACHE_GID must be whole numbers ≥ 0, not ${JSON.stringify(env.NODE_CACHE_UID)} / ${JSON.stringify(env.NODE_CACHE_GID)}`);
    if (!fs.statSync(root).isDirectory()) throw new Error(`${root} is not a directory`);
    const dir = path.join(root, name);
    const existed = fs.existsSync(dir);
    if (!existed) fs.mkdirSync(dir, { mode: 0o2775 });
    fs.chownSync(dir, uid, gid);
    fs.chmodSync(dir, 0o2775);
    logger.info({ dir, uid, gid, existed }, existed ? "node cache directory kept" : "node cache directory created");
    return dir;
}
