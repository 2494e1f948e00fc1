import * as assert from "node:assert/strict";
import { adminsBesideCreator, creatorPrincipalArn } from "../../../components/domain/clusterAdmins";

describe("domain/clusterAdmins: the creator EKS makes admin is not listed twice", () => {
    it("takes an assumed role's session back to its role", () => {
        assert.equal(creatorPrincipalArn("arn:aws:sts::123456789012:assumed-role/ci-deployer/gh-run-42"), "arn:aws:iam::123456789012:role/ci-deployer");
        assert.equal(creatorPrincipalArn("arn:aws-cn:sts::123456789012:assumed-role/ops/s"), "arn:aws-cn:iam::123456789012:role/ops");
        assert.equal(creatorPrincipalArn("arn:aws:iam::123456789012:user/alice"), "arn:aws:iam::123456789012:user/alice");
    });

    it("skips the creator however it is listed (role path included) and keeps everyone else", () => {
        const admins = ["arn:aws:iam::123456789012:role/platform/ci-deployer", "arn:aws:iam::123456789012:user/ci-deployer", "arn:aws:iam::999999999999:role/ci-deployer"];
        assert.deepEqual(adminsBesideCreator(admins, "arn:aws:iam::123456789012:role/ci-deployer"), {
            kept: admins.slice(1),
            skipped: admins.slice(0, 1),
        });
        assert.deepEqual(adminsBesideCreator(admins, "arn:aws:iam::123456789012:user/bob").skipped, []);
    });
});
