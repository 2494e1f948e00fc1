import * as assert from "node:assert/strict";
import type { PolicyDocument } from "../../components/domain/iamPolicies";
import { evaluate } from "./iamEvaluator";

// The evaluator decides whether our IAM policies pass; it must refuse what IAM refuses.
describe("test support: IAM evaluator (AWS policy evaluation logic)", () => {
    const allow = (statement: object): PolicyDocument => ({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: [], ...statement }] });

    it("matches actions case-insensitively with wildcards, resources case-sensitively", () => {
        const p = allow({ Action: "s3:Get*", Resource: "arn:aws:s3:::b/m/?3/*" });
        assert.equal(evaluate(p, { action: "S3:GETOBJECT", resource: "arn:aws:s3:::b/m/v3/x" }), "allow");
        assert.equal(evaluate(p, { action: "s3:PutObject", resource: "arn:aws:s3:::b/m/v3/x" }), "implicitDeny");
        assert.equal(evaluate(p, { action: "s3:GetObject", resource: "arn:aws:s3:::b/M/v3/x" }), "implicitDeny");
        assert.equal(evaluate(p, { action: "s3:GetObject", resource: "arn:aws:s3:::b/m/v33/x" }), "implicitDeny");
    });

    it("treats a missing condition key as false, except for IfExists operators", () => {
        const like = allow({ Action: "s3:ListBucket", Resource: "*", Condition: { StringLike: { "s3:prefix": ["m/*"] } } });
        assert.equal(evaluate(like, { action: "s3:ListBucket", resource: "arn:aws:s3:::b", context: { "S3:Prefix": "m/v3" } }), "allow");
        assert.equal(evaluate(like, { action: "s3:ListBucket", resource: "arn:aws:s3:::b" }), "implicitDeny");
        const ifExists = allow({ Action: "s3:ListBucket", Resource: "*", Condition: { StringLikeIfExists: { "s3:prefix": ["m/*"] } } });
        assert.equal(evaluate(ifExists, { action: "s3:ListBucket", resource: "arn:aws:s3:::b" }), "allow");
        assert.equal(evaluate(ifExists, { action: "s3:ListBucket", resource: "arn:aws:s3:::b", context: { "s3:prefix": "x/" } }), "implicitDeny");
    });

    it("needs every key of every operator, any listed value of a key; an explicit Deny wins", () => {
        const p = allow({ Action: "a:B", Resource: "*", Condition: { StringEquals: { k1: ["x", "y"], k2: "z" } } });
        assert.equal(evaluate(p, { action: "a:B", resource: "r", context: { k1: "y", k2: "z" } }), "allow");
        assert.equal(evaluate(p, { action: "a:B", resource: "r", context: { k1: "y" } }), "implicitDeny");
        const denied: PolicyDocument = { ...p, Statement: [...p.Statement, { Effect: "Deny", Action: "a:*", Resource: "r" }] };
        assert.equal(evaluate(denied, { action: "a:B", resource: "r", context: { k1: "x", k2: "z" } }), "explicitDeny");
    });

    it("refuses to judge what it does not understand", () => {
        assert.throws(() => evaluate(allow({ Action: "a:B", Resource: "*", Condition: { ArnLike: { k: "x" } } }), { action: "a:B", resource: "r", context: { k: "x" } }), /ArnLike/);
        assert.throws(() => evaluate(allow({ NotAction: "a:B", Action: "a:B", Resource: "*" }), { action: "a:B", resource: "r" }), /NotAction/);
    });
});
