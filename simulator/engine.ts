/**
 * The discrete-event core: requests against models that scale to zero on shared GPU pools. Deterministic for a seed.
 * All times in seconds from the first request. What it models, and from where:
 * - Activator: a request is served by a ready replica with a free slot (the least busy), else held FIFO; held
 *   requests older than the model's hold budget are answered 504 (`coldStartTimeoutSeconds`). Demand = held +
 *   in flight (activator/src/scaler/activity.ts); the first request at zero pushes `true` at once (StreamIsActive).
 * - KEDA (v2.20 external-push): at zero, activity scales to 1 after the `activation` phase; every `pollingSeconds`
 *   a check scales to 0 once demand has been 0 for `cooldownSeconds` (held requests keep a model active).
 * - HPA (kube-controller-manager defaults): every 15 s, desired = ceil(demand / targetConcurrency) (AverageValue),
 *   10 % tolerance, scale-up at most max(2×, +4) per sync, scale-down to the highest recommendation of the last 300 s,
 *   within [max(1, minReplicas), maxReplicas].
 * - Pods: least-allocated ready node with room, else a booting node with room, else a new node (provisioning +
 *   nodeReady phases) while the pool is below maxSize, else pending until GPUs free up. A pod starts with imagePull
 *   (unless the node has the image), weights, engineStart, firstByte; with `cachedPhases`, a pod on a node where the
 *   model started before uses those for weights and engineStart. Scale-down removes pending, then starting, then the
 *   least busy ready pods; a ready pod drains its in-flight requests first.
 * - Nodes: pool minSize nodes are up from the start with images and caches (steady state); an empty node above minSize
 *   is removed after `scaleDownUnneededSeconds`. Nodes are billed from launch to removal.
 */
import type { ColdStartPath, PhaseName } from "../components/domain/coldStartBudget";
import { EventQueue } from "./heap";
import { rng, triangular, type Rng } from "./rng";

export interface SimModel {
    name: string;
    gpus: number;
    pool: number;
    minReplicas: number;
    maxReplicas: number;
    cooldownSeconds: number;
    pollingSeconds: number;
    targetConcurrency: number;
    /** Requests one replica serves at once. */
    slots: number;
    /** Seconds a held request waits before a 504. */
    holdSeconds: number;
}

export interface SimPool {
    name: string;
    gpusPerNode: number;
    minSize: number;
    maxSize: number;
    scaleDownUnneededSeconds: number;
}

export interface SimInput {
    models: SimModel[];
    pools: SimPool[];
    /** Requests sorted by arrival: arrival s, model index, service s. */
    arrivals: Float64Array;
    model: Int32Array;
    service: Float64Array;
    phases: ColdStartPath;
    cachedPhases?: ColdStartPath;
    seed: number;
    /** Billing and simulation end (s). */
    horizon: number;
    /** Record replicas/nodes over time. */
    timeline?: boolean;
}

export interface ModelResult {
    waits: Float64Array;
    coldStarts: number;
    podStarts: number;
    timeouts: number;
    overSdkTimeout: number;
    gpuSeconds: number;
    /** Seconds from a pod's creation to ready, per pod start. */
    startSeconds: number[];
    /** Times the model reached 0 replicas. */
    zeroAt: number[];
}

export interface SimResult {
    models: ModelResult[];
    nodeSeconds: number[];
    timeline?: { t: number[]; replicas: number[]; nodes: number[] };
}

const enum Ev { Activate, Done, PodReady, NodeLaunched, NodeReady, NodeCheck, Keda, Hpa, Timeout }
const enum Pod { Pending, Starting, Ready, Draining, Gone }
const enum Node { Requested, Booting, Ready, Gone }
/** The official OpenAI SDKs' default request timeout (openai-python and openai-node: 10 minutes). */
const SDK_TIMEOUT_SECONDS = 600;

interface PodS { model: number; state: Pod; node: number; busy: number; created: number; bound: number }
interface NodeS { pool: number; state: Node; free: number; launched: number; pods: number; emptySince: number; images: Set<number>; caches: Set<number>; waiting: number[] }

export function simulate(input: SimInput): SimResult {
    const { models, pools, arrivals, service, horizon } = input;
    const n = arrivals.length;
    const r: Rng = rng(input.seed);
    const q = new EventQueue();
    const pods: PodS[] = [];
    const nodes: NodeS[] = [];
    const res: ModelResult[] = models.map(() => ({ waits: new Float64Array(0), coldStarts: 0, podStarts: 0, timeouts: 0, overSdkTimeout: 0, gpuSeconds: 0, startSeconds: [], zeroAt: [] }));
    const waits = new Float64Array(n).fill(-1);
    const M = models.length;
    const demand = new Int32Array(M);
    const desired = new Int32Array(M);
    const activating = new Uint8Array(M);
    const idleSince = new Float64Array(M);
    const queues: number[][] = models.map(() => []);
    const qHead = new Int32Array(M);
    const modelPods: number[][] = models.map(() => []);
    const hpaHistory: { t: number; v: number }[][] = models.map(() => []);
    const pending: number[][] = pools.map(() => []);
    const nodeSeconds = pools.map(() => 0);
    const tl = input.timeline ? { t: [] as number[], replicas: [] as number[], nodes: [] as number[] } : undefined;
    let liveReplicas = 0;
    let liveNodes = 0;
    let now = 0;
    const record = () => {
        if (!tl) return;
        if (tl.t.length && tl.t[tl.t.length - 1] === now) {
            tl.replicas[tl.replicas.length - 1] = liveReplicas;
            tl.nodes[tl.nodes.length - 1] = liveNodes;
        } else {
            tl.t.push(now);
            tl.replicas.push(liveReplicas);
            tl.nodes.push(liveNodes);
        }
    };
    const sample = (name: PhaseName, path = input.phases) => {
        const d = path[name];
        return triangular(r, d.min, d.typical, d.max);
    };

    // --- nodes
    const addNode = (pool: number, state: Node): number => {
        const id = nodes.length;
        nodes.push({ pool, state, free: pools[pool].gpusPerNode, launched: now, pods: 0, emptySince: now, images: new Set(), caches: new Set(), waiting: [] });
        if (state !== Node.Requested) liveNodes++;
        return id;
    };
    const poolNodes = (pool: number) => nodes.reduce((k, x) => k + (x.pool === pool && x.state !== Node.Gone ? 1 : 0), 0);
    const removeNode = (id: number) => {
        const x = nodes[id];
        nodeSeconds[x.pool] += Math.min(now, horizon) - x.launched;
        x.state = Node.Gone;
        liveNodes--;
        record();
    };
    const nodeEmptied = (id: number) => {
        const x = nodes[id];
        x.emptySince = now;
        q.push(now + pools[x.pool].scaleDownUnneededSeconds, Ev.NodeCheck, id);
    };

    // --- pods
    const startPod = (p: number) => {
        const pod = pods[p];
        const x = nodes[pod.node];
        const cached = input.cachedPhases && x.caches.has(pod.model) ? input.cachedPhases : input.phases;
        let d = 0;
        if (!x.images.has(pod.model)) d += sample("imagePull");
        d += sample("weights", cached) + sample("engineStart", cached) + sample("firstByte");
        q.push(now + d, Ev.PodReady, p);
    };
    const bind = (p: number, id: number) => {
        const pod = pods[p];
        const x = nodes[id];
        x.free -= models[pod.model].gpus;
        x.pods++;
        pod.node = id;
        pod.bound = now;
        pod.state = Pod.Starting;
        if (x.state === Node.Ready) startPod(p);
        else x.waiting.push(p);
    };
    const place = (p: number): boolean => {
        const pod = pods[p];
        const m = models[pod.model];
        let best = -1;
        for (let id = 0; id < nodes.length; id++) {
            const x = nodes[id];
            if (x.pool !== m.pool || x.state === Node.Gone || x.free < m.gpus) continue;
            if (best < 0 || (x.state === Node.Ready && nodes[best].state !== Node.Ready) || (x.state === nodes[best].state && x.free > nodes[best].free)) best = id;
        }
        if (best < 0 && poolNodes(m.pool) < pools[m.pool].maxSize) {
            best = addNode(m.pool, Node.Requested);
            q.push(Math.max(now, pod.created + sample("provisioning")), Ev.NodeLaunched, best);
        }
        if (best < 0) return false;
        bind(p, best);
        return true;
    };
    const releasePod = (p: number) => {
        const pod = pods[p];
        if (pod.node >= 0) {
            const x = nodes[pod.node];
            x.free += models[pod.model].gpus;
            x.pods--;
            res[pod.model].gpuSeconds += (Math.min(now, horizon) - pod.bound) * models[pod.model].gpus;
            if (x.pods === 0 && x.state === Node.Ready) nodeEmptied(pod.node);
            const pool = x.pool;
            const waiting = pending[pool];
            pending[pool] = [];
            for (const w of waiting) if (pods[w].state === Pod.Pending && !place(w)) pending[pool].push(w);
        }
        pod.state = Pod.Gone;
        liveReplicas--;
        record();
    };
    const createPod = (m: number) => {
        const p = pods.length;
        pods.push({ model: m, state: Pod.Pending, node: -1, busy: 0, created: now, bound: now });
        modelPods[m].push(p);
        liveReplicas++;
        res[m].podStarts++;
        if (!place(p)) pending[models[m].pool].push(p);
        record();
    };
    const alive = (m: number) => modelPods[m].filter((p) => pods[p].state <= Pod.Ready);
    const scaleTo = (m: number, target: number) => {
        const cur = alive(m);
        desired[m] = target;
        if (target > cur.length) for (let k = cur.length; k < target; k++) createPod(m);
        else if (target < cur.length) {
            const order = [...cur].sort((a, b) => pods[a].state - pods[b].state || pods[a].busy - pods[b].busy);
            for (const p of order.slice(0, cur.length - target)) {
                if (pods[p].state === Pod.Ready && pods[p].busy > 0) pods[p].state = Pod.Draining;
                else releasePod(p);
            }
        }
        modelPods[m] = modelPods[m].filter((p) => pods[p].state !== Pod.Gone);
        if (target === 0) res[m].zeroAt.push(now);
    };

    // --- requests
    const serve = (i: number, p: number) => {
        waits[i] = now - arrivals[i];
        pods[p].busy++;
        q.push(now + service[i], Ev.Done, p, i);
    };
    const freeSlot = (m: number): number => {
        let best = -1;
        for (const p of modelPods[m]) {
            const pod = pods[p];
            if (pod.state === Pod.Ready && pod.busy < models[m].slots && (best < 0 || pod.busy < pods[best].busy)) best = p;
        }
        return best;
    };
    const drainQueue = (m: number) => {
        const queue = queues[m];
        while (qHead[m] < queue.length) {
            const i = queue[qHead[m]];
            if (waits[i] >= 0) {
                qHead[m]++;
                continue;
            }
            const p = freeSlot(m);
            if (p < 0) break;
            qHead[m]++;
            serve(i, p);
        }
        if (qHead[m] > 4096 && qHead[m] * 2 > queue.length) {
            queues[m] = queue.slice(qHead[m]);
            qHead[m] = 0;
        }
    };
    const demandDown = (m: number) => {
        if (--demand[m] === 0) idleSince[m] = now;
    };
    const activate = (m: number) => {
        if (desired[m] === 0 && !activating[m]) {
            activating[m] = 1;
            q.push(now + sample("activation"), Ev.Activate, m);
        }
    };
    const arrive = (i: number) => {
        const m = input.model[i];
        demand[m]++;
        const p = freeSlot(m);
        if (p >= 0 && qHead[m] === queues[m].length) serve(i, p);
        else {
            queues[m].push(i);
            if (p >= 0) drainQueue(m);
            if (waits[i] < 0) q.push(now + models[m].holdSeconds, Ev.Timeout, m, i);
        }
        activate(m);
    };

    // --- start: warm nodes, minReplicas running, periodic checks with seeded phase
    for (let pool = 0; pool < pools.length; pool++) {
        for (let k = 0; k < pools[pool].minSize; k++) {
            const id = addNode(pool, Node.Ready);
            models.forEach((_, m) => {
                nodes[id].images.add(m);
                nodes[id].caches.add(m);
            });
        }
    }
    models.forEach((m, idx) => {
        for (let k = 0; k < m.minReplicas; k++) {
            createPod(idx);
            const p = modelPods[idx][modelPods[idx].length - 1];
            if (pods[p].state === Pod.Starting && nodes[pods[p].node].state === Node.Ready) pods[p].state = Pod.Ready;
        }
        desired[idx] = m.minReplicas;
        q.push(r.next() * m.pollingSeconds, Ev.Keda, idx);
        q.push(r.next() * 15, Ev.Hpa, idx);
    });
    // Pods ready at t=0 had their PodReady pushed: ignore those (state already Ready).
    record();

    const ev: [number, number, number, number] = [0, 0, 0, 0];
    let next = 0;
    for (;;) {
        const ta = next < n ? arrivals[next] : Infinity;
        const te = q.peekTime();
        if (ta === Infinity && te === Infinity) break;
        if (ta <= te) {
            now = ta;
            if (now > horizon) break;
            arrive(next++);
            continue;
        }
        q.pop(ev);
        now = ev[0];
        if (now > horizon) break;
        const [, kind, a, b] = ev;
        switch (kind as Ev) {
            case Ev.Activate:
                activating[a] = 0;
                if (desired[a] === 0 && demand[a] > 0) {
                    res[a].coldStarts++;
                    scaleTo(a, Math.max(1, models[a].minReplicas));
                }
                break;
            case Ev.Done: {
                const pod = pods[a];
                pod.busy--;
                const m = pod.model;
                if (now - arrivals[b] > SDK_TIMEOUT_SECONDS) res[m].overSdkTimeout++;
                demandDown(m);
                if (pod.state === Pod.Draining && pod.busy === 0) {
                    releasePod(a);
                    modelPods[m] = modelPods[m].filter((p) => pods[p].state !== Pod.Gone);
                }
                drainQueue(m);
                break;
            }
            case Ev.Timeout:
                if (waits[b] < 0) {
                    waits[b] = now - arrivals[b];
                    res[a].timeouts++;
                    res[a].overSdkTimeout += waits[b] > SDK_TIMEOUT_SECONDS ? 1 : 0;
                    demandDown(a);
                }
                break;
            case Ev.PodReady: {
                const pod = pods[a];
                if (pod.state !== Pod.Starting) break;
                pod.state = Pod.Ready;
                const x = nodes[pod.node];
                x.images.add(pod.model);
                x.caches.add(pod.model);
                res[pod.model].startSeconds.push(now - pod.created);
                drainQueue(pod.model);
                break;
            }
            case Ev.NodeLaunched: {
                const x = nodes[a];
                if (x.state !== Node.Requested) break;
                x.state = Node.Booting;
                x.launched = now;
                liveNodes++;
                record();
                q.push(now + sample("nodeReady"), Ev.NodeReady, a);
                break;
            }
            case Ev.NodeReady: {
                const x = nodes[a];
                x.state = Node.Ready;
                const waiting = x.waiting;
                x.waiting = [];
                for (const p of waiting) if (pods[p].state === Pod.Starting) startPod(p);
                if (x.pods === 0) nodeEmptied(a);
                break;
            }
            case Ev.NodeCheck: {
                const x = nodes[a];
                if (x.state === Node.Ready && x.pods === 0 && now - x.emptySince >= pools[x.pool].scaleDownUnneededSeconds - 1e-9 && poolNodes(x.pool) > pools[x.pool].minSize) removeNode(a);
                break;
            }
            case Ev.Keda: {
                const m = models[a];
                if (demand[a] > 0) activate(a);
                else if (desired[a] > 0 && m.minReplicas === 0 && now - idleSince[a] >= m.cooldownSeconds) scaleTo(a, 0);
                q.push(now + m.pollingSeconds, Ev.Keda, a);
                break;
            }
            case Ev.Hpa: {
                hpa(a);
                q.push(now + 15, Ev.Hpa, a);
                break;
            }
        }
    }

    function hpa(m: number) {
        const cur = alive(m).length;
        const h = hpaHistory[m];
        if (desired[m] === 0 || cur === 0) {
            h.length = 0;
            return;
        }
        const model = models[m];
        const ratio = demand[m] / (model.targetConcurrency * cur);
        let rec = Math.abs(ratio - 1) <= 0.1 ? cur : Math.ceil(demand[m] / model.targetConcurrency);
        rec = Math.min(model.maxReplicas, Math.max(Math.max(1, model.minReplicas), rec));
        h.push({ t: now, v: rec });
        while (h.length && h[0].t < now - 300) h.shift();
        let target = rec;
        if (rec < cur) target = Math.min(cur, Math.max(...h.map((e) => e.v)));
        else target = Math.min(rec, Math.max(2 * cur, cur + 4));
        if (target !== cur) scaleTo(m, target);
    }

    // Close the books at the horizon.
    now = horizon;
    for (let p = 0; p < pods.length; p++) if (pods[p].state !== Pod.Gone && pods[p].node >= 0) res[pods[p].model].gpuSeconds += (horizon - pods[p].bound) * models[pods[p].model].gpus;
    for (const x of nodes) if (x.state === Node.Booting || x.state === Node.Ready) nodeSeconds[x.pool] += horizon - x.launched;
    // Requests still unanswered at the horizon count as waiting until then.
    for (let i = 0; i < n; i++) if (waits[i] < 0) waits[i] = horizon - arrivals[i];
    for (let m = 0; m < M; m++) {
        let k = 0;
        for (let i = 0; i < n; i++) if (input.model[i] === m) k++;
        const w = new Float64Array(k);
        k = 0;
        for (let i = 0; i < n; i++) if (input.model[i] === m) w[k++] = waits[i];
        res[m].waits = w;
    }
    if (tl) {
        tl.t.push(horizon);
        tl.replicas.push(liveReplicas);
        tl.nodes.push(liveNodes);
    }
    return { models: res, nodeSeconds, timeline: tl };
}
