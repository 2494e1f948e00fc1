import * as assert from "node:assert/strict";
import {
    batchRunnerDeploymentManifest,
    batchRunnerScaledObjectManifest,
    batchTriggerAuthenticationManifest,
} from "../../../components/manifests/batch/runner";
import { crdErrors } from "../../support/crds";

const options = {
    namespace: "activator",
    image: "123.dkr.ecr.us-west-2.amazonaws.com/activator:abc",
    queueUrl: "https://sqs.us-west-2.amazonaws.com/123456789012/gs-batch-chunks",
    region: "us-west-2",
    messagesPerReplica: 4,
    maxReplicas: 5,
    pollingSeconds: 7,
    cooldownSeconds: 45,
    cpu: "500m",
    memory: "512Mi",
    systemNodeSelector: { role: "system" },
    roleArn: "arn:aws:iam::123456789012:role/batch-runner",
    apiKey: true,
};

describe("batch runner manifests", () => {
    const scaled = batchRunnerScaledObjectManifest(options);
    const auth = batchTriggerAuthenticationManifest("activator");

    it("validate against KEDA's v2.20.2 CRDs", () => {
        assert.deepEqual(crdErrors(scaled), []);
        assert.deepEqual(crdErrors(auth), []);
    });

    it("scale the runner Deployment from zero on the chunk queue (visible + in flight), with the operator's own AWS identity", () => {
        assert.deepEqual(scaled.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: "batch-runner" });
        assert.equal(scaled.spec.minReplicaCount, 0);
        assert.equal(scaled.spec.maxReplicaCount, 5);
        assert.equal(scaled.spec.pollingInterval, 7, "batch.pollingSeconds");
        assert.equal(scaled.spec.cooldownPeriod, 45, "batch.cooldownSeconds");
        assert.equal(scaled.spec.triggers.length, 1);
        const [trigger] = scaled.spec.triggers;
        assert.equal(trigger!.type, "aws-sqs-queue");
        // Keys KEDA v2.20.2 reads (aws_sqs_queue_scaler.go awsSqsQueueMetadata), values as strings.
        assert.deepEqual(trigger!.metadata, { queueURL: options.queueUrl, queueLength: "4", activationQueueLength: "0", awsRegion: "us-west-2", scaleOnInFlight: "true" });
        assert.deepEqual(auth.spec, { podIdentity: { provider: "aws" } });
        assert.equal(trigger!.authenticationRef.name, auth.metadata.name);
    });

    it("runs the runner entry point on the activator's ConfigMap, with its API key from a Secret", () => {
        const deployment = batchRunnerDeploymentManifest(options);
        const container = deployment.spec.template.spec.containers[0]!;
        assert.deepEqual(container.args, ["activator/dist/batch/runnerMain.js", "--config", "/etc/activator/config.yaml"]);
        assert.ok(container.env.some((e) => e.name === "BATCH_RUNNER_API_KEY"));
        assert.equal(deployment.spec.replicas, 0);
        assert.deepEqual(deployment.spec.template.spec.volumes, [{ name: "config", configMap: { name: "activator-config" } }]);
        assert.ok(!batchRunnerDeploymentManifest({ ...options, apiKey: false }).spec.template.spec.containers[0]!.env.some((e) => e.name === "BATCH_RUNNER_API_KEY"));
    });
});
