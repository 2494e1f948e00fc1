import * as assert from "node:assert/strict";
import { scalerAddress } from "../../../../components/manifests/activator/services";
import { scaledObjectManifest } from "../../../../components/manifests/model/scaledObject";
import { cronTrigger, parseCron, warmHoursPerWeek, warmScheduleProblems } from "../../../../components/domain/warmSchedule";
import { warmCapacityHourlyCost, warmNodeManifests, withPrewarmTriggers } from "../../../../components/manifests/warm/warmCapacity";
import { crdErrors } from "../../../support/crds";
import { llmModel, parseModels } from "../model/fixtures";

const office = { timezone: "Europe/Berlin", start: "0 8 * * 1-5", end: "0 18 * * 1-5", desiredReplicas: 1 };
const pool = {
    name: "a100",
    gpusPerNode: 8,
    nodeSelector: { "gpu-serverless/pool": "a100" },
    tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
};

describe("manifests/warm: pre-warm trigger beside the activator's", () => {
    const [llm] = parseModels({ ...llmModel, minReplicas: 0, maxReplicas: 3 });
    const scaled = withPrewarmTriggers(scaledObjectManifest(llm, { scalerAddress: scalerAddress("activator") }), [office]);

    it("keeps external-push first and adds a cron trigger, valid against KEDA v2.20.2's ScaledObject CRD", () => {
        assert.deepEqual(crdErrors(scaled), []);
        assert.deepEqual(scaled.spec.triggers.map((t) => t.type), ["external-push", "cron"]);
        assert.deepEqual(scaled.spec.triggers[1], {
            type: "cron",
            name: "prewarm-0",
            metadata: { timezone: "Europe/Berlin", start: "0 8 * * 1-5", end: "0 18 * * 1-5", desiredReplicas: "1" },
        });
        assert.equal(scaled.spec.minReplicaCount, 0, "outside the window the model still goes to zero");
    });

    it("refuses a pre-warm above the model's maxReplicas", () => {
        assert.throws(() => withPrewarmTriggers(scaledObjectManifest(llm, { scalerAddress: scalerAddress("activator") }), [{ ...office, desiredReplicas: 4 }]), {
            message: /ScaledObject qwen: prewarm\[0\].desiredReplicas 4 is above maxReplicas 3/,
        });
    });

    it("names every problem KEDA's cron scaler would fail on, one line each", () => {
        assert.deepEqual(warmScheduleProblems({ timezone: "Mars/Olympus", start: "0 8 * *", end: "0 8 * *", desiredReplicas: 0 }, "models[0].prewarm[0]"), [
            'models[0].prewarm[0].timezone: "Mars/Olympus" is not an IANA time zone such as Europe/Berlin',
            'models[0].prewarm[0].start: "0 8 * *" has 4 fields; KEDA\'s cron takes 5 (minute hour day-of-month month day-of-week)',
            'models[0].prewarm[0].end: "0 8 * *" has 4 fields; KEDA\'s cron takes 5 (minute hour day-of-month month day-of-week)',
            "models[0].prewarm[0].end: must differ from start (KEDA refuses equal start and end)",
            "models[0].prewarm[0].desiredReplicas: must be a whole number of at least 1, not 0",
        ]);
        assert.deepEqual(warmScheduleProblems({ ...office, start: "0 25 * * *" }, "p"), ['p.start: "0 25 * * *": hour "25" is not a value, range or step within 0-23']);
        assert.deepEqual(warmScheduleProblems({ ...office, start: "*/15 8-17 ? JAN-DEC MON-FRI" }, "p"), []);
        assert.throws(() => cronTrigger({ ...office, timezone: "Nowhere" }, "x"), { message: /x.timezone: "Nowhere"/ });
    });

    it("parses steps, ranges and names", () => {
        const parsed = parseCron("*/20 9 1,15 FEB SUN");
        assert.ok(!("problem" in parsed));
        assert.deepEqual(parsed.sets.map((s) => [...s]), [[0, 20, 40], [9], [1, 15], [2], [0]]);
    });
});

describe("manifests/warm: warm GPU nodes per pool", () => {
    it("keeps N nodes always with N balloon pods that each take a whole node's GPUs at a preemptible priority", () => {
        const { priorityClass, deployment } = warmNodeManifests(pool, { mode: "always", nodes: 2 });
        assert.ok(priorityClass.value < 0, "below every workload's default priority 0");
        assert.equal(deployment.spec.replicas, 2);
        const pod = deployment.spec.template.spec;
        assert.equal(pod.containers[0].resources.requests["nvidia.com/gpu"], "8");
        assert.deepEqual(pod.nodeSelector, pool.nodeSelector);
        assert.deepEqual(pod.tolerations, pool.tolerations);
        assert.equal(pod.priorityClassName, priorityClass.metadata.name);
    });

    it("moves them on a schedule with a KEDA cron ScaledObject, valid against the CRD", () => {
        const made = warmNodeManifests(pool, { mode: "schedule", nodes: 1, timezone: "America/New_York", start: "0 7 * * 1-5", end: "0 19 * * 1-5" });
        assert.ok(made.scaledObject);
        assert.deepEqual(crdErrors(made.scaledObject!), []);
        assert.equal(made.deployment.spec.replicas, 0, "KEDA owns the count");
        assert.equal(made.scaledObject!.spec.triggers[0].metadata.desiredReplicas, "1");
    });

    it("refuses zero warm nodes", () => {
        assert.throws(() => warmNodeManifests(pool, { mode: "always", nodes: 0 }), { message: /^gpuNodeGroups a100: warm\.nodes must be a whole number of at least 1, not 0$/ });
    });
});

describe("manifests/warm: what warm capacity costs", () => {
    it("counts a schedule's hours per week, including windows across midnight", () => {
        assert.equal(warmHoursPerWeek({ start: "0 8 * * 1-5", end: "0 18 * * 1-5" }), 50);
        assert.equal(warmHoursPerWeek({ start: "0 22 * * *", end: "0 6 * * *" }), 56);
        assert.equal(warmHoursPerWeek({ start: "30 9 * * 1", end: "30 9 * * 2" }), 24);
    });

    it("prices always-on at the full hourly price and a schedule at its share of the week", () => {
        assert.equal(warmCapacityHourlyCost({ units: 2 }, 10), 20);
        assert.equal(warmCapacityHourlyCost({ units: 1, schedule: { start: "0 8 * * 1-5", end: "0 18 * * 1-5" } }, 16.8), 16.8 * 50 / 168);
    });
});
