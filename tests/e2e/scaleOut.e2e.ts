/**
 * Scale-out 1 → 2 → 3 on a real control plane (tests/e2e/README.md, "Scale-out"): KEDA's metrics API server behind
 * kube-apiserver's aggregation layer and kube-controller-manager's HPA controller scale a model past one replica from
 * the activator's demand (held + in flight), under the stack's own `advanced.horizontalPodAutoscalerConfig`.
 *
 * Each step measures: demand crossing `targetConcurrency` × replicas (the request sent) → `spec.replicas` set on the
 * Deployment (the HPA: it reads the metric once per sync period, so this part is up to one period plus the metric's
 * path adapter → KEDA operator → activator) → the new pod Ready (ReplicaSet controller + the simulated model load) →
 * its endpoint ready in the EndpointSlice (EndpointSlice controller) → the first request at the new pod (ours: the
 * activator sees the endpoint and hands it a held request).
 */
import * as assert from "node:assert/strict";
import { call, type Answer } from "./client";
import { Cluster } from "./cluster";
import { Kube } from "./kube";
import { activatorConfig, devModels } from "./plan";

/** HPA controller sync period for this run, s (`--horizontal-pod-autoscaler-sync-period`; upstream default 15). */
const HPA_SYNC_SECONDS = 2;
/** Simulated pod start (model load), ms. */
const POD_START_MS = Number(process.env.E2E_POD_START_MS ?? 300);
/** Per replica: the HPA's target (`targetConcurrency`) and the activator's cap on in-flight requests (`maxConcurrencyPerReplica`). */
const TARGET = 2;
/** How long the fake model holds each request (in flight) before answering, ms: longer than the whole scale-out. */
const HOLD_MS = 45_000;
/** Bound on demand crossing the target → replicas set: one HPA sync period plus this for the metric's path and the update. */
const HPA_SLACK_MS = 3000;
/** Bound on replicas set → the new replica's first request: the simulated pod start plus this (controllers, EndpointSlice, activator). */
const SERVING_SLACK_MS = 3000;
/** Bound on our own share: the new endpoint ready in the EndpointSlice → the first held request at the new pod. */
const OURS_BOUND_MS = 1000;
/** Bound on the last answer → replicas 0, beyond cooldown + polling: KEDA's loop and the update on a loaded machine (8.9 s in all at load 16). */
const SCALE_IN_SLACK_MS = 10_000;

const NAME = "scaleout";

describe("scale-out 1 → 2 → 3 on a real control plane (HPA controller, KEDA metrics API server)", function () {
    this.timeout(10 * 60_000);
    const sklearn = devModels().find((m) => m.format === "sklearn");
    const model = { ...sklearn, name: NAME, minReplicas: 0, maxReplicas: 3, targetConcurrency: TARGET, maxConcurrencyPerReplica: TARGET, cooldownSeconds: 5, pollingSeconds: 1, coldStartTimeoutSeconds: 60 };
    const cluster = new Cluster({
        planSettings: { models: [model], apiEndpoint: { access: "public", publicAccessCidrs: ["1.2.3.4/32"] } },
        models: { [NAME]: { kind: "v2", modelNames: [NAME], startDelayMs: POD_START_MS } },
        hpaSyncPeriodSeconds: HPA_SYNC_SECONDS,
    });
    let kube: Kube;
    let so: any;
    /** The scale-out's answers: when the last one arrived, the model's demand fell to zero. */
    let answered: Answer[] = [];

    before(async function () {
        try {
            await cluster.start();
        } catch (e) {
            for (const name of ["kube-apiserver", "keda-operator", "keda-adapter", "kube-controller-manager"]) console.error(`--- ${name}\n${cluster.processes.tail(name, 15)}`);
            throw e;
        }
        kube = cluster.kube;
        so = cluster.plan.all.find((o) => o.kind === "ScaledObject" && o.metadata.name === NAME);
        console.log(`    control plane up: ${JSON.stringify(cluster.timings)} (run dir ${cluster.runDir})`);
    });

    after(async () => {
        if (process.env.E2E_DEBUG) for (const name of ["keda-adapter", "kube-controller-manager"]) console.error(`--- ${name}\n${cluster.processes.tail(name, 30)}`);
        await cluster.stop();
    });

    const ns = () => so.metadata.namespace;
    const deployment = () => kube.get(`/apis/apps/v1/namespaces/${ns()}/deployments/${so.spec.scaleTargetRef.name}`);
    const hpaPath = () => `/apis/autoscaling/v2/namespaces/${ns()}/horizontalpodautoscalers/keda-hpa-${NAME}`;

    it("KEDA's HPA carries the plan's horizontalPodAutoscalerConfig and reads the activator's metric through the aggregation layer", async () => {
        const hpa = await Kube.until(`HPA keda-hpa-${NAME}`, 60_000, () => kube.find(hpaPath()));
        const planned = so.spec.advanced.horizontalPodAutoscalerConfig.behavior;
        assert.deepEqual(hpa.spec.behavior.scaleUp, planned.scaleUp);
        assert.deepEqual(hpa.spec.behavior.scaleDown, planned.scaleDown);
        assert.equal(hpa.spec.maxReplicas, 3);
        const metric = hpa.spec.metrics[0].external;
        assert.equal(metric.target.type, "AverageValue");
        assert.equal(Number(metric.target.averageValue), TARGET);
        // What the HPA controller asks: the external metric, through kube-apiserver → keda-adapter → operator → activator.
        const values = await Kube.until("the external metric served", 30_000, async () => {
            const selector = encodeURIComponent(`scaledobject.keda.sh/name=${NAME}`);
            const r = await kube.request("GET", `/apis/external.metrics.k8s.io/v1beta1/namespaces/${ns()}/${metric.metric.name}?labelSelector=${selector}`).catch(() => undefined);
            return r?.items;
        }, 500);
        assert.equal(Number(values[0].value), 0, "no demand yet");
    });

    it(`scales 1 → 2 → 3 as held requests cross targetConcurrency (${TARGET}) per replica; each new replica takes held requests`, async () => {
        const url = `http://${cluster.activators[0].ip}:${cluster.activators[0].proxyPort}${activatorConfig(cluster.plan).config.models.find((m: any) => m.name === NAME).pathPrefix}/infer`;
        const answers: Promise<Answer>[] = [];
        /** Answers that came back early (a held request must not be answered before HOLD_MS). */
        const early: string[] = [];
        const send = (n: number) => {
            for (let i = 0; i < n; i++) {
                const answer = call(url, { body: { inputs: [] }, headers: { "x-e2e-hold-ms": String(HOLD_MS) }, timeoutMs: HOLD_MS + 60_000 });
                answer.then((a) => Date.now() - a.sentAt < HOLD_MS && early.push(`${a.status} ${a.body}`), (e) => early.push(String(e)));
                answers.push(answer);
            }
            return Date.now();
        };
        const readyEndpoints = async () => {
            const slices = await kube.get(`/apis/discovery.k8s.io/v1/namespaces/${ns()}/endpointslices?labelSelector=kubernetes.io/service-name=${so.spec.scaleTargetRef.name}`);
            return slices.items.flatMap((s: any) => s.endpoints ?? []).filter((e: any) => e.conditions?.ready).map((e: any) => e.addresses[0]);
        };

        // KServe creates the Deployment with 1 replica and KEDA's first reconcile sets it to minReplicaCount (0): a
        // request sent before that lands on the pod about to be deleted (seen: 502 upstream_connection_lost).
        await Kube.until(`${NAME} at 0 replicas with no pod`, 60_000, async () => (await deployment()).spec.replicas === 0 && cluster.node.podsOf(NAME).length === 0 && (await readyEndpoints()).length === 0, 100);
        // 0 → 1: one held request wakes the model (KEDA's own activation); it is in flight at the first pod.
        send(1);
        await Kube.until("the first replica serving", 60_000, async () => {
            if (early.length) throw new Error(`a held request was answered early: ${early.join("; ")}`);
            return cluster.node.podsOf(NAME)[0]?.model.arrivals.length === 1;
        }, 50).catch(async (e) => {
            const d = await deployment().catch(() => undefined);
            throw new Error(`${e.message} (Deployment replicas ${d?.spec?.replicas}, pods ${JSON.stringify(cluster.node.podsOf(NAME).map((p) => [p.name, p.readyAt]))})`);
        });

        const steps: Record<string, number>[] = [];
        for (const [to, more] of [[2, 2], [3, 2]] as const) {
            const known = new Set(cluster.node.podsOf(NAME).map((p) => p.name));
            // Demand (held + in flight) goes from TARGET × (to - 1) - 1 to TARGET × (to - 1) + 1: above the target per replica.
            const demandAt = send(more);
            const t: Record<string, number> = {};
            await Kube.until(`${to} replicas, the new pod serving`, 60_000, async () => {
                if (early.length) throw new Error(`a held request was answered early: ${early.join("; ")}`);
                if (t.replicasSet === undefined && ((await deployment()).spec.replicas ?? 0) >= to) t.replicasSet = Date.now();
                const pod = cluster.node.podsOf(NAME).find((p) => !known.has(p.name));
                if (pod && t.podReady === undefined && pod.readyAt !== undefined) t.podReady = pod.readyAt;
                if (pod && t.endpointReady === undefined && (await readyEndpoints()).includes(pod.ip)) t.endpointReady = Date.now();
                if (pod && pod.model.arrivals.length > 0) t.serving = pod.model.arrivals[0];
                return t.serving !== undefined && t.replicasSet !== undefined;
            }, 25);
            t.endpointReady ??= t.serving;
            const step = {
                to,
                demandToReplicasMs: t.replicasSet - demandAt,
                replicasToPodReadyMs: (t.podReady ?? t.serving) - t.replicasSet,
                podReadyToEndpointMs: t.endpointReady - (t.podReady ?? t.endpointReady),
                endpointToServingMs: Math.max(0, t.serving - t.endpointReady),
                demandToServingMs: t.serving - demandAt,
            };
            steps.push(step);
            console.log(`    1 → N step ${to - 1} → ${to}: ${JSON.stringify(step)}`);
        }

        const pods = cluster.node.podsOf(NAME);
        console.log(`    held requests per pod: ${pods.map((p) => `${p.name}=${p.model.served} (max ${p.model.maxInFlight} at once)`).join(", ")}`);
        for (const s of steps) {
            assert.ok(s.demandToReplicasMs <= HPA_SYNC_SECONDS * 1000 + HPA_SLACK_MS, `step to ${s.to}: demand → replicas set ${s.demandToReplicasMs} ms (bound: sync period ${HPA_SYNC_SECONDS} s + ${HPA_SLACK_MS} ms)`);
            assert.ok(s.demandToServingMs - s.demandToReplicasMs <= POD_START_MS + SERVING_SLACK_MS, `step to ${s.to}: replicas set → serving ${s.demandToServingMs - s.demandToReplicasMs} ms`);
            assert.ok(s.endpointToServingMs <= OURS_BOUND_MS, `step to ${s.to}: endpoint ready → first request at the new pod ${s.endpointToServingMs} ms (ours)`);
        }
        // maxConcurrencyPerReplica: no replica ever had more than TARGET in flight; the extra demand waited in the activator.
        assert.equal(pods.length, 3);
        for (const p of pods) assert.ok(p.model.maxInFlight <= TARGET, `${p.name} had ${p.model.maxInFlight} in flight at once (cap ${TARGET})`);
        assert.deepEqual(pods.map((p) => p.model.served).sort(), [1, 2, 2]);
        const done = await Promise.all(answers);
        assert.deepEqual(done.map((a) => a.status), [200, 200, 200, 200, 200]);
        answered = done;
    });

    // Scale-down. With no demand the external-push trigger is inactive, and KEDA itself sets the Deployment from any
    // count straight to minReplicaCount (0) once `cooldownPeriod` has passed since the trigger was last active:
    // kedacore/keda v2.20.2 pkg/scaling/executor/scale_scaledobjects.go L98-L101 (`currentReplicas > 0 && minReplicas
    // == 0` → scaleToZeroOrIdle) and L212-L213 (LastActiveTime + cooldownPeriod). The HPA's scale-down behaviour of the
    // plan (300 s stabilization window, then 1 pod per 60 s) only paces scale-in while some demand remains.
    it("demand gone: KEDA takes 3 → 0 after cooldownSeconds, without waiting for the HPA's 300 s scale-down window", async function () {
        if (answered.length === 0) this.skip();
        const demandEndedAt = Math.max(...answered.map((a) => a.firstByteAt));
        const window = so.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds;
        const bound = (model.cooldownSeconds + model.pollingSeconds) * 1000 + SCALE_IN_SLACK_MS;
        let zeroAt = 0;
        await Kube.until("replicas 0", bound + 30_000, async () => {
            if (((await deployment()).spec.replicas ?? 0) !== 0) return false;
            zeroAt = Date.now();
            return true;
        }, 100);
        await Kube.until("every pod gone", 30_000, async () => cluster.node.podsOf(NAME).length === 0, 100);
        const goneAt = Date.now();
        console.log(`    3 → 0: last answer → replicas 0 ${zeroAt - demandEndedAt} ms, → pods gone ${goneAt - demandEndedAt} ms (cooldown ${model.cooldownSeconds} s, HPA window ${window} s)`);
        assert.ok(zeroAt - demandEndedAt <= bound, `last answer → replicas 0 took ${zeroAt - demandEndedAt} ms (bound: cooldown ${model.cooldownSeconds} s + polling ${model.pollingSeconds} s + ${SCALE_IN_SLACK_MS} ms)`);
        assert.ok(zeroAt - demandEndedAt < window * 1000, "scaled in by KEDA, not paced by the HPA's window");
    });
});
