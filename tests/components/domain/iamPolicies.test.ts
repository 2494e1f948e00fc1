import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import {
    activatorCalls,
    activatorRequests,
    AuthorizationRequest,
    clusterAutoscalerCalls,
    clusterAutoscalerRequests,
    storageInitializerCalls,
    storageInitializerRequests,
} from "../../../components/domain/awsApiCalls";
import { activatorQueuePolicy, clusterAutoscalerPolicy, clusterOwnershipTag, modelStoragePolicy, PolicyDocument } from "../../../components/domain/iamPolicies";
import { batchCalls } from "../../../components/domain/batchIam";
import { allowedActions, evaluate } from "../../support/iamEvaluator";

/** Requests the policy refuses, as `Operation resource` lines (empty when all are allowed). */
function refused(policy: PolicyDocument, requests: AuthorizationRequest[]): string[] {
    return requests.filter((r) => evaluate(policy, r) !== "allow").map((r) => `${r.call.operation} ${r.resource} ${JSON.stringify(r.context)}`);
}

/** Actions the policy allows that no request needs (least privilege: should be none). */
function unused(policy: PolicyDocument, requests: AuthorizationRequest[]): string[] {
    return allowedActions(policy).filter((a) => !requests.some((r) => r.action.toLowerCase() === a.toLowerCase()));
}

describe("domain/iamPolicies against the API calls of their consumers (components/domain/awsApiCalls.ts)", () => {
    describe("model storage role × KServe v0.20.0 storage initializer (kserve_storage.py _download_s3)", () => {
        const scenes: Array<[string, string, string[]]> = [
            ["a folder of files", "s3://ml-models/fraud/v3", ["fraud/v3/model.joblib", "fraud/v3/meta/config.json", "fraud/v3/"]],
            ["a folder typed with its trailing slash", "s3://ml-models/fraud/v3/", ["fraud/v3/model.joblib"]],
            ["one object", "s3://ml-models/fraud/v3/model.joblib", ["fraud/v3/model.joblib"]],
            // A plain string prefix: KServe lists and downloads fraud/v3.1/... too, so the role must let it.
            ["a folder with a sibling version", "s3://ml-models/fraud/v3", ["fraud/v3/model.joblib", "fraud/v3.1/model.joblib"]],
        ];
        for (const [what, uri, keys] of scenes) {
            it(`allows every call that downloads ${what} (${uri})`, () => {
                const requests = storageInitializerRequests("aws", uri, keys);
                assert.deepEqual(refused(modelStoragePolicy("aws", uri), requests), []);
                assert.ok(requests.some((r) => r.call === storageInitializerCalls.headBucket), "HeadBucket comes first");
            });
        }

        it("allows HeadBucket, which carries no s3:prefix (the v0.20 init crash loop: 403 on head_bucket)", () => {
            const [headBucket] = storageInitializerRequests("aws", "s3://ml-models/fraud/v3", []);
            assert.equal(headBucket!.call.operation, "HeadBucket");
            assert.deepEqual(headBucket!.context, {});
            assert.equal(evaluate(modelStoragePolicy("aws", "s3://ml-models/fraud/v3"), headBucket!), "allow");
        });

        it("reads nothing outside the model's prefix and writes nothing", () => {
            const policy = modelStoragePolicy("aws-cn", "s3://ml-models/fraud/v3");
            const deny = (action: string, resource: string) => assert.equal(evaluate(policy, { action, resource }), "implicitDeny", `${action} ${resource}`);
            deny("s3:GetObject", "arn:aws-cn:s3:::ml-models/other/v1/model.joblib");
            deny("s3:GetObject", "arn:aws-cn:s3:::ml-models/fraud/model.joblib");
            deny("s3:GetObject", "arn:aws-cn:s3:::other-bucket/fraud/v3/model.joblib");
            deny("s3:PutObject", "arn:aws-cn:s3:::ml-models/fraud/v3/model.joblib");
            deny("s3:DeleteObject", "arn:aws-cn:s3:::ml-models/fraud/v3/model.joblib");
            deny("s3:ListBucket", "arn:aws-cn:s3:::other-bucket");
        });

        it("allows no action the storage initializer never calls", () => {
            const uri = "s3://ml-models/fraud/v3";
            assert.deepEqual(unused(modelStoragePolicy("aws", uri), storageInitializerRequests("aws", uri, ["fraud/v3/model.joblib"])), []);
        });
    });

    describe("cluster-autoscaler role × cluster-autoscaler v1.35.2 cloudprovider/aws", () => {
        const scene = {
            partition: "aws",
            region: "us-west-2",
            accountId: "123456789012",
            clusterName: "gpu-dev",
            nodegroupName: "a100",
            autoScalingGroupName: "eks-a100-1234",
            autoScalingGroupTags: { [clusterOwnershipTag("gpu-dev")]: "owned", "k8s.io/cluster-autoscaler/enabled": "true" },
        };
        const policy = clusterAutoscalerPolicy(scene);

        it("allows every call it makes on this cluster's groups", () => {
            assert.deepEqual(refused(policy, clusterAutoscalerRequests(scene)), []);
        });

        it("may not resize or terminate in another cluster's groups, nor read another cluster's node groups", () => {
            const other = { ...scene, clusterName: "prod", autoScalingGroupTags: { [clusterOwnershipTag("prod")]: "owned" } };
            const denied = refused(policy, clusterAutoscalerRequests(other)).map((line) => line.split(" ")[0]);
            assert.deepEqual(denied, ["SetDesiredCapacity", "TerminateInstanceInAutoScalingGroup", "DescribeNodegroup"]);
        });

        it("allows no action cluster-autoscaler never calls", () => {
            assert.deepEqual(unused(policy, clusterAutoscalerRequests(scene)), []);
        });
    });

    describe("activator role × the activator's own AWS calls (activator/src/queue/sqs.ts)", () => {
        const jobs = "arn:aws:sqs:us-east-1:123456789012:jobs";
        const nightly = "arn:aws:sqs:eu-west-1:123456789012:nightly.fifo";
        const policy = activatorQueuePolicy([jobs, nightly, jobs])!;

        /** Every `new <Name>Command(` in the activator's sources, by file. */
        function sdkCommands(): string[] {
            const root = path.resolve(__dirname, "../../../activator/src");
            const found: string[] = [];
            const walk = (dir: string) => {
                for (const entry of readdirSync(dir, { withFileTypes: true })) {
                    const file = path.join(dir, entry.name);
                    if (entry.isDirectory()) walk(file);
                    else if (file.endsWith(".ts")) for (const m of readFileSync(file, "utf8").matchAll(/new (\w+)Command\(/g)) found.push(`${path.relative(root, file)} ${m[1]}`);
                }
            };
            walk(root);
            return found;
        }

        it("has a row for every SDK command the activator sends, where it sends it", () => {
            // Rows: the queue reads here, the Batch API's calls in domain/batchIam.ts (activator and runner, whose
            // `source` starts with the file).
            const queueRows = Object.values(activatorCalls).map((c) => `${path.relative("activator/src", c.source.path)} ${c.operation}`);
            const batchRows = [...batchCalls.activator, ...batchCalls.runner].map((c) => `${path.relative("activator/src", c.source.split(" ")[0]!)} ${c.operation}`);
            const rows = new Set([...queueRows, ...batchRows]);
            const found = new Set(sdkCommands());
            assert.deepEqual([...found].filter((command) => !rows.has(command)), [], "SDK commands with no row");
            assert.deepEqual(queueRows.filter((row) => !found.has(row)), [], "queue rows no source sends");
        });

        it("allows GetQueueAttributes on every configured queue", () => {
            assert.deepEqual(refused(policy, activatorRequests([jobs, nightly])), []);
        });

        it("allows nothing on other queues, nothing that touches messages, and no action it never calls", () => {
            const deny = (action: string, resource: string) => assert.equal(evaluate(policy, { action, resource }), "implicitDeny", `${action} ${resource}`);
            deny("sqs:GetQueueAttributes", "arn:aws:sqs:us-east-1:123456789012:jobs-dlq");
            deny("sqs:GetQueueAttributes", "arn:aws:sqs:us-east-1:210987654321:jobs");
            deny("sqs:ReceiveMessage", jobs);
            deny("sqs:DeleteMessage", jobs);
            deny("sqs:SendMessage", jobs);
            deny("sqs:SetQueueAttributes", jobs);
            assert.deepEqual(unused(policy, activatorRequests([jobs, nightly])), []);
            assert.deepEqual(policy.Statement, [{ Effect: "Allow", Action: "sqs:GetQueueAttributes", Resource: [nightly, jobs] }], "one statement, each queue once (sorted: a stable document)");
        });

        it("has no policy at all when no model lists a queue", () => {
            assert.equal(activatorQueuePolicy([]), undefined);
        });
    });

    // Opt-in: UPSTREAM_GIT_MIRRORS=<folder holding <owner>+<name>/repo bare clones> checks each citation's line.
    it("cites, for every call, a line at the pinned tag that makes it (with UPSTREAM_GIT_MIRRORS set)", function () {
        const root = process.env.UPSTREAM_GIT_MIRRORS;
        if (!root) this.skip();
        const calls = [...Object.values(storageInitializerCalls), ...Object.values(clusterAutoscalerCalls)];
        let checked = 0;
        for (const { operation, source } of calls) {
            const git = `${root}/${source.repository.replace("/", "+")}/repo`;
            let text: string;
            try {
                text = execFileSync("git", ["--git-dir", git, "show", `${source.tag}:${source.path}`], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
            } catch {
                continue;
            }
            const line = text.split("\n")[source.line - 1] ?? "";
            const words = [operation, operation.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase(), "download_file", "objects.filter"];
            assert.ok(words.some((w) => line.includes(w)), `${source.repository} ${source.path}@${source.tag}:${source.line} does not call ${operation}: ${line.trim()}`);
            checked++;
        }
        if (checked === 0) this.skip();
    });
});
