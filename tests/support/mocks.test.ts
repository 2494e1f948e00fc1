/**
 * The shared mock runtime refuses what it does not model, so a component that reads an unmodelled provider output
 * (an ECR repository URL that came back `undefined`) fails its tests instead of passing with `undefined:src-…`.
 */
import * as assert from "node:assert/strict";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { suspiciousStrings } from "../../scripts/plan/runtime";
import { allResources, resetRecorded, settled, setupMocks, unwrap } from "./mocks";

describe("test support: strict mock runtime", () => {
    before(() => setupMocks());
    beforeEach(() => resetRecorded());
    after(() => resetRecorded());

    it("refuses an input string with `undefined` or `[object Object]` in it, naming the resource and the input", async () => {
        const missing: { url?: string } = {};
        new aws.ecr.RepositoryPolicy("strict-undefined", { repository: `${missing.url}:src-0`, policy: `${{ a: 1 }}` });
        await assert.rejects(settled(), /strict-undefined/);
        assert.throws(
            () => allResources(),
            (e: Error) =>
                /aws:ecr\/repositoryPolicy:RepositoryPolicy "strict-undefined" input repository = "undefined:src-0"/.test(e.message) &&
                /input policy = "\[object Object\]"/.test(e.message) &&
                e.message.split("\n").length === 2,
        );
    });

    it("fails a provider function it does not model", async () => {
        await assert.rejects(aws.ec2.getInternetGateway({}));
        assert.throws(() => allResources(), /^Error: mock runtime: provider function aws:ec2\/getInternetGateway:getInternetGateway is not modelled/);
    });

    it("answers the functions and outputs it models, as the real ones are shaped", async () => {
        const repository = new aws.ecr.Repository("strict-repo", {});
        assert.equal(await unwrap(repository.repositoryUrl), "123456789012.dkr.ecr.us-west-2.amazonaws.com/strict-repo");
        assert.equal((await unwrap(aws.ecr.getAuthorizationTokenOutput({}))).userName, "AWS");
        await settled();
        assert.deepEqual(allResources().map((r) => r.name), ["strict-repo"]);
    });

    it("finds nested suspicious strings by path and passes clean values", () => {
        assert.deepEqual(suspiciousStrings({ a: [{ b: "x-undefined" }], c: "ok", d: 1, e: pulumi.runtime.specialSigKey }), ['a[0].b = "x-undefined"']);
    });
});
