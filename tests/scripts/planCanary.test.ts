/**
 * `npm run plan` of the dev stack with a canary on its LLM: the program (index.ts) deploys the canary as an
 * InferenceService of its own with its own ScaledObject, gives the activator its split, and adds the canary alerts.
 * Runs the CLI as a user would and reads back what it wrote.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import { crdErrors, isCustomKind } from "../support/crds";

const root = path.resolve(__dirname, "../..");
const canaryUri = "hf://Qwen/Qwen2.5-1.5B-Instruct:989aa7980e4cf806f80c7fef2b1adb7bc71aa306";

describe("npm run plan: a model with a canary", function () {
    this.timeout(180_000);
    let out: string;
    let objects: any[];

    before(() => {
        out = fs.mkdtempSync(path.join(os.tmpdir(), "plan-canary-"));
        const canary = { storageUri: canaryUri, trafficPercent: 10, stickiness: { by: "header" }, memory: "64Gi" };
        const args = ["--stack", "dev", "--out", out, "--set", `apiEndpoint=${JSON.stringify({ access: "public", publicAccessCidrs: ["1.2.3.4/32"] })}`, "--set", `models[0].canary=${JSON.stringify(canary)}`];
        const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(root, "scripts/plan.ts"), ...args], { cwd: root, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        const dir = path.join(out, "kubernetes");
        objects = fs.readdirSync(dir).flatMap((f) => YAML.parseAllDocuments(fs.readFileSync(path.join(dir, f), "utf8")).map((d) => d.toJS()));
    });
    after(() => fs.rmSync(out, { recursive: true, force: true }));

    const find = (kind: string, name: string) => objects.find((o) => o?.kind === kind && o.metadata?.name === name);

    it("deploys qwen-canary as its own InferenceService with the canary's weights and the stable's served name, valid against the CRD", () => {
        const isvc = find("InferenceService", "qwen-canary");
        assert.ok(isvc, "InferenceService qwen-canary");
        assert.equal(isvc.spec.predictor.model.storageUri, canaryUri);
        assert.ok(isvc.spec.predictor.model.args.includes("--model_name=qwen2.5-0.5b-instruct"), isvc.spec.predictor.model.args.join(" "));
        assert.equal(isvc.spec.predictor.model.resources.limits.memory, "64Gi");
        assert.ok(find("InferenceService", "qwen"), "the stable stays");
        for (const o of [isvc, find("ScaledObject", "qwen-canary")]) {
            assert.ok(isCustomKind(o.apiVersion, o.kind), `${o.kind} is checked against its CRD`);
            assert.deepEqual(crdErrors(o), [], `${o.kind} ${o.metadata.name}`);
        }
    });

    it("scales it with its own ScaledObject: one external-push trigger naming models/qwen-canary, from zero", () => {
        const so = find("ScaledObject", "qwen-canary");
        assert.equal(so.spec.scaleTargetRef.name, "qwen-canary-predictor");
        assert.equal(so.spec.minReplicaCount, 0);
        const push = so.spec.triggers.filter((t: any) => t.type === "external-push");
        assert.equal(push.length, 1);
        assert.equal(push[0].metadata.model, "models/qwen-canary");
    });

    it("gives the activator the split, and the PrometheusRule the canary alerts", () => {
        const configMap = find("ConfigMap", "activator-config");
        const config = JSON.parse(configMap.data["config.yaml"]);
        const qwen = config.models.find((m: any) => m.name === "qwen");
        assert.deepEqual(qwen.canary, { backend: "http://qwen-canary-predictor.models.svc.cluster.local", serviceName: "qwen-canary-predictor", trafficPercent: 10, stickiness: { by: "header", header: "x-session-id" }, coldPolicy: "strict" });
        const rule = objects.find((o) => o?.kind === "PrometheusRule");
        const group = rule.spec.groups.find((g: any) => g.name === "gpu-serverless.canary");
        assert.deepEqual(group.rules.map((r: any) => r.alert), ["CanaryErrorRateWorse", "CanaryLatencyWorse"]);
        assert.match(group.rules[0].expr, /models\/qwen-canary/);
    });
});
