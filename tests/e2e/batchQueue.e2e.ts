/**
 * The batch runner's queue scaling on a real control plane (tests/e2e/README.md, "Batch runner on a local SQS"): the
 * real KEDA operator's `aws-sqs-queue` scaler (v2.20.2) reads a local SQS server (moto, from
 * testing/sdk/requirements.txt) and scales the plan's batch runner Deployment 0 → N → 0, with KEDA's metrics API server
 * and the HPA controller taking it past one replica.
 *
 * The plan's objects are applied as `npm run plan` writes them (`batch.enabled`, with `pollingSeconds` /
 * `cooldownSeconds` shortened through the stack keys), with two swaps, both because there is no AWS here:
 * - endpoint: the trigger gets `awsEndpoint` = a recording proxy in front of moto (plain http: KEDA's SQS client takes
 *   it as the SDK's BaseEndpoint, kedacore/keda v2.20.2 pkg/scalers/aws_sqs_queue_scaler.go `createSqsClient`, lines
 *   135-138; the metadata key at line 37). The plan's `queueURL` stays: KEDA sends it as `QueueUrl` (line 182), moto
 *   finds the queue by its last path segment, and SigV4 carries the region (`awsRegion`);
 * - authentication: the plan's TriggerAuthentication (`podIdentity.provider: aws`, no roleArn) is applied unchanged, so
 *   KEDA uses its operator's own AWS credential chain (pkg/scalers/aws/aws_common.go GetAwsAuthorization →
 *   aws_config_cache.go GetCredentials → config.LoadDefaultConfig). In EKS that chain finds the IRSA web identity the
 *   keda chart's `podIdentity.aws.irsa` gives the operator; here the operator process gets static test keys in
 *   AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY instead (moto checks none).
 * The scaler's metric is the sum of the queue attributes it asks for (lines 95-102 and 193-210): visible
 * (`ApproximateNumberOfMessages`) + in flight (`ApproximateNumberOfMessagesNotVisible`, with `scaleOnInFlight: true`,
 * the plan's); active when above `activationQueueLength` (0; line 175); the HPA asks ceil(messages / `queueLength`)
 * replicas (`AverageValue` target, line 158).
 * Skipped, saying so, when moto_server is absent.
 */
import * as assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { batchCalls } from "../../components/domain/batchIam";
import { batchRunnerName } from "../../components/manifests/batch/runner";
import { MOTO_SERVER_MISSING, MotoSqs, motoServerPath } from "../../testing/activator/motoSqs";
import { Cluster } from "./cluster";
import { Kube } from "./kube";
import { devModels, type PlanObjects } from "./plan";

/** Stack keys for this run: chunk messages per runner, runners at most, KEDA's polling and cooldown (s). */
const MESSAGES_PER_RUNNER = 2;
const MAX_RUNNERS = 4;
const POLLING_SECONDS = 1;
const COOLDOWN_SECONDS = 5;
const HPA_SYNC_SECONDS = 2;
/** Messages sent: the runner should reach ceil(5 / 2) = 3 replicas (below MAX_RUNNERS, so the rule and not the cap). */
const MESSAGES = 5;
const EXPECTED_RUNNERS = Math.ceil(MESSAGES / MESSAGES_PER_RUNNER);
/** The static test credentials the KEDA operator process gets in place of its IRSA web identity. */
const TEST_ACCESS_KEY = "AKIAE2EKEDASTATICKEY";
/** Slack on every bound below for a loaded 2-core machine, ms. */
const SLACK_MS = 10_000;

/** One SQS call that reached the recording proxy. */
interface SqsCall {
    /** The operation (`GetQueueAttributes`), from `X-Amz-Target` (JSON protocol) or `Action` (query protocol). */
    operation: string;
    queueUrl?: string;
    /** The access key id and region of the SigV4 credential scope. */
    accessKey?: string;
    region?: string;
}

/** An http proxy in front of moto that records each SQS call (what KEDA actually calls, for the IAM check). */
async function recordingProxy(upstream: string): Promise<{ url: string; calls: SqsCall[]; close(): Promise<void> }> {
    const calls: SqsCall[] = [];
    const target = new URL(upstream);
    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const body = Buffer.concat(chunks);
            const text = body.toString("utf8");
            const amzTarget = req.headers["x-amz-target"];
            const json = typeof amzTarget === "string" ? jsonOrEmpty(text) : undefined;
            const form = json ? undefined : new URLSearchParams(text);
            const scope = /Credential=([^/]+)\/\d{8}\/([^/]+)\/sqs\//.exec(String(req.headers.authorization ?? ""));
            calls.push({
                operation: typeof amzTarget === "string" ? amzTarget.split(".").pop()! : (form?.get("Action") ?? "?"),
                queueUrl: json?.QueueUrl ?? form?.get("QueueUrl") ?? undefined,
                accessKey: scope?.[1],
                region: scope?.[2],
            });
            const out = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
                res.writeHead(up.statusCode ?? 502, up.headers);
                up.pipe(res);
            });
            out.on("error", (e) => res.writeHead(502).end(String(e)));
            out.end(body);
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        calls,
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
}

function jsonOrEmpty(text: string): Record<string, any> {
    try {
        return JSON.parse(text);
    } catch {
        return {};
    }
}

/** A Kubernetes quantity as a number ("5", "1667m", "2k"). */
function quantity(q: string): number {
    const m = /^([0-9.]+)([mk]?)$/.exec(q);
    if (!m) throw new Error(`unexpected quantity ${q}`);
    return Number(m[1]) * (m[2] === "m" ? 1e-3 : m[2] === "k" ? 1e3 : 1);
}

describe("batch runner: KEDA's aws-sqs-queue scaler on a local SQS (moto) scales the plan's runner 0 → N → 0", function () {
    this.timeout(10 * 60_000);
    let moto: MotoSqs | null = null;
    let proxy: Awaited<ReturnType<typeof recordingProxy>> | undefined;
    let cluster: Cluster | undefined;
    let kube: Kube;
    /** The trigger as the plan wrote it, before awsEndpoint was added; and the plan's TriggerAuthentication. */
    let plannedTrigger: any;
    let plannedAuth: any;
    let queueArn = "";
    /** Every ScaledObject status seen by the monitor: time, Ready and Active, and the Deployment's replicas. */
    const seen: { at: number; ready?: string; readyMessage?: string; active?: string; replicas?: number }[] = [];
    let monitor: NodeJS.Timeout | undefined;

    const ns = () => plannedAuth.metadata.namespace as string;
    const scaledObject = () => kube.get(`/apis/keda.sh/v1alpha1/namespaces/${ns()}/scaledobjects/${batchRunnerName}`);
    const replicas = async () => ((await kube.get(`/apis/apps/v1/namespaces/${ns()}/deployments/${batchRunnerName}`)).spec.replicas ?? 0) as number;
    const conditions = (so: any): Record<string, any> => Object.fromEntries((so.status?.conditions ?? []).map((c: any) => [c.type, c]));

    /** The plan's runner ScaledObject: record it, start moto in its region with its queue, point the trigger at moto. */
    async function preparePlan(plan: PlanObjects): Promise<void> {
        const so = plan.all.find((o) => o.kind === "ScaledObject" && o.metadata.name === batchRunnerName);
        if (!so) throw new Error(`the plan with batch.enabled has no ScaledObject ${batchRunnerName}`);
        plannedAuth = plan.all.find((o) => o.kind === "TriggerAuthentication" && o.metadata.name === so.spec.triggers[0].authenticationRef.name);
        const trigger = so.spec.triggers.find((t: any) => t.type === "aws-sqs-queue");
        plannedTrigger = structuredClone(trigger);
        moto = await MotoSqs.start(trigger.metadata.awsRegion);
        if (!moto) throw new Error(MOTO_SERVER_MISSING);
        proxy = await recordingProxy(moto.endpoint);
        queueArn = await moto.createQueue(new URL(trigger.metadata.queueURL).pathname.split("/").pop()!);
        trigger.metadata.awsEndpoint = proxy.url;
    }

    before(async function () {
        if (!motoServerPath()) {
            console.log(`      skipped: ${MOTO_SERVER_MISSING}`);
            this.skip();
        }
        const sklearn = devModels().find((m) => m.format === "sklearn");
        cluster = new Cluster({
            planSettings: {
                models: [{ ...sklearn, cooldownSeconds: 5, pollingSeconds: 1 }],
                apiEndpoint: { access: "public", publicAccessCidrs: ["1.2.3.4/32"] },
                batch: { enabled: true, messagesPerRunner: MESSAGES_PER_RUNNER, maxRunners: MAX_RUNNERS, pollingSeconds: POLLING_SECONDS, cooldownSeconds: COOLDOWN_SECONDS },
            },
            models: { [sklearn.name]: { kind: "v2", modelNames: [sklearn.name], startDelayMs: 300 } },
            hpaSyncPeriodSeconds: HPA_SYNC_SECONDS,
            kedaEnv: { AWS_ACCESS_KEY_ID: TEST_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: "e2e-test-secret", AWS_EC2_METADATA_DISABLED: "true" },
            preparePlan,
        });
        try {
            await cluster.start();
        } catch (e) {
            for (const name of ["kube-apiserver", "keda-operator", "keda-adapter"]) console.error(`--- ${name}\n${cluster.processes.tail(name, 15)}`);
            throw e;
        }
        kube = cluster.kube;
        console.log(`    control plane up: ${JSON.stringify(cluster.timings)} (run dir ${cluster.runDir})`);
    });

    after(async () => {
        clearInterval(monitor);
        if (process.env.E2E_DEBUG && cluster) console.error(`--- keda-operator\n${cluster.processes.tail("keda-operator", 40)}`);
        await cluster?.stop();
        await proxy?.close();
        await moto?.stop();
    });

    it("KEDA reports the plan's runner ScaledObject Ready and not Active on the empty queue; the runner stays at 0", async () => {
        const so = await Kube.until("ScaledObject batch-runner Ready", 60_000, async () => {
            const live = await scaledObject();
            return conditions(live).Ready?.status === "True" ? live : undefined;
        }, 250).catch((e) => {
            throw new Error(`${e.message}\n--- keda-operator\n${cluster!.processes.tail("keda-operator", 20)}`);
        });
        // As planned, but for the endpoint; the TriggerAuthentication exactly as planned.
        assert.deepEqual(so.spec.triggers[0].metadata, { ...plannedTrigger.metadata, awsEndpoint: proxy!.url });
        const auth = await kube.get(`/apis/keda.sh/v1alpha1/namespaces/${ns()}/triggerauthentications/${plannedAuth.metadata.name}`);
        assert.deepEqual(auth.spec, plannedAuth.spec);
        assert.deepEqual(auth.spec, { podIdentity: { provider: "aws" } });
        // Two polls on the empty queue.
        await new Promise((r) => setTimeout(r, 2 * POLLING_SECONDS * 1000 + 500));
        assert.equal(conditions(await scaledObject()).Active?.status, "False");
        assert.equal(await replicas(), 0);
        monitor = setInterval(() => {
            void Promise.all([scaledObject(), replicas()]).then(([live, n]) => {
                const c = conditions(live);
                seen.push({ at: Date.now(), ready: c.Ready?.status, readyMessage: c.Ready?.message, active: c.Active?.status, replicas: n });
            }, () => {});
        }, 250);
    });

    it(`scales 0 → ceil(${MESSAGES} / ${MESSAGES_PER_RUNNER}) = ${EXPECTED_RUNNERS} on ${MESSAGES} messages, counting in-flight ones, and back to 0 after the queue empties and cooldownSeconds (${COOLDOWN_SECONDS} s)`, async () => {
        const sentAt = Date.now();
        await moto!.send(queueArn, MESSAGES);
        await Kube.until("the runner at 1+ replicas (KEDA's activation)", POLLING_SECONDS * 1000 + SLACK_MS, async () => (await replicas()) >= 1, 100);
        const activeAt = Date.now();
        await Kube.until(`the runner at ${EXPECTED_RUNNERS} replicas (the HPA)`, HPA_SYNC_SECONDS * 1000 + SLACK_MS + 15_000, async () => (await replicas()) === EXPECTED_RUNNERS, 100);
        const scaledAt = Date.now();
        console.log(`    messages sent → replicas ≥ 1: ${activeAt - sentAt} ms; → ${EXPECTED_RUNNERS}: ${scaledAt - sentAt} ms`);

        // The HPA's external metric, through kube-apiserver → keda-adapter → KEDA operator → the scaler → moto.
        const hpa = await kube.get(`/apis/autoscaling/v2/namespaces/${ns()}/horizontalpodautoscalers/keda-hpa-${batchRunnerName}`);
        const metric = hpa.spec.metrics[0].external;
        assert.equal(metric.target.type, "AverageValue");
        assert.equal(quantity(metric.target.averageValue), MESSAGES_PER_RUNNER);
        const metricValue = async () => {
            const selector = encodeURIComponent(`scaledobject.keda.sh/name=${batchRunnerName}`);
            const r = await kube.get(`/apis/external.metrics.k8s.io/v1beta1/namespaces/${ns()}/${metric.metric.name}?labelSelector=${selector}`);
            return quantity(r.items[0].value);
        };
        assert.equal(await metricValue(), MESSAGES);

        // Two messages taken by a consumer (in flight, not deleted) still count: scaleOnInFlight true.
        const taken = await moto!.client.send(new ReceiveMessageCommand({ QueueUrl: plannedTrigger.metadata.queueURL, MaxNumberOfMessages: 2, VisibilityTimeout: 300 }));
        assert.equal(taken.Messages?.length, 2);
        assert.equal(await metricValue(), MESSAGES, "visible + in flight");
        await new Promise((r) => setTimeout(r, HPA_SYNC_SECONDS * 1000 + 500));
        assert.equal(await replicas(), EXPECTED_RUNNERS);

        // Drain: delete the two in flight, then receive and delete the rest.
        const handles = (taken.Messages ?? []).map((m) => m.ReceiptHandle!);
        for (;;) {
            const more = await moto!.client.send(new ReceiveMessageCommand({ QueueUrl: plannedTrigger.metadata.queueURL, MaxNumberOfMessages: 10, VisibilityTimeout: 300 }));
            if (!more.Messages?.length) break;
            handles.push(...more.Messages.map((m) => m.ReceiptHandle!));
        }
        assert.equal(handles.length, MESSAGES);
        await moto!.client.send(new DeleteMessageBatchCommand({ QueueUrl: plannedTrigger.metadata.queueURL, Entries: handles.map((h, i) => ({ Id: String(i), ReceiptHandle: h })) }));
        const emptyAt = Date.now();
        await Kube.until("the runner back at 0", (COOLDOWN_SECONDS + POLLING_SECONDS) * 1000 + SLACK_MS, async () => (await replicas()) === 0, 100);
        const zeroAt = Date.now();
        console.log(`    queue empty → 0 replicas: ${zeroAt - emptyAt} ms (cooldownSeconds ${COOLDOWN_SECONDS}, pollingSeconds ${POLLING_SECONDS})`);
        // KEDA's lastActiveTime is its last poll that saw messages (at most one polling interval before the queue
        // emptied), stored as a metav1.Time: whole seconds, so up to 1 s earlier still.
        const earliestMs = (COOLDOWN_SECONDS - POLLING_SECONDS - 1) * 1000;
        assert.ok(zeroAt - emptyAt >= earliestMs, `scaled to 0 ${zeroAt - emptyAt} ms after the queue emptied: before the cooldown allows (${earliestMs} ms)`);
        assert.equal(await metricValue(), 0);
        await Kube.until("the ScaledObject not Active", POLLING_SECONDS * 1000 + SLACK_MS, async () => conditions(await scaledObject()).Active?.status === "False", 250);
    });

    it("KEDA kept the ScaledObject Ready throughout, never went past the rule, and called only what the plan's KEDA role allows", async () => {
        clearInterval(monitor);
        monitor = undefined;
        assert.ok(seen.length > 20, `the monitor sampled ${seen.length} times`);
        const notReady = seen.filter((s) => s.ready !== "True");
        assert.deepEqual(notReady.map((s) => `${new Date(s.at).toISOString()} Ready=${s.ready}: ${s.readyMessage}`), [], "Ready throughout");
        assert.equal(Math.max(...seen.map((s) => s.replicas ?? 0)), EXPECTED_RUNNERS);
        assert.ok(seen.some((s) => s.active === "True"), "Active while messages waited");

        const events = await kube.get(`/api/v1/namespaces/${ns()}/events`);
        const kedaWarnings = events.items.filter((e: any) => e.type === "Warning" && /keda/i.test(`${e.source?.component} ${e.reportingComponent}`));
        assert.deepEqual(kedaWarnings.map((e: any) => `${e.involvedObject.kind} ${e.involvedObject.name}: ${e.reason}: ${e.message}`), [], "KEDA warnings");

        // Every call KEDA made: an operation batchCalls.kedaScaler lists (tests/components/domain/batchIam.test.ts
        // evaluates the plan's KEDA role policy against exactly those), on the plan's queue URL, signed with the static
        // test key in the plan's region.
        const calls = proxy!.calls;
        assert.ok(calls.length > 5, `KEDA called ${calls.length} times`);
        const allowed = new Set(batchCalls.kedaScaler.map((c) => c.operation));
        assert.deepEqual([...new Set(calls.map((c) => c.operation))], [...allowed]);
        assert.deepEqual([...new Set(calls.map((c) => c.queueUrl))], [plannedTrigger.metadata.queueURL]);
        assert.deepEqual([...new Set(calls.map((c) => `${c.accessKey} ${c.region}`))], [`${TEST_ACCESS_KEY} ${plannedTrigger.metadata.awsRegion}`]);
    });
});
