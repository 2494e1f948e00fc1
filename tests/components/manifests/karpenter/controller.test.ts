import * as assert from "node:assert/strict";
import { allowedActions, clusterOwnedTag, interruptionQueuePolicy, karpenterControllerPolicy } from "../../../../components/domain/karpenterIam";
import { interruptionQueueSettings, interruptionRules } from "../../../../components/domain/karpenterInterruption";
import { karpenterBatch, karpenterValues } from "../../../../components/manifests/karpenter/values";
import { chartDefaults, unknownValuePaths } from "../../../support/chartValues";
import { controllerCalls } from "./controllerCalls";

const scope = { partition: "aws", region: "us-west-2", accountId: "123456789012", clusterName: "gpu-dev" };
const refs = { nodeRoleArn: "arn:aws:iam::123456789012:role/gpu-dev-karpenter-node", queueArn: "arn:aws:sqs:us-west-2:123456789012:gpu-dev-karpenter" };
const policy = karpenterControllerPolicy(scope, refs);
const settings = {
    clusterName: "gpu-dev",
    interruptionQueue: "gpu-dev-karpenter",
    roleArn: "arn:aws:iam::123456789012:role/gpu-dev-karpenter",
    systemNodeSelector: { "gpu-serverless.io/node-group": "system" },
    serviceMonitor: true,
};

describe("Karpenter controller IAM", () => {
    it("grants only actions the v1.14.1 controller calls, and every call it needs", () => {
        const calls = new Map(controllerCalls.map((c) => [c.action, c]));
        for (const action of allowedActions(policy)) {
            assert.ok(calls.has(action), `${action} is granted but the controller never calls it`);
            assert.equal(calls.get(action)!.notGranted, undefined, `${action} is granted though the table says: ${calls.get(action)!.notGranted}`);
        }
        const needed = controllerCalls.filter((c) => c.notGranted === undefined).map((c) => c.action).sort();
        assert.deepEqual(allowedActions(policy), needed);
    });

    it("every EC2 write is held to resources tagged as this cluster's (by resource or request tag)", () => {
        const writes = /^ec2:(RunInstances|CreateFleet|CreateLaunchTemplate|DeleteLaunchTemplate|TerminateInstances|CreateTags)$/;
        for (const statement of policy.Statement) {
            const actions = ([] as string[]).concat(statement.Action);
            if (!actions.some((a) => writes.test(a))) continue;
            const resources = ([] as string[]).concat(statement.Resource ?? []);
            const untagged = resources.filter((r) => !/:(image|snapshot|security-group|subnet|capacity-reservation|placement-group)\/\*$/.test(r));
            if (untagged.length === 0) continue; // launch inputs only (AMIs, subnets...), never created or deleted
            const conditions = JSON.stringify(statement.Condition ?? {});
            assert.ok(conditions.includes(`${clusterOwnedTag("gpu-dev")}"`), `${actions.join(",")} on ${untagged.join(",")} has no cluster tag condition`);
            assert.ok(!resources.includes("*"), `${actions.join(",")} on *`);
        }
    });

    it("passes only the node role, reads only its queue, describes only its cluster", () => {
        const find = (action: string) => policy.Statement.find((s) => ([] as string[]).concat(s.Action).includes(action))!;
        assert.equal(find("iam:PassRole").Resource, refs.nodeRoleArn);
        assert.equal(find("sqs:ReceiveMessage").Resource, refs.queueArn);
        assert.equal(find("eks:DescribeCluster").Resource, "arn:aws:eks:us-west-2:123456789012:cluster/gpu-dev");
    });

    it("the queue takes messages from EventBridge only, over TLS only", () => {
        const queue = interruptionQueuePolicy(refs.queueArn);
        assert.deepEqual(allowedActions(queue), ["sqs:SendMessage"]);
        const deny = queue.Statement.find((s) => s.Effect === "Deny")!;
        assert.deepEqual(deny.Condition, { Bool: { "aws:SecureTransport": "false" } });
        assert.equal(interruptionQueueSettings.messageRetentionSeconds, 300);
        assert.deepEqual(
            interruptionRules.map((r) => r.eventPattern["detail-type"][0]).sort(),
            [
                "AWS Health Event",
                "EC2 Capacity Reservation Instance Interruption Warning",
                "EC2 Instance Rebalance Recommendation",
                "EC2 Instance State-change Notification",
                "EC2 Spot Instance Interruption Warning",
            ],
        );
    });
});

describe("Karpenter chart values", () => {
    it("every key exists in the v1.14.1 chart's values.yaml", () => {
        assert.deepEqual(unknownValuePaths("karpenter", karpenterValues(settings)), []);
        assert.deepEqual(unknownValuePaths("karpenter", { settings: { featureGates: { nodeRepairs: true } } }), ["settings.featureGates.nodeRepairs"]);
    });

    it("node repair stays off (the chart's default) and the batch window is the chart's", () => {
        const values = karpenterValues(settings);
        const defaults = chartDefaults("karpenter") as any;
        assert.equal(defaults.settings.featureGates.nodeRepair, false);
        assert.equal(values.settings.featureGates.nodeRepair, false);
        assert.equal(values.settings.batchIdleDuration, defaults.settings.batchIdleDuration);
        assert.equal(values.settings.batchMaxDuration, defaults.settings.batchMaxDuration);
        assert.equal(`${karpenterBatch.idleSeconds}s`, defaults.settings.batchIdleDuration);
    });

    it("runs on the system nodes with its IRSA role, reading the interruption queue", () => {
        const values = karpenterValues(settings);
        assert.equal(values.nodeSelector["gpu-serverless.io/node-group"], "system");
        assert.equal(values.serviceAccount.annotations["eks.amazonaws.com/role-arn"], settings.roleArn);
        assert.equal(values.settings.interruptionQueue, "gpu-dev-karpenter");
        assert.equal(values.settings.clusterName, "gpu-dev");
    });

    it("refuses values that would leave it blind, naming what is missing", () => {
        assert.throws(() => karpenterValues({ ...settings, interruptionQueue: "" }), /interruptionQueue is required/);
        assert.throws(() => karpenterValues({ ...settings, systemNodeSelector: {} }), /systemNodeSelector must name/);
    });
});
