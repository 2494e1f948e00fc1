import * as assert from "node:assert/strict";
import { ImageCache } from "../../../components/resources/imageCache";
import { resetRecorded, resourceNamed, resourcesOfType, setupMocks, settled, unwrap } from "../../support/mocks";

describe("ImageCache (mocks)", () => {
    before(() => setupMocks());
    beforeEach(() => resetRecorded());

    it("makes a rule per upstream, Docker Hub and GHCR credentials as ecr-pullthroughcache/ secrets, and the nodes' pull-through policy", async () => {
        const cache = new ImageCache("ic", {
            config: { pullThroughCache: true, dockerHubCredentialsSecret: "dh", githubCredentialsSecret: "gh", nvcrMirror: false },
            region: "us-west-2",
            nodeRoleNames: ["node-role", "karpenter-node-role"],
            credentials: { "docker.io": '{"username":"u","accessToken":"t"}', "ghcr.io": '{"username":"u","accessToken":"t"}' },
        });
        await settled();
        const rules = resourcesOfType("aws:ecr/pullThroughCacheRule:PullThroughCacheRule").map((r) => [r.inputs.ecrRepositoryPrefix, r.inputs.upstreamRegistryUrl, r.inputs.credentialArn !== undefined]);
        assert.deepEqual(rules.sort(), [
            ["docker-hub", "registry-1.docker.io", true],
            ["github", "ghcr.io", true],
            ["kubernetes", "registry.k8s.io", false],
            ["quay", "quay.io", false],
        ]);
        assert.deepEqual(resourcesOfType("aws:secretsmanager/secret:Secret").map((s) => s.inputs.name).sort(), ["ecr-pullthroughcache/docker-hub", "ecr-pullthroughcache/github"]);
        const policy = JSON.parse(resourceNamed("aws:iam/rolePolicy:RolePolicy", "ic-node-pull-through").inputs.policy);
        assert.deepEqual(policy.Statement[0].Action, ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"]);
        // Every node role pulls: the same policy on each.
        const policies = resourcesOfType("aws:iam/rolePolicy:RolePolicy");
        assert.deepEqual(policies.map((p) => p.inputs.role), ["node-role", "karpenter-node-role"]);
        assert.ok(policies.every((p) => p.inputs.policy === policies[0].inputs.policy));
        assert.deepEqual(resourcesOfType("aws:ecr/repository:Repository"), []);
        const rewrite = await unwrap(cache.rewrite);
        assert.deepEqual(rewrite?.hosts.slice().sort(), ["docker.io", "ghcr.io", "quay.io", "registry.k8s.io"]);
        assert.deepEqual(await unwrap(cache.nvcrMirrorCopies), []);
    });

    it("nvcrMirror alone: immutable repositories for the nvcr.io images and the copies to run, no rules", async () => {
        const cache = new ImageCache("im", { config: { pullThroughCache: false, nvcrMirror: true }, region: "us-west-2", nodeRoleNames: ["node-role"], credentials: {} });
        await settled();
        assert.deepEqual(resourcesOfType("aws:ecr/pullThroughCacheRule:PullThroughCacheRule"), []);
        const repos = resourcesOfType("aws:ecr/repository:Repository");
        assert.deepEqual(repos.map((r) => r.inputs.name).sort(), ["nvcr/nvidia/k8s-device-plugin", "nvcr/nvidia/k8s/dcgm-exporter", "nvcr/nvidia/tritonserver"]);
        assert.ok(repos.every((r) => r.inputs.imageTagMutability === "IMMUTABLE"));
        const copies = await unwrap(cache.nvcrMirrorCopies);
        assert.ok(copies.includes("crane copy nvcr.io/nvidia/tritonserver:23.05-py3 123456789012.dkr.ecr.us-west-2.amazonaws.com/nvcr/nvidia/tritonserver:23.05-py3"), copies.join("\n"));
        assert.deepEqual((await unwrap(cache.rewrite))?.hosts, ["nvcr.io"]);
    });

    it("refuses a region AWS does not have when it is built, with or without the mirror", () => {
        for (const nvcrMirror of [true, false]) {
            assert.throws(
                () => new ImageCache(`ir-${nvcrMirror}`, { config: { pullThroughCache: false, nvcrMirror }, region: "west", nodeRoleNames: ["r"], credentials: {} }),
                /ImageCache "ir-(true|false)" args.region: "west" is not an AWS region/,
            );
        }
    });

    it("refuses a credentialed rule without its credentials", () => {
        assert.throws(
            () => new ImageCache("ix", { config: { pullThroughCache: true, nvcrMirror: false }, region: "us-west-2", nodeRoleNames: ["r"], credentials: {} }),
            /args.credentials\["docker.io"\]: required for the docker-hub pull-through cache rule/,
        );
    });
});
