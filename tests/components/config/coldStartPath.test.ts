/**
 * The hold budget derived from the path the stack configures (config/coldStartPath.ts, domain/coldStartBudget.ts
 * `pathPhaseBudgets`), as a table: what a user sets → the default `coldStartTimeoutSeconds` of an 8B hf:// vLLM
 * model (an LLM: 600 s image pull, download and startup by default; 30 s scale-up delay) and the phases behind it.
 * Karpenter's node phase is 2 × (10 s batch + 180 s node ready) = 380 s; ECR's pull 2 × 120 s = 240 s.
 */
import * as assert from "node:assert/strict";
import { coldStartPathOf } from "../../../components/config/coldStartPath";
import { parseStackConfig } from "../../../components/config/stack";
import { coldStartBudget as pathFigures, holdMargin, slowestPhases } from "../../../components/domain/coldStartBudget";
import { inferenceServiceManifest } from "../../../components/manifests/model/inferenceService";
import { stackConfig } from "./stackFiles";

const sha = "7ae557604adf67be50417f59c2c2f167def9a775";
const hfLlm = { name: "qwen", format: "vllm", storageUri: `hf://Qwen/Qwen2.5-7B-Instruct:${sha}`, gpus: 1 };
const s3Llm = { ...hfLlm, storageUri: "s3://weights/qwen/v1", runtime: "gpu-serverless-vllm-openai" };
const credential = JSON.stringify({ username: "u", accessToken: "t" });
const ecr = {
    imageCache: { pullThroughCache: true, dockerHubCredentialsSecret: "dockerHub", githubCredentialsSecret: "ghcr" },
    dockerHub: credential,
    ghcr: credential,
};
const pool = (fields: object) => ({ gpuNodeGroups: [{ name: "a100", instanceType: "p4d.24xlarge", minSize: 0, maxSize: 2, ...fields }] });

const rows: { case: string; overrides: Record<string, unknown>; model?: object; path: string; node: number; phases: [number, number, number]; hold: number }[] = [
    { case: "today: cluster-autoscaler, images through NAT, storage initializer", overrides: pool({ provisioner: "cluster-autoscaler" }), path: "cluster-autoscaler/upstream/storageInitializer", node: 600, phases: [600, 600, 600], hold: 30 + 600 + 600 + 600 + 600 },
    { case: "cluster-autoscaler allowed 15 minutes for a node", overrides: { ...pool({ provisioner: "cluster-autoscaler" }), clusterAutoscaler: { maxNodeProvisionTime: "15m" } }, path: "cluster-autoscaler/upstream/storageInitializer", node: 900, phases: [600, 600, 600], hold: 30 + 900 + 600 + 600 + 600 },
    { case: "Karpenter", overrides: pool({ provisioner: "karpenter" }), path: "karpenter/upstream/storageInitializer", node: 380, phases: [600, 600, 600], hold: 30 + 380 + 600 + 600 + 600 },
    { case: "cluster-autoscaler with images from ECR", overrides: { ...pool({ provisioner: "cluster-autoscaler" }), ...ecr }, path: "cluster-autoscaler/ecr/storageInitializer", node: 600, phases: [240, 600, 600], hold: 30 + 600 + 240 + 600 + 600 },
    { case: "Karpenter + ECR", overrides: { ...pool({ provisioner: "karpenter" }), ...ecr }, path: "karpenter/ecr/storageInitializer", node: 380, phases: [240, 600, 600], hold: 30 + 380 + 240 + 600 + 600 },
    { case: "Karpenter + ECR + streamed s3:// weights: no download phase", overrides: { ...pool({ provisioner: "karpenter" }), ...ecr }, model: s3Llm, path: "karpenter/ecr/streamed", node: 380, phases: [240, 0, 600], hold: 30 + 380 + 240 + 0 + 600 },
    { case: "Karpenter + ECR + node cache: a new node's cache is empty, the download moves into the server start", overrides: { ...pool({ provisioner: "karpenter" }), ...ecr, nodeCache: true }, path: "karpenter/ecr/nodeCache", node: 380, phases: [240, 600, 600], hold: 30 + 380 + 240 + 600 + 600 },
    { case: "... and warm nodes: a warm node may be taken, the hold still covers a new one", overrides: { ...pool({ provisioner: "karpenter", warm: { nodes: 1 } }), ...ecr, nodeCache: true }, path: "karpenter/ecr/nodeCache/warm", node: 380, phases: [240, 600, 600], hold: 30 + 380 + 240 + 600 + 600 },
    { case: "node cache on, but the pool is cluster-autoscaler's: storage initializer", overrides: { gpuNodeGroups: [{ name: "a100", instanceType: "p4d.24xlarge", provisioner: "cluster-autoscaler" }, { name: "k", instanceType: "p4d.24xlarge", provisioner: "karpenter" }], nodeCache: true }, path: "cluster-autoscaler/upstream/storageInitializer", node: 600, phases: [600, 600, 600], hold: 2430 },
    { case: "a phase the model sets stays as set", overrides: { ...pool({ provisioner: "karpenter" }), ...ecr }, model: { ...hfLlm, coldStart: { imagePullSeconds: 900 } }, path: "karpenter/ecr/storageInitializer", node: 380, phases: [900, 600, 600], hold: 30 + 380 + 900 + 600 + 600 },
    { case: "a hold the model sets stays as set", overrides: { ...pool({ provisioner: "karpenter" }), ...ecr }, model: { ...hfLlm, coldStartTimeoutSeconds: 3000 }, path: "karpenter/ecr/storageInitializer", node: 380, phases: [240, 600, 600], hold: 3000 },
];

describe("hold budget derived from the path in use", () => {
    for (const row of rows) {
        it(`${row.case}: ${row.hold} s`, () => {
            const config = parseStackConfig(stackConfig("dev", { ...row.overrides, models: [row.model ?? hfLlm] }));
            const [model] = config.models;
            const path = coldStartPathOf(config, model)!;
            assert.equal([path.provisioner, path.images, path.weights, ...(path.warmNodes ? ["warm"] : [])].join("/"), row.path);
            assert.deepEqual([model.coldStart.imagePullSeconds, model.coldStart.downloadSeconds, model.coldStart.startupSeconds], row.phases);
            assert.equal(model.coldStartTimeoutSeconds, row.hold);
            if (!("coldStartTimeoutSeconds" in (row.model ?? {}))) {
                // The hold is the scale-up delay + the node phase + those three.
                assert.equal(row.hold, 30 + row.node + row.phases.reduce((a, b) => a + b, 0));
            }
        });
    }

    it("derives Karpenter's and ECR's budgets from the sourced figures, with the margin", () => {
        const karpenter = slowestPhases({ provisioner: "karpenter", images: "ecr", weights: "streamed", warmNodes: false });
        assert.equal(holdMargin * (karpenter.provisioning.max + karpenter.nodeReady.max), 380);
        assert.equal(holdMargin * karpenter.imagePull.max, 240);
        assert.deepEqual(karpenter.weights, pathFigures.fast.weights);
        const today = slowestPhases({ provisioner: "cluster-autoscaler", images: "upstream", weights: "nodeCache", warmNodes: true });
        assert.deepEqual(today, pathFigures.today, "the cache and warm nodes change nothing on a new node");
    });

    it("keeps the hold above the path's slowest figures", () => {
        for (const row of rows.filter((r) => !("coldStartTimeoutSeconds" in (r.model ?? {})))) {
            const config = parseStackConfig(stackConfig("dev", { ...row.overrides, models: [row.model ?? hfLlm] }));
            const [model] = config.models;
            const phases = slowestPhases(coldStartPathOf(config, model)!);
            const slowest = Object.values(phases).reduce((sum, p) => sum + p.max, 0);
            assert.ok(model.coldStartTimeoutSeconds > slowest, `${row.case}: hold ${model.coldStartTimeoutSeconds} s ≤ ${slowest} s`);
        }
    });

    it("gives a cached model's startup probe the download and the startup", () => {
        const config = parseStackConfig(stackConfig("dev", { ...pool({ provisioner: "karpenter" }), nodeCache: true, models: [hfLlm] }));
        const [model] = config.models;
        const isvc = inferenceServiceManifest(model, { serviceAccountName: "q", gpuScheduling: { nodeSelector: {}, tolerations: [] }, nodeCache: true }) as any;
        assert.equal(isvc.spec.predictor.model.startupProbe.failureThreshold, 600 + 600);
    });

    it("leaves CPU models on today's rule (system nodes under cluster-autoscaler)", () => {
        const config = parseStackConfig(stackConfig("dev", { ...pool({ provisioner: "karpenter" }), ...ecr, models: [{ name: "iris", format: "sklearn", storageUri: "gs://kfserving-examples/models/sklearn/1.0/model" }] }));
        assert.equal(coldStartPathOf(config, config.models[0]), undefined);
        assert.equal(config.models[0].coldStartTimeoutSeconds, 600 + 180 + 180 + 120);
    });
});
