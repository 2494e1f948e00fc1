import * as assert from "node:assert/strict";
import { checkNodeSelector, checkTolerations, onGpuNodes, requiredNodeAffinity } from "../../../../components/manifests/charts/scheduling";

const gpuToleration = { key: "nvidia.com/gpu", operator: "Equal", value: "true", effect: "NoSchedule" };

describe("values/scheduling", () => {
    it("requires every selector label in one node affinity term", () => {
        assert.deepEqual(requiredNodeAffinity({ "gpu-serverless.io/accelerator": "nvidia-a100", "nvidia.com/gpu.present": "true" }), {
            nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                    nodeSelectorTerms: [
                        {
                            matchExpressions: [
                                { key: "gpu-serverless.io/accelerator", operator: "In", values: ["nvidia-a100"] },
                                { key: "nvidia.com/gpu.present", operator: "In", values: ["true"] },
                            ],
                        },
                    ],
                },
            },
        });
    });

    it("places GPU daemons with that affinity and exactly the given tolerations, in a fresh list", () => {
        const tolerations = [gpuToleration];
        const values = onGpuNodes({ gpuNodeSelector: { "gpu-serverless.io/accelerator": "nvidia-a100" }, gpuTolerations: tolerations });
        assert.deepEqual(values.tolerations, tolerations);
        assert.notEqual(values.tolerations, tolerations);
        assert.deepEqual(values.affinity, requiredNodeAffinity({ "gpu-serverless.io/accelerator": "nvidia-a100" }));
    });

    it("accepts valid selectors, and an empty one where allowed", () => {
        assert.doesNotThrow(() => checkNodeSelector("X", "sel", { "gpu-serverless.io/node-group": "system", tier: "" }, true));
        assert.doesNotThrow(() => checkNodeSelector("X", "sel", {}, false));
    });

    const badSelectors: Array<[string, unknown, boolean, RegExp]> = [
        ["missing", undefined, false, /^X args\.sel: required: a map of node labels$/],
        ["empty where a label is needed", {}, true, /^X args\.sel: must name at least one node label/],
        ["a key with spaces", { "bad key": "a" }, false, /^X args\.sel\["bad key"\]: is not a valid label key/],
        ["an upper-case prefix", { "Example.COM/a": "b" }, false, /^X args\.sel\["Example\.COM\/a"\]: is not a valid label key/],
        ["a value too long", { a: "v".repeat(64) }, false, /^X args\.sel\["a"\]: "v{64}" is not a valid label value \(at most 63/],
        ["a non-string value", { a: 1 }, false, /^X args\.sel\["a"\]: 1 is not a valid label value \(/],
    ];
    for (const [what, selector, nonEmpty, message] of badSelectors) {
        it(`refuses a selector that is ${what}, naming it`, () => {
            assert.throws(() => checkNodeSelector("X", "sel", selector as never, nonEmpty), { message });
        });
    }

    it("accepts the GPU taint toleration and an Exists toleration", () => {
        assert.doesNotThrow(() => checkTolerations("X", "tol", [gpuToleration, { key: "CriticalAddonsOnly", operator: "Exists" }]));
    });

    const badTolerations: Array<[string, unknown, RegExp]> = [
        ["none", [], /^X args\.tol: must tolerate the GPU node taint/],
        ["missing", undefined, /^X args\.tol: must tolerate the GPU node taint/],
        ["without a key", [{ operator: "Exists" }], /^X args\.tol\[0\]: key undefined is not a valid taint key$/],
        ["Equal without a value", [{ key: "nvidia.com/gpu", operator: "Equal" }], /^X args\.tol\[0\]: operator Equal needs a valid value/],
        [
            "Exists with a value",
            [gpuToleration, { key: "a", operator: "Exists", value: "b" }],
            /^X args\.tol\[1\]: operator Exists takes no value$/,
        ],
        ["a bad operator", [{ key: "a", operator: "In" }], /^X args\.tol\[0\]: operator "In" is not Equal or Exists$/],
        ["a bad effect", [{ ...gpuToleration, effect: "NoExec" }], /^X args\.tol\[0\]: effect "NoExec" is not NoSchedule/],
    ];
    for (const [what, tolerations, message] of badTolerations) {
        it(`refuses tolerations that are ${what}, naming the entry`, () => {
            assert.throws(() => checkTolerations("X", "tol", tolerations as never), { message });
        });
    }
});
