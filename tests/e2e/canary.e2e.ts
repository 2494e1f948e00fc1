/**
 * A canary rollout on a real control plane (tests/e2e/README.md, "Canary"; docs/canary.md): the dev stack's LLM with
 * a `canary` (its own InferenceService `<name>-canary`, reconciled by the real KServe controller, and its own
 * ScaledObject, run by the real KEDA operator), split by the activator processes.
 *
 * What serves a request is read from the pod that answered: the fake model server echoes its pod's
 * `serving.kserve.io/inferenceservice` label (set by KServe's controller on the Deployment it made) in
 * `x-e2e-inferenceservice`. Asserted: both versions at zero; a split of SPLIT_REQUESTS requests within
 * TOLERANCE_SIGMAS binomial standard deviations of `trafficPercent`, each version woken from zero by its own
 * ScaledObject; a sticky client (session header) always on one version, through either activator replica; a
 * crash-looping canary's requests served by the stable, visibly (`/queue`, metric, log); both back at zero; the canary
 * woken again once its pod is gone. Then what KServe v0.20.0 itself does with its canary fields (docs/canary.md).
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { call, type Answer } from "./client";
import { Cluster } from "./cluster";
import type { FakeModelOptions } from "./fakeModel";
import { Kube, KubeError } from "./kube";
import { activatorConfig, devModels, repoRoot } from "./plan";

/** Simulated pod start (model load), ms. */
const POD_START_MS = Number(process.env.E2E_POD_START_MS ?? 300);
const COOLDOWN_SECONDS = 5;
const POLLING_SECONDS = 1;
/** The canary's share, percent. */
const TRAFFIC_PERCENT = 25;
/**
 * Requests of the split, and the tolerance in binomial standard deviations: σ = √(n·p·(1−p)) = 10.6 requests at
 * n = 600, p = 0.25, so the canary's count must fall in 150 ± 42 (18-32 %). A wrong weight is far outside (10 %: 60,
 * 50 %: 300); a correct one falls outside with probability 6·10⁻⁵ (normal approximation).
 */
const SPLIT_REQUESTS = 600;
const TOLERANCE_SIGMAS = 4;
/** Requests in flight at once during the split (the first of each version wait for its cold start). */
const CONCURRENCY = 12;
/** Sticky clients (session header values) and requests per client. */
const SESSIONS = 40;
const PER_SESSION = 5;
/** Requests held for the canary when its pod crash-loops, then new requests drawn for it while it does. */
const HELD_FOR_CANARY = 3;
const DRAWN_WHILE_CRASHING = 5;
/** Bound on the crash-loop status written → the held requests answered by the stable (which wakes from zero). */
const CRASH_TO_STABLE_BOUND_MS = 5000;

describe("a canary rollout on a real control plane (KServe, KEDA, the activator's split)", function () {
    this.timeout(10 * 60_000);
    const llm = devModels().find((m) => m.format === "vllm");
    const canaryUri = "hf://Qwen/Qwen2.5-1.5B-Instruct:989aa7980e4cf806f80c7fef2b1adb7bc71aa306";
    const model = {
        ...llm,
        cooldownSeconds: COOLDOWN_SECONDS,
        pollingSeconds: POLLING_SECONDS,
        canary: { storageUri: canaryUri, trafficPercent: TRAFFIC_PERCENT, stickiness: { by: "header" }, coldPolicy: "strict" },
    };
    const served: string = llm.routing.openaiModels[0];
    const stableName: string = llm.name;
    const canaryName = `${stableName}-canary`;
    const fake = (extra: Partial<FakeModelOptions> = {}) => ({ kind: "openai" as const, modelNames: [served], startDelayMs: POD_START_MS, ...extra });
    /** What each version's pods run, read when a pod appears: the crash scenario swaps the canary's. */
    const fakeModels: Record<string, Omit<FakeModelOptions, "pod">> = { [stableName]: fake(), [canaryName]: fake() };
    const cluster = new Cluster({
        planSettings: { models: [model], apiEndpoint: { access: "public", publicAccessCidrs: ["1.2.3.4/32"] } },
        models: fakeModels,
    });
    let kube: Kube;
    let ns: string;
    const report: Record<string, unknown> = {};
    /** A session header value that the split puts on the canary, and one on the stable (from the stickiness test). */
    let canarySession: string | undefined;

    before(async function () {
        try {
            await cluster.start();
        } catch (e) {
            for (const name of ["kube-apiserver", "kserve-controller-manager", "keda-operator", "kube-controller-manager"]) console.error(`--- ${name}\n${cluster.processes.tail(name, 15)}`);
            throw e;
        }
        kube = cluster.kube;
        ns = activatorConfig(cluster.plan).config.models.find((m: any) => m.name === stableName).namespace;
        console.log(`    control plane up: ${JSON.stringify(cluster.timings)} (run dir ${cluster.runDir})`);
    });

    after(async () => {
        const out = path.join(repoRoot, "build", "e2e");
        fs.mkdirSync(out, { recursive: true });
        fs.writeFileSync(path.join(out, "canary.json"), JSON.stringify(report, null, 2));
        console.log(`    canary figures (build/e2e/canary.json): ${JSON.stringify(report)}`);
        await cluster.stop();
    });

    const scaledObject = (name: string) => cluster.plan.all.find((o) => o.kind === "ScaledObject" && o.metadata.name === name);
    const deploymentPath = (name: string) => `/apis/apps/v1/namespaces/${ns}/deployments/${scaledObject(name).spec.scaleTargetRef.name}`;
    const proxyUrl = (i: number) => `http://${cluster.activators[i % cluster.activators.length].ip}:${cluster.activators[i % cluster.activators.length].proxyPort}`;
    const chat = (i: number, headers: Record<string, string> = {}) =>
        call(`${proxyUrl(i)}/v1/chat/completions`, { body: { model: served, messages: [{ role: "user", content: "Say hello." }] }, headers });
    /** The InferenceService whose pod answered (the pod's label, as KServe set it). */
    const version = (a: Answer) => String(a.headers["x-e2e-inferenceservice"]);
    const queue = async (i: number) => {
        const a = cluster.activators[i];
        const q = await call(`http://${a.ip}:${a.adminPort}/queue`);
        assert.equal(q.status, 200, q.body);
        return JSON.parse(q.body).models as Record<string, any>;
    };
    /** Sum over the activator replicas of the stable's `/queue` canary counters. */
    const splitCounts = async () => {
        const views = await Promise.all(cluster.activators.map(async (_a, i) => (await queue(i))[`${ns}/${stableName}`].canary));
        const sum = (pick: (v: any) => number) => views.reduce((s, v) => s + pick(v), 0);
        return { stable: sum((v) => v.draws.stable), canary: sum((v) => v.draws.canary), cannotStart: sum((v) => v.fallbacks.cannot_start), canaryCold: sum((v) => v.fallbacks.canary_cold) };
    };

    const atZero = (name: string, timeoutMs: number) => cluster.atZero(scaledObject(name), timeoutMs);

    /** KEDA's events on a ScaledObject with `reason` (core/v1 view of its events.k8s.io events). */
    const kedaEvents = async (so: string, reason: string) =>
        (await kube.get(`/api/v1/namespaces/${ns}/events?fieldSelector=involvedObject.kind=ScaledObject,involvedObject.name=${so},reason=${reason}`)).items as any[];

    it("deploys the canary as its own InferenceService: KServe's Deployment answers to the stable's served name, each version has its own ScaledObject, both at 0", async () => {
        for (const name of [stableName, canaryName]) {
            const so = scaledObject(name);
            assert.ok(so, `ScaledObject ${name} in the plan`);
            assert.deepEqual(so.spec.triggers.filter((t: any) => t.type === "external-push").map((t: any) => t.metadata.model), [`${ns}/${name}`]);
            const deployment = await Kube.until(`Deployment ${so.spec.scaleTargetRef.name} from KServe`, 60_000, () => kube.find(deploymentPath(name)));
            // KServe's huggingface runtime puts --model_name=<isvc name> first; argparse keeps the last one (README).
            const args: string[] = deployment.spec.template.spec.containers[0].args ?? [];
            assert.equal(args.filter((a) => a.startsWith("--model_name=")).at(-1), `--model_name=${served}`, `${name}: ${args.join(" ")}`);
            await Kube.until(`ScaledObject ${name} Ready and not Active`, 60_000, async () => {
                const o = await kube.get(`/apis/keda.sh/v1alpha1/namespaces/${ns}/scaledobjects/${name}`);
                const cond = Object.fromEntries((o.status?.conditions ?? []).map((c: any) => [c.type, c]));
                if (cond.Ready?.status === "False") throw new Error(`ScaledObject ${name} not Ready: ${cond.Ready.reason}: ${cond.Ready.message}`);
                return cond.Ready?.status === "True" && cond.Active?.status === "False";
            });
            await atZero(name, 60_000);
        }
        const isvc = await kube.get(`/apis/serving.kserve.io/v1beta1/namespaces/${ns}/inferenceservices/${canaryName}`);
        assert.equal(isvc.spec.predictor.model.storageUri, canaryUri);
    });

    it(`splits ${SPLIT_REQUESTS} requests within ${TOLERANCE_SIGMAS}σ of trafficPercent ${TRAFFIC_PERCENT}; each version wakes from zero by its own ScaledObject`, async () => {
        const before = await splitCounts();
        const scaledUpAt: Record<string, number> = {};
        const watches = [stableName, canaryName].map((name) =>
            kube.watch(`/apis/apps/v1/namespaces/${ns}/deployments?fieldSelector=metadata.name=${scaledObject(name).spec.scaleTargetRef.name}`, (_t, d) => {
                if ((d.spec.replicas ?? 0) >= 1) scaledUpAt[name] ??= Date.now();
            }),
        );
        await new Promise((r) => setTimeout(r, 300)); // the watches open
        const startedAt = Date.now();
        const answers: Answer[] = [];
        let next = 0;
        await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
            while (next < SPLIT_REQUESTS) {
                const i = next++;
                answers.push(await chat(i));
            }
        }));
        for (const w of watches) w.stop();
        const failed = answers.filter((a) => a.status !== 200);
        assert.deepEqual(failed.map((a) => `${a.status} ${a.body}`), [], "every request answered 200");
        const byVersion = (v: string) => answers.filter((a) => version(a) === v).length;
        const canary = byVersion(canaryName);
        const stable = byVersion(stableName);
        const tally: Record<string, number> = {};
        for (const a of answers) tally[version(a)] = (tally[version(a)] ?? 0) + 1;
        assert.equal(canary + stable, SPLIT_REQUESTS, `answers by version: ${JSON.stringify(tally)}`);
        const p = TRAFFIC_PERCENT / 100;
        const sigma = Math.sqrt(SPLIT_REQUESTS * p * (1 - p));
        const expected = SPLIT_REQUESTS * p;
        report.split = { requests: SPLIT_REQUESTS, canary, stable, canaryShare: canary / SPLIT_REQUESTS, expected, sigma: Number(sigma.toFixed(2)), deviationSigmas: Number(((canary - expected) / sigma).toFixed(2)), seconds: (Date.now() - startedAt) / 1000 };
        console.log(`      split: ${JSON.stringify(report.split)}`);
        assert.ok(Math.abs(canary - expected) <= TOLERANCE_SIGMAS * sigma, `canary served ${canary} of ${SPLIT_REQUESTS}: outside ${expected} ± ${(TOLERANCE_SIGMAS * sigma).toFixed(1)}`);

        // The activators drew exactly what the pods served: strict cold policy, nothing fell back.
        const after = await splitCounts();
        assert.deepEqual({ stable: after.stable - before.stable, canary: after.canary - before.canary, cannotStart: after.cannotStart - before.cannotStart, canaryCold: after.canaryCold - before.canaryCold }, { stable, canary, cannotStart: 0, canaryCold: 0 });

        // Each version went 0 → 1 by its own ScaledObject: KEDA's activation event names that ScaledObject's target.
        for (const name of [stableName, canaryName]) {
            assert.ok(scaledUpAt[name], `${name}'s Deployment scaled up`);
            const target = scaledObject(name).spec.scaleTargetRef.name;
            const activated = await Kube.until(`KEDA's activation event on ScaledObject ${name}`, 10_000, async () => (await kedaEvents(name, "KEDAScaleTargetActivated")).find((e) => new RegExp(`Scaled \\S*Deployment ${ns}/${target} from 0 to 1`).test(e.message)));
            console.log(`      ${name}: ${activated.message} (${scaledUpAt[name] - startedAt} ms after the first request)`);
        }
        report.scaledUpMs = Object.fromEntries(Object.entries(scaledUpAt).map(([k, t]) => [k, t - startedAt]));
    });

    it(`keeps a sticky client (header x-session-id) on one version, through either activator replica`, async () => {
        const sessions = Array.from({ length: SESSIONS }, (_, i) => `e2e-session-${i}`);
        const landed = new Map<string, Set<string>>();
        await Promise.all(sessions.map(async (s, k) => {
            const seen = new Set<string>();
            for (let i = 0; i < PER_SESSION; i++) {
                const a = await chat(k + i, { "x-session-id": s });
                assert.equal(a.status, 200, a.body);
                seen.add(version(a));
            }
            landed.set(s, seen);
        }));
        const split = [...landed.entries()].filter(([, v]) => v.size !== 1);
        assert.deepEqual(split.map(([s, v]) => `${s}: ${[...v].join(", ")}`), [], "a session answered by both versions");
        const onCanary = sessions.filter((s) => landed.get(s)!.has(canaryName));
        report.sticky = { sessions: SESSIONS, perSession: PER_SESSION, onCanary: onCanary.length };
        console.log(`      ${onCanary.length} of ${SESSIONS} sessions on the canary, every session on one version over ${PER_SESSION} requests alternating replicas`);
        assert.ok(onCanary.length > 0 && onCanary.length < SESSIONS, `both versions have sessions (${onCanary.length} of ${SESSIONS} on the canary)`);
        canarySession = onCanary[0];
    });

    it("sends a crash-looping canary's requests to the stable, counted on /queue and in activator_canary_fallbacks_total, and logged", async () => {
        assert.ok(canarySession, "a session on the canary (previous test)");
        await atZero(canaryName, (COOLDOWN_SECONDS + 60) * 1000);
        await atZero(stableName, (COOLDOWN_SECONDS + 60) * 1000);
        fakeModels[canaryName] = fake({ neverReady: true }); // the canary's next pod runs, never ready, until reported crash-looping
        const replica = cluster.activators[0];
        const logOffset = fs.statSync(cluster.processes.get(replica.name)!.log).size;
        const before = (await queue(0))[`${ns}/${stableName}`].canary.fallbacks.cannot_start;
        const known = new Set(cluster.node.podsOf(canaryName).map((p) => p.name));
        const answered: string[] = [];
        const held = Array.from({ length: HELD_FOR_CANARY }, () => chat(0, { "x-session-id": canarySession! }).then((a) => (answered.push(version(a)), a)));
        const pod = await Kube.until("the canary's new pod running (not ready)", 60_000, async () => cluster.node.podsOf(canaryName).find((p) => !known.has(p.name) && p.statusAt !== undefined));
        await new Promise((r) => setTimeout(r, 500));
        assert.deepEqual(answered, [], "held for the canary while its pod starts (strict)");
        const waiting = (await queue(0))[`${ns}/${canaryName}`];
        assert.equal(waiting.held, HELD_FOR_CANARY, `/queue: ${JSON.stringify(waiting)}`);
        assert.equal(waiting.failure, undefined);

        const writtenAt = Date.now();
        await cluster.node.crashLoop(pod);
        const moved = await Promise.all(held);
        assert.deepEqual(moved.map((a) => `${a.status} ${version(a)}`), Array(HELD_FOR_CANARY).fill(`200 ${stableName}`), "the held requests are served by the stable");
        const movedMs = Math.max(...moved.map((a) => a.firstByteAt)) - writtenAt;
        const fresh: Answer[] = [];
        for (let i = 0; i < DRAWN_WHILE_CRASHING; i++) fresh.push(await chat(0, { "x-session-id": canarySession! }));
        assert.deepEqual(fresh.map((a) => `${a.status} ${version(a)}`), Array(DRAWN_WHILE_CRASHING).fill(`200 ${stableName}`), "new requests drawn for the canary are served by the stable");
        const freshMs = Math.max(...fresh.map((a) => a.firstByteAt - a.sentAt));
        report.crashLoop = { statusToStableAnswersMs: movedMs, drawnWhileCrashingMaxMs: freshMs };
        console.log(`      canary crash-looping: its ${HELD_FOR_CANARY} held requests answered by the stable ${movedMs} ms after the status write (the stable woke from zero); new draws answered in ≤ ${freshMs} ms`);
        assert.ok(movedMs <= CRASH_TO_STABLE_BOUND_MS, `${movedMs} ms (bound ${CRASH_TO_STABLE_BOUND_MS} ms)`);

        const q = await queue(0);
        assert.equal(q[`${ns}/${canaryName}`].failure?.cause, "CrashLoopBackOff", JSON.stringify(q[`${ns}/${canaryName}`]));
        assert.equal(q[`${ns}/${canaryName}`].canaryOf, `${ns}/${stableName}`);
        const view = q[`${ns}/${stableName}`].canary;
        assert.equal(view.fallbacks.cannot_start - before, DRAWN_WHILE_CRASHING, JSON.stringify(view));
        assert.equal(view.bypassed?.cause, "CrashLoopBackOff", JSON.stringify(view));
        const metrics = (await call(`http://${replica.ip}:${replica.adminPort}/metrics`)).body;
        const counted = Number(new RegExp(`^activator_canary_fallbacks_total\\{model="${ns}/${stableName}",reason="cannot_start"\\} (\\d+)$`, "m").exec(metrics)?.[1]);
        assert.equal(counted, view.fallbacks.cannot_start, "the metric counts what /queue shows");
        const log = fs.readFileSync(cluster.processes.get(replica.name)!.log, "utf8").slice(logOffset).split("\n").filter(Boolean).map((l) => {
            try {
                return JSON.parse(l);
            } catch {
                return {};
            }
        });
        assert.ok(log.some((l) => l.msg === "held requests moved to the stable" && l.model === `${ns}/${canaryName}` && l.held === HELD_FOR_CANARY), "logged: held requests moved to the stable");
        assert.ok(log.some((l) => l.msg === "canary cannot start: its requests go to the stable" && l.cause === "CrashLoopBackOff"), "logged: canary cannot start");
    });

    it("afterwards both versions go back to 0, the failure clears, and the canary is woken again for its draws", async () => {
        await atZero(canaryName, (COOLDOWN_SECONDS + 60) * 1000);
        await atZero(stableName, (COOLDOWN_SECONDS + 60) * 1000);
        await Kube.until("every replica clears the canary's failure", 15_000, async () => (await Promise.all(cluster.activators.map((_a, i) => queue(i)))).every((q) => q[`${ns}/${canaryName}`].failure === undefined));
        fakeModels[canaryName] = fake();
        const a = await chat(1, { "x-session-id": canarySession! });
        assert.equal(a.status, 200, a.body);
        assert.equal(version(a), canaryName, "held for the canary again and served by it");
        await atZero(canaryName, (COOLDOWN_SECONDS + 60) * 1000);
        await atZero(stableName, (COOLDOWN_SECONDS + 60) * 1000);
    });

    describe("what KServe v0.20.0 does with its own canary fields (docs/canary.md)", () => {
        /** An InferenceService like the stable's (our annotations: Standard mode, autoscalerClass external), renamed. */
        const like = (name: string, spec: (predictor: any) => any) => {
            const isvc = cluster.plan.all.find((o) => o.kind === "InferenceService" && o.metadata.name === stableName);
            return { apiVersion: isvc.apiVersion, kind: isvc.kind, metadata: { name, namespace: ns, annotations: isvc.metadata.annotations, labels: isvc.metadata.labels }, spec: spec(structuredClone(isvc.spec.predictor)) };
        };
        /** The Deployments KServe made for an InferenceService (its controller owner references). */
        const deploymentsOf = async (name: string) =>
            ((await kube.get(`/apis/apps/v1/namespaces/${ns}/deployments`)).items as any[]).filter((d) => (d.metadata.ownerReferences ?? []).some((o: any) => o.kind === "InferenceService" && o.name === name));

        it("spec.predictor.canaryTrafficPercent is accepted and ignored in Standard mode: one Deployment, no split", async () => {
            const name = "probe-ctp";
            await kube.apply(like(name, (predictor) => ({ predictor: { ...predictor, canaryTrafficPercent: 10 } })), "e2e");
            const deployments = await Kube.until(`KServe's Deployment for ${name}`, 60_000, async () => {
                const d = await deploymentsOf(name);
                return d.length > 0 ? d : undefined;
            });
            await new Promise((r) => setTimeout(r, 2000)); // a further reconcile would add a second one
            const names = (await deploymentsOf(name)).map((d) => d.metadata.name);
            report.kserveCanaryTrafficPercent = { deployments: names };
            console.log(`      canaryTrafficPercent: 10 → Deployments ${names.join(", ")}`);
            assert.deepEqual(names, [deployments[0].metadata.name]);
            const live = await kube.get(`/apis/serving.kserve.io/v1beta1/namespaces/${ns}/inferenceservices/${name}`);
            assert.equal(live.status?.components?.predictor?.traffic, undefined, "no traffic split in its status");
        });

        it("spec.canary[]: the validator refuses maxReplicas on a canary; the canary runs as a Deployment KServe gives a fixed replica count, scaled by nothing", async () => {
            const canaryPredictor = (extra: Record<string, unknown>) => (predictor: any) => ({
                predictor: { ...predictor, minReplicas: 0 },
                canary: [{ trafficPercent: TRAFFIC_PERCENT, predictor: { name: "v2", model: { ...predictor.model, storageUri: canaryUri }, ...extra } }],
            });
            await assert.rejects(kube.apply(like("probe-canary-max", canaryPredictor({ maxReplicas: 2 })), "e2e"), (e: unknown) => e instanceof KubeError && /must not set maxReplicas/.test(e.message));
            const name = "probe-canary";
            await kube.apply(like(name, canaryPredictor({})), "e2e");
            const canaryDeployment = await Kube.until(`KServe's canary Deployment ${name}-v2-predictor`, 60_000, () => kube.find(`/apis/apps/v1/namespaces/${ns}/deployments/${name}-v2-predictor`));
            const stableDeployment = await kube.find(`/apis/apps/v1/namespaces/${ns}/deployments/${name}-predictor`);
            const hpas = (await kube.get(`/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers`)).items.map((h: any) => h.spec.scaleTargetRef.name);
            const scaledObjects = (await kube.get(`/apis/keda.sh/v1alpha1/namespaces/${ns}/scaledobjects`)).items.map((s: any) => s.spec.scaleTargetRef.name);
            const live = await kube.get(`/apis/serving.kserve.io/v1beta1/namespaces/${ns}/inferenceservices/${name}`);
            report.kserveCanaryList = { canaryReplicas: canaryDeployment.spec.replicas, stableReplicas: stableDeployment?.spec?.replicas, canaryStatuses: live.status?.canaryStatuses };
            console.log(`      spec.canary[] (stable minReplicas 0, ${TRAFFIC_PERCENT} %): ${JSON.stringify(report.kserveCanaryList)}`);
            assert.ok(canaryDeployment.spec.replicas >= 1, `the canary Deployment's replicas: ${canaryDeployment.spec.replicas}`);
            assert.ok(!hpas.includes(canaryDeployment.metadata.name) && !scaledObjects.includes(canaryDeployment.metadata.name), "nothing scales the canary Deployment (no HPA, no ScaledObject)");
        });
    });
});
