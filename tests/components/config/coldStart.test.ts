import * as assert from "node:assert/strict";
import { coldStartBudget, goDurationSeconds, scaleUpDelaySeconds } from "../../../components/config/coldStart";
import { modelFormats } from "../../../components/config/models";
import { parseStackConfig } from "../../../components/config/stack";
import { clusterAutoscalerValues } from "../../../components/manifests/charts/clusterAutoscaler";
import { problemsOf, stackConfig } from "./stackFiles";

const cpuOnly = ["sklearn", "xgboost", "lightgbm", "pmml", "paddle", "mlflow"];
const modelOf = (format: string, extra: object = {}) => ({
    name: `m-${format}`,
    format,
    storageUri: format === "vllm" || format === "huggingface" ? `hf://org/model:${"a".repeat(40)}` : "s3://bucket/models/v1",
    gpus: cpuOnly.includes(format) ? 0 : 1,
    ...extra,
});

describe("cold-start budget", () => {
    // Today's path (cluster-autoscaler, images through NAT, storage initializer); other paths: coldStartPath.test.ts.
    const caGroups = (parseStackConfig(stackConfig("dev")).gpuNodeGroups as object[]).map((g) => ({ ...g, provisioner: "cluster-autoscaler" }));

    it("adds up the phases of a GPU LLM: scale-up delay, node boot, image pull, download, server start", () => {
        const [qwen] = parseStackConfig(stackConfig("dev", { gpuNodeGroups: caGroups })).models;
        const budget = coldStartBudget(qwen, 600);
        assert.deepEqual(budget, {
            scaleUpDelaySeconds: 30,
            nodeProvisionSeconds: 600,
            imagePullSeconds: 600,
            downloadSeconds: 600,
            startupSeconds: 600,
            totalSeconds: 2430,
        });
        assert.equal(qwen.coldStartTimeoutSeconds, 2430);
    });

    // The rule of item 7: whatever cluster-autoscaler is allowed for a node, a held request outlasts it, so a
    // capacity failure (group backed off, next group tried) happens while the request still waits.
    for (const maxNodeProvisionTime of ["5m", "10m", "15m", "25m"]) {
        it(`holds every model format longer than cluster-autoscaler waits for a node (${maxNodeProvisionTime})`, () => {
            const config = parseStackConfig(
                stackConfig("dev", { clusterAutoscaler: { scaleDownUnneededTime: "5m", maxNodeProvisionTime }, gpuNodeGroups: caGroups, models: modelFormats.map((f) => modelOf(f)) }),
            );
            const caSeconds = goDurationSeconds(clusterAutoscalerValues({
                clusterName: "c", region: "us-west-2", kubernetesVersion: config.kubernetesVersion, roleArn: "arn", serviceAccount: "ca",
                scaleDownUnneededTime: "5m", maxNodeProvisionTime: config.clusterAutoscaler.maxNodeProvisionTime, systemNodeSelector: {}, serviceMonitor: false,
            }).extraArgs["max-node-provision-time"]);
            for (const model of config.models) {
                // CPU models run on the system nodes; when those are full, cluster-autoscaler adds one within the same bound.
                const floor = caSeconds + scaleUpDelaySeconds(model) + model.coldStart.startupSeconds;
                assert.ok(model.coldStartTimeoutSeconds > floor, `${model.format}: hold ${model.coldStartTimeoutSeconds} s > ${floor} s`);
            }
        });
    }

    it("refuses a hold that ends before cluster-autoscaler gives up on a GPU node", () => {
        const problems = problemsOf(stackConfig("dev", { models: [modelOf("vllm", { coldStartTimeoutSeconds: 600 })] }));
        assert.deepEqual(problems, [
            "gpu-serverless:models[0].coldStartTimeoutSeconds: 600 s ends before cluster-autoscaler gives up on a GPU node (30 s scale-up delay + 600 s clusterAutoscaler.maxNodeProvisionTime): a capacity failure would never be seen; the phases add up to 2430 s, leave it out to use that",
        ]);
        // A CPU model's explicit short hold is its owner's choice (the default covers a system node being added).
        assert.equal(parseStackConfig(stackConfig("dev", { models: [modelOf("sklearn", { coldStartTimeoutSeconds: 60 })] })).models[0].coldStartTimeoutSeconds, 60);
    });

    it("takes per-phase budgets, and refuses phases that add up beyond the longest hold", () => {
        const [model] = parseStackConfig(stackConfig("dev", { gpuNodeGroups: caGroups, models: [modelOf("onnx", { coldStart: { downloadSeconds: 1200 } })] })).models;
        assert.deepEqual(model.coldStart, { imagePullSeconds: 600, downloadSeconds: 1200, startupSeconds: 300 });
        assert.equal(model.coldStartTimeoutSeconds, 30 + 600 + 600 + 1200 + 300);
        const problems = problemsOf(stackConfig("dev", { models: [modelOf("vllm", { coldStart: { downloadSeconds: 4000 } })] }));
        assert.match(problems.join("\n"), /models\[0\]\.coldStart: the phases add up to 5830 s, more than the 5400 s/);
    });

    it("reads Go durations", () => {
        assert.deepEqual(["10m", "1h30m", "90s", "1h"].map(goDurationSeconds), [600, 5400, 90, 3600]);
    });
});
