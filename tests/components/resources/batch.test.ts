import * as assert from "node:assert/strict";
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import { activatorConfigSchema, parseActivatorConfig } from "../../../activator/src/index";
import { batchStackSchema } from "../../../components/config/batch";
import { batchActivatorPolicy, batchQueueReaderPolicy, batchRunnerPolicy } from "../../../components/domain/batchIam";
import { BatchRunner, BatchStorage, kedaQueueReaderRoleName, roleArnBeside } from "../../../components/resources/batch";
import { allResources, resetRecorded, resourceNamed, setupMocks, settled, unwrap } from "../../support/mocks";

describe("BatchStorage and BatchRunner (mocks)", () => {
    let provider: k8s.Provider;
    let awsProvider: aws.Provider;
    before(() => {
        setupMocks();
        provider = new k8s.Provider("batch-test-k8s", { kubeconfig: "{}" });
        awsProvider = new aws.Provider("batch-test-aws", { region: "us-west-2" });
    });
    beforeEach(() => resetRecorded());

    const oidcProviderArn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC";
    const make = (name: string) => {
        const config = batchStackSchema.parse({ enabled: true, retentionDays: 7, maxReceiveCount: 3 });
        const storage = new BatchStorage(name, { config, awsProvider, region: "us-west-2", oidcProviderArn, oidcIssuer: "oidc.eks.us-west-2.amazonaws.com/id/ABC", activatorNamespace: "activator", kedaNamespace: "keda" });
        new BatchRunner(`${name}-runner`, { config, storage, provider, namespace: "activator", region: "us-west-2", image: "img:1", systemNodeSelector: { role: "system" }, apiKey: "k" });
        return storage;
    };

    it("creates an encrypted bucket, public access blocked, objects expired after retentionDays; a queue with a dead-letter queue", async () => {
        const storage = make("b1");
        await settled();
        assert.deepEqual(resourceNamed("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "b1-sse").inputs.rules[0].applyServerSideEncryptionByDefault, { sseAlgorithm: "AES256" });
        const block = resourceNamed("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "b1-public-access").inputs;
        assert.deepEqual([block.blockPublicAcls, block.blockPublicPolicy, block.ignorePublicAcls, block.restrictPublicBuckets], [true, true, true, true]);
        const rule = resourceNamed("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "b1-lifecycle").inputs.rules[0];
        assert.equal(rule.expiration.days, 7);
        assert.equal(rule.abortIncompleteMultipartUpload.daysAfterInitiation, 1);
        const queue = resourceNamed("aws:sqs/queue:Queue", "b1-chunks").inputs;
        assert.equal(JSON.parse(queue.redrivePolicy).maxReceiveCount, 3);
        assert.equal(JSON.parse(queue.redrivePolicy).deadLetterTargetArn, await unwrap(storage.deadLetterQueue.arn));
        assert.equal(queue.sqsManagedSseEnabled, true);
        allResources(); // no input holds `undefined`
    });

    it("gives the activator, the runner and KEDA the domain's least-privilege policies, each trusted by its one service account", async () => {
        const storage = make("b2");
        await settled();
        const bucket = await unwrap(storage.bucket.bucket);
        const queueArn = await unwrap(storage.queue.arn);
        const at = { partition: "aws", bucket, prefix: "batch/", queueArn };
        // The activator's policy goes onto the activator's own role (components/resources/activator.ts: one role per ServiceAccount).
        assert.deepEqual(JSON.parse(await unwrap(storage.activatorPolicy)), batchActivatorPolicy(at));
        for (const [role, policy, sa] of [["runner", batchRunnerPolicy(at), "activator:batch-runner"], ["keda", batchQueueReaderPolicy(at), "keda:keda-operator"]] as const) {
            assert.deepEqual(JSON.parse(resourceNamed("aws:iam/rolePolicy:RolePolicy", `b2-${role}-policy`).inputs.policy), policy, role);
            assert.match(resourceNamed("aws:iam/role:Role", `b2-${role}-role`).inputs.assumeRolePolicy, new RegExp(`system:serviceaccount:${sa}`), role);
        }
        // The KEDA release names this role before it exists: same name, same account.
        assert.equal(resourceNamed("aws:iam/role:Role", "b2-keda-role").inputs.name, kedaQueueReaderRoleName("test"));
        assert.equal(roleArnBeside(oidcProviderArn, "r"), "arn:aws:iam::123456789012:role/r");
    });

    it("hands the activator a batch section its own schema accepts, and scales the runner on the queue", async () => {
        const storage = make("b3");
        await settled();
        const batch = await unwrap(storage.activatorBatch);
        const parsed = parseActivatorConfig({ models: [], batch });
        assert.ok(parsed.ok, JSON.stringify(parsed));
        assert.equal(activatorConfigSchema.parse({ models: [], batch }).batch!.queueUrl, await unwrap(storage.queue.url));
        const scaled = resourceNamed("kubernetes:keda.sh/v1alpha1:ScaledObject", "b3-runner-scaled-object").inputs;
        assert.equal(scaled.spec.triggers[0].type, "aws-sqs-queue");
        assert.equal(scaled.spec.triggers[0].metadata.queueURL, await unwrap(storage.queue.url));
    });
});
