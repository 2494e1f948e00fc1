import * as assert from "node:assert/strict";
import { checkDnsLabel, checkPrometheusDuration, checkStorageSize, labelKeyProblem, labelValueProblem } from "../../../components/domain/checks";

describe("values/checks", () => {
    const cases: Array<[string, (o: string, f: string, v: string) => void, string[], unknown[], RegExp]> = [
        [
            "names",
            checkDnsLabel,
            ["monitoring", "gp3", "a", "x".repeat(63)],
            ["", "Monitoring", "kube_system", "-a", "a-", "x".repeat(64), 3],
            /is not a valid name/,
        ],
        [
            "Prometheus durations",
            checkPrometheusDuration,
            ["15d", "12h", "1y2w", "90m", "1d12h"],
            ["", "0", "15 days", "15D", "h", "12h1d", 15],
            /is not a Prometheus duration; use e\.g\. "15d"/,
        ],
        [
            "storage sizes",
            checkStorageSize,
            ["50Gi", "1Ti", "512Mi"],
            ["", "50", "50GB", "0Gi", "-5Gi", "1.5Ti", 50],
            /is not a storage size; use e\.g\. "50Gi"/,
        ],
    ];
    for (const [what, check, good, bad, message] of cases) {
        it(`accepts valid ${what}`, () => {
            for (const value of good) assert.doesNotThrow(() => check("Owner", "field", value), value);
        });
        it(`refuses invalid ${what}, naming owner, field and value`, () => {
            for (const value of bad) {
                assert.throws(() => check("Owner \"x\"", "field", value as string), (err: Error) => {
                    assert.ok(err.message.startsWith(`Owner "x" args.field: ${JSON.stringify(value)} `), err.message);
                    assert.match(err.message, message);
                    return true;
                });
            }
        });
    }

    it("accepts label keys and values Kubernetes accepts, refusing the rest with the rule", () => {
        for (const key of ["team", "gpu-serverless.io/node-group", "k8s.amazonaws.com/accelerator", "a.b-c/X_y.z", "x".repeat(63)]) {
            assert.equal(labelKeyProblem(key), undefined, key);
        }
        for (const key of ["", "bad key", "Example.COM/a", "/a", "a/", "a/b/c", "-a", "x".repeat(64), `${"p".repeat(254)}/a`]) {
            assert.match(labelKeyProblem(key) ?? "", /is not a valid label key \(\[dns-prefix\/\]name, name at most 63 characters\)/, key);
        }
        for (const value of ["", "ml", "nvidia-a100", "A.b_c-1", "v".repeat(63)]) assert.equal(labelValueProblem(value), undefined, value);
        for (const value of ["ml platform", "-a", "a-", "v".repeat(64), 1]) {
            assert.match(labelValueProblem(value as string) ?? "", /is not a valid label value \(at most 63 of A-Z a-z 0-9 - _ \./, String(value));
        }
    });
});
