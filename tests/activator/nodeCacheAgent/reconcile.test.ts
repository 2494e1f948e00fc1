/**
 * The node-cache agent's reconcile (activator/src/nodeCacheAgent/reconcile.ts) as a table: GPU nodes + cache PVs →
 * the creates and claimRef clears an operator would expect, and none twice.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { agentConfigFrom } from "../../../activator/src/nodeCacheAgent/config";
import { prepareCacheDirectory } from "../../../activator/src/nodeCacheAgent/prepare";
import {
    cacheVolumeName,
    reconcile,
    type NodeCacheAction,
    type NodeCacheAgentConfig,
    type NodeView,
    type PersistentVolumeView,
} from "../../../activator/src/nodeCacheAgent/reconcile";

const config: NodeCacheAgentConfig = {
    storageClassName: "gpu-serverless-node-cache",
    hostPath: "/mnt/k8s-disks/0/gpu-serverless-cache",
    capacity: "1Ti",
    defaultSlots: 2,
    nodeLabelSelector: "gpu-serverless.io/accelerator=nvidia-a100",
    label: { key: "gpu-serverless/node-cache", value: "true" },
};

const node = (name: string, gpus?: string): NodeView => ({ metadata: { name }, status: gpus === undefined ? {} : { capacity: { "nvidia.com/gpu": gpus } } });
const pv = (name: string, phase: string, extra: { claimRef?: unknown; storageClassName?: string; labelled?: boolean; rv?: string } = {}): PersistentVolumeView => ({
    metadata: { name, resourceVersion: extra.rv ?? "7", labels: extra.labelled === false ? {} : { "gpu-serverless/node-cache": "true" } },
    spec: { storageClassName: extra.storageClassName ?? "gpu-serverless-node-cache", ...(extra.claimRef === undefined ? {} : { claimRef: extra.claimRef }) },
    status: { phase },
});
const claim = { kind: "PersistentVolumeClaim", namespace: "models", name: "qwen-predictor-abc-node-cache", uid: "u1" };

/** An action as a line: `create node-cache-a-0 on a`, `recycle node-cache-a-0 @7`. */
const line = (a: NodeCacheAction) =>
    a.kind === "create" ? `create ${a.volume.metadata.name} on ${a.volume.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}` : `recycle ${a.name} @${a.resourceVersion}`;

describe("node-cache agent: reconcile", () => {
    const table: { case: string; nodes: NodeView[]; volumes: PersistentVolumeView[]; expect: string[] }[] = [
        { case: "no GPU node, no volume: nothing", nodes: [], volumes: [], expect: [] },
        { case: "a node joins before its device plugin reports GPUs: defaultSlots volumes", nodes: [node("ip-a")], volumes: [], expect: ["create node-cache-ip-a-0 on ip-a", "create node-cache-ip-a-1 on ip-a"] },
        {
            case: "a node reporting 3 GPUs with 2 volumes gets the third",
            nodes: [node("ip-a", "3")],
            volumes: [pv("node-cache-ip-a-0", "Bound", { claimRef: claim }), pv("node-cache-ip-a-1", "Available")],
            expect: ["create node-cache-ip-a-2 on ip-a"],
        },
        {
            case: "fewer GPUs than volumes: none is deleted",
            nodes: [node("ip-a", "1")],
            volumes: [pv("node-cache-ip-a-0", "Available"), pv("node-cache-ip-a-1", "Available")],
            expect: [],
        },
        { case: "an unparsable GPU capacity counts as not reported", nodes: [node("ip-b", "eight")], volumes: [], expect: ["create node-cache-ip-b-0 on ip-b", "create node-cache-ip-b-1 on ip-b"] },
        {
            case: "a Released cache volume is made Available, conditional on its resourceVersion",
            nodes: [node("ip-a", "1")],
            volumes: [pv("node-cache-ip-a-0", "Released", { claimRef: claim, rv: "42" })],
            expect: ["recycle node-cache-ip-a-0 @42"],
        },
        {
            case: "a Released volume of a node that is gone is recycled too (it binds nothing elsewhere)",
            nodes: [],
            volumes: [pv("node-cache-ip-gone-0", "Released", { claimRef: claim })],
            expect: ["recycle node-cache-ip-gone-0 @7"],
        },
        {
            case: "Bound, Available, Failed and other classes' or unlabelled Released volumes are left alone",
            nodes: [],
            volumes: [
                pv("node-cache-x-0", "Bound", { claimRef: claim }),
                pv("node-cache-x-1", "Available"),
                pv("node-cache-x-2", "Failed", { claimRef: claim }),
                pv("gp3-data", "Released", { claimRef: claim, storageClassName: "gp3" }),
                pv("someone-elses", "Released", { claimRef: claim, labelled: false }),
            ],
            expect: [],
        },
        {
            case: "two nodes, one Released: creates in node order, then the recycle",
            nodes: [node("ip-b", "1"), node("ip-a", "1")],
            volumes: [pv("node-cache-ip-c-0", "Released", { claimRef: claim })],
            expect: ["create node-cache-ip-a-0 on ip-a", "create node-cache-ip-b-0 on ip-b", "recycle node-cache-ip-c-0 @7"],
        },
    ];
    for (const row of table) {
        it(row.case, () => assert.deepEqual(reconcile(row.nodes, row.volumes, config).map(line), row.expect));
    }

    it("is idempotent: once its creates exist, the same nodes give no action", () => {
        const nodes = [node("ip-a", "4"), node("ip-b")];
        const first = reconcile(nodes, [], config);
        const made = first.flatMap((a) => (a.kind === "create" ? [{ ...a.volume, status: { phase: "Available" } } as PersistentVolumeView] : []));
        assert.equal(made.length, 6);
        assert.deepEqual(reconcile(nodes, made, config), []);
    });

    it("creates local Retain volumes of the cache class, pinned to the node by hostname", () => {
        const [create] = reconcile([node("ip-10-0-1-2.ec2.internal", "1")], [], config);
        assert.equal(create.kind, "create");
        if (create.kind !== "create") return;
        assert.deepEqual(create.volume.spec, {
            capacity: { storage: "1Ti" },
            accessModes: ["ReadWriteOnce"],
            persistentVolumeReclaimPolicy: "Retain",
            storageClassName: "gpu-serverless-node-cache",
            volumeMode: "Filesystem",
            local: { path: "/mnt/k8s-disks/0/gpu-serverless-cache" },
            nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["ip-10-0-1-2.ec2.internal"] }] }] } },
        });
        assert.deepEqual(create.volume.metadata.labels, { "gpu-serverless/node-cache": "true" });
    });

    it("names volumes within the 253-character limit, distinct for long node names", () => {
        const long = (c: string) => `${c.repeat(240)}.example`;
        const [a, b] = [cacheVolumeName(long("a"), 7), cacheVolumeName(long("a") + "x", 7)];
        assert.ok(a.length <= 253 && b.length <= 253, `${a.length} ${b.length}`);
        assert.notEqual(a, b);
        assert.match(a, /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "a DNS subdomain");
        assert.equal(cacheVolumeName("ip-a", 3), "node-cache-ip-a-3");
    });
});

describe("node-cache agent: config and prepare", () => {
    it("reads its JSON config and names each bad field", () => {
        assert.deepEqual(agentConfigFrom({ NODE_CACHE_AGENT_CONFIG: JSON.stringify(config) }), config);
        assert.throws(() => agentConfigFrom({}), { message: "NODE_CACHE_AGENT_CONFIG is not set: it holds the agent's JSON config" });
        assert.throws(() => agentConfigFrom({ NODE_CACHE_AGENT_CONFIG: "{" }), /^Error: NODE_CACHE_AGENT_CONFIG is not JSON: /);
        assert.throws(
            () => agentConfigFrom({ NODE_CACHE_AGENT_CONFIG: JSON.stringify({ ...config, hostPath: "relative", capacity: "lots" }) }),
            { message: "NODE_CACHE_AGENT_CONFIG: hostPath: must be an absolute path on the node; capacity: must be a Kubernetes quantity such as 1Ti" },
        );
    });

    it("prepare makes the directory group-writable for the model user and keeps what is in it", () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "node-cache-"));
        const uid = process.getuid!() === 0 ? 1000 : process.getuid!();
        const gid = process.getuid!() === 0 ? 1000 : process.getgid!();
        const env = { NODE_CACHE_ROOT: root, NODE_CACHE_DIRECTORY: "gpu-serverless-cache", NODE_CACHE_UID: String(uid), NODE_CACHE_GID: String(gid) };
        const logs: string[] = [];
        const logger = { info: (_: object, msg: string) => logs.push(msg) } as never;
        const dir = prepareCacheDirectory(env, logger);
        const stat = fs.statSync(dir);
        assert.deepEqual([stat.uid, stat.gid, (stat.mode & 0o7777).toString(8)], [uid, gid, "2775"]);
        fs.writeFileSync(path.join(dir, "weights"), "x");
        prepareCacheDirectory(env, logger);
        assert.equal(fs.readFileSync(path.join(dir, "weights"), "utf8"), "x");
        assert.deepEqual(logs, ["node cache directory created", "node cache directory kept"]);
        assert.throws(() => prepareCacheDirectory({ ...env, NODE_CACHE_DIRECTORY: "../etc" }, logger), { message: 'NODE_CACHE_DIRECTORY must be one directory name, not "../etc"' });
        assert.throws(() => prepareCacheDirectory({ ...env, NODE_CACHE_ROOT: path.join(root, "missing") }, logger), /ENOENT/);
        fs.rmSync(root, { recursive: true, force: true });
    });
});
