import * as assert from "node:assert/strict";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { WarmCapacity } from "../../../components/resources/warmCapacity";
import { dependsOn, resetRecorded, resourceNamed, resourcesOfType, setupMocks, settled } from "../../support/mocks";

describe("WarmCapacity (mocks)", () => {
    let provider: k8s.Provider;
    let keda: k8s.core.v1.Namespace;
    before(() => {
        setupMocks();
        provider = new k8s.Provider("warm-test-k8s", { kubeconfig: "{}" });
        keda = new k8s.core.v1.Namespace("warm-test-keda", {}, { provider });
    });
    beforeEach(() => resetRecorded());

    const office = { timezone: "Europe/Berlin", start: "0 8 * * 1-5", end: "0 18 * * 1-5" };

    it("keeps a balloon Deployment per pool, asking for a whole node's GPUs, with one PriorityClass for all and a ScaledObject only for a schedule", async () => {
        new WarmCapacity("wc", {
            provider,
            keda,
            pools: [
                { name: "a100", gpusPerNode: 8, warm: { nodes: 2 } },
                { name: "big", gpusPerNode: 8, warm: { nodes: 1, schedule: office } },
            ],
        });
        await settled();
        assert.deepEqual(resourcesOfType("kubernetes:scheduling.k8s.io/v1:PriorityClass").map((p) => [p.inputs.metadata.name, p.inputs.value]), [["gpu-serverless-warm-capacity", -10]]);
        const always = resourceNamed("kubernetes:apps/v1:Deployment", "wc-a100");
        const scheduled = resourceNamed("kubernetes:apps/v1:Deployment", "wc-big");
        assert.deepEqual([always.inputs.metadata.name, always.inputs.metadata.namespace, always.inputs.spec.replicas], ["warm-a100", "warm-capacity", 2]);
        assert.equal(scheduled.inputs.spec.replicas, 0);
        const container = always.inputs.spec.template.spec.containers[0];
        assert.equal(container.image, "registry.k8s.io/pause:3.10");
        assert.deepEqual(container.resources.limits, { "nvidia.com/gpu": "8" });
        assert.deepEqual(always.inputs.spec.template.spec.nodeSelector, { "gpu-serverless.io/node-group": "a100" });
        const scaledObjects = resourcesOfType("kubernetes:keda.sh/v1alpha1:ScaledObject");
        assert.deepEqual(scaledObjects.map((s) => [s.inputs.metadata.name, s.inputs.spec.maxReplicaCount, s.inputs.spec.triggers[0].metadata.start]), [["warm-big", 1, "0 8 * * 1-5"]]);
        assert.ok(dependsOn(scaledObjects[0], scheduled), "the ScaledObject waits for its Deployment");
    });

    it("runs the pause image from ECR when the image cache serves registry.k8s.io", async () => {
        const ecr = "123456789012.dkr.ecr.us-west-2.amazonaws.com";
        new WarmCapacity("wr", { provider, keda, pools: [{ name: "a100", gpusPerNode: 8, warm: { nodes: 1 } }], imageRewrite: pulumi.output({ ecr, hosts: ["registry.k8s.io"] }) });
        await settled();
        assert.equal(resourceNamed("kubernetes:apps/v1:Deployment", "wr-a100").inputs.spec.template.spec.containers[0].image, `${ecr}/kubernetes/pause:3.10`);
    });
});
