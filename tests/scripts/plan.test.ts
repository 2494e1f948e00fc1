/**
 * `npm run plan`: the program evaluated under mocks with a stack's config, written as reviewable files. Runs the CLI
 * as a user would (a child process) and reads back what it wrote.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { charts } from "../../components/domain/versions";
import { REDACTED, renderPlan } from "../../scripts/plan/render";
import type { PlannedResource } from "../../scripts/plan/runtime";
import { parseSetting, planConfig } from "../../scripts/plan/stackConfig";
import { crdErrors, isCustomKind } from "../support/crds";

const root = path.resolve(__dirname, "../..");

/**
 * The network allowed to reach the dev stack's API, as a user passes it: the stack file ships a documentation-range
 * placeholder that plan and up refuse.
 */
const operatorNetwork = `apiEndpoint=${JSON.stringify({ access: "public", publicAccessCidrs: ["1.2.3.4/32"] })}`;

function plan(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "scripts/plan.ts", ...args], { cwd: root, encoding: "utf8" });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const readAll = (dir: string): any[] =>
    fs.readdirSync(dir).flatMap((f) => YAML.parseAllDocuments(fs.readFileSync(path.join(dir, f), "utf8")).map((d) => d.toJS()));

describe("npm run plan", function () {
    this.timeout(180_000);
    let out: string;

    before(() => {
        out = fs.mkdtempSync(path.join(os.tmpdir(), "plan-"));
        const r = plan(["--stack", "dev", "--out", out, "--set", operatorNetwork]);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /plan of stack "dev": \d+ resources/);
    });
    after(() => fs.rmSync(out, { recursive: true, force: true }));

    it("writes one YAML file of Kubernetes objects per component, each object valid against upstream CRDs", () => {
        const files = fs.readdirSync(path.join(out, "kubernetes")).sort();
        for (const component of ["activator.yaml", "qwen.yaml", "iris.yaml", "gpu-keda.yaml", "gpu-kserve.yaml"]) {
            assert.ok(files.includes(component), `${component} missing; files: ${files.join(", ")}`);
        }
        const objects = readAll(path.join(out, "kubernetes"));
        for (const o of objects) {
            assert.ok(o.apiVersion && o.kind && o.metadata?.name, `incomplete object ${JSON.stringify(o).slice(0, 200)}`);
            if (isCustomKind(o.apiVersion, o.kind)) assert.deepEqual(crdErrors(o), [], `${o.kind} ${o.metadata.name}`);
        }
        const qwen = YAML.parseAllDocuments(fs.readFileSync(path.join(out, "kubernetes", "qwen.yaml"), "utf8")).map((d) => d.toJS());
        for (const kind of ["InferenceService", "ScaledObject", "ServiceMonitor", "NetworkPolicy"]) {
            assert.ok(qwen.some((o) => o.kind === kind && o.metadata.namespace === "models"), `qwen.yaml has no ${kind}`);
        }
    });

    it("writes each Helm release with the pinned chart and version and its values", () => {
        const releases = fs.readdirSync(path.join(out, "helm")).map((f) => YAML.parse(fs.readFileSync(path.join(out, "helm", f), "utf8")));
        const keda = releases.find((r) => r.chart === "keda");
        assert.ok(keda, `no keda release among ${releases.map((r) => r.chart).join(", ")}`);
        assert.equal(keda.version, charts.keda.version);
        assert.equal(keda.repository, charts.keda.repository);
        const kserve = releases.find((r) => String(r.chart).endsWith("/kserve-resources"));
        assert.equal(kserve?.values.kserve.controller.deploymentMode, "Standard");
        const installed = releases.map((r) => `${String(r.chart).split("/").pop()}@${r.version}`).sort();
        assert.deepEqual(installed, Object.values(charts).map((c) => `${c.name}@${c.version}`).sort(), "every pinned chart, once");
        for (const r of releases) assert.ok(r.release && r.namespace && r.version && typeof r.values === "object", JSON.stringify(r).slice(0, 200));
    });

    it("writes the resource tree by component, AWS resources included, and redacts secrets", () => {
        const tree = fs.readFileSync(path.join(out, "tree.txt"), "utf8");
        assert.match(tree, /▸ gpu-serverless:models:ServerlessModel qwen\n {2}kubernetes:/);
        assert.match(tree, /eks:index:Cluster gpu-cluster-eks/);
        assert.match(tree, /\[InferenceService models\/qwen\]/);
        const secrets = readAll(path.join(out, "kubernetes")).filter((o) => o.kind === "Secret");
        assert.ok(secrets.length > 0);
        for (const s of secrets) {
            for (const field of [s.data, s.stringData].filter((f) => f !== undefined)) {
                assert.equal(typeof field, "object", `${s.metadata.name}: its keys are listed`);
                for (const v of Object.values<string>(field)) assert.equal(v, REDACTED, `${s.metadata.name} leaks a value`);
            }
        }
    });

    it("fails on an invalid stack config with the program's error naming the key, writing nothing", () => {
        const bad = fs.mkdtempSync(path.join(os.tmpdir(), "plan-bad-"));
        fs.rmSync(bad, { recursive: true });
        const r = plan(["--stack", "dev", "--out", bad, "--set", "kubernetesVersion=1.2"]);
        assert.equal(r.status, 1);
        assert.match(r.stderr, /gpu-serverless:kubernetesVersion/);
        assert.equal(fs.existsSync(bad), false);
    });

    it("refuses the shipped stack file's placeholder network, saying what to put there, writing nothing", () => {
        const bad = fs.mkdtempSync(path.join(os.tmpdir(), "plan-placeholder-"));
        fs.rmSync(bad, { recursive: true });
        const r = plan(["--stack", "dev", "--out", bad]);
        assert.equal(r.status, 1);
        assert.match(r.stderr, /gpu-serverless:apiEndpoint\.publicAccessCidrs\[0\]: 203\.0\.113\.0\/24 is a documentation range .*egress CIDR/);
        assert.equal(fs.existsSync(bad), false);
    });

    it("names the existing stacks when the stack file does not exist", () => {
        assert.throws(() => planConfig(root, "nope"), /no stack "nope": .*Pulumi\.nope\.yaml does not exist \(stacks here: .*dev.*\)/);
    });
});

describe("plan rendering (pure)", () => {
    const res = (p: Partial<PlannedResource> & { urn: string; type: string }): PlannedResource => ({
        name: p.urn.split("::").pop()!,
        custom: true,
        parent: "",
        inputs: {},
        ...p,
    });

    it("puts each object in its nearest component's file, redacting secret values anywhere", () => {
        const secret = { [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value: "hunter2" };
        const files = renderPlan(
            [
                res({ urn: "u::comp", type: "x:y:Comp", custom: false }),
                res({ urn: "u::inner", type: "x:y:Inner", custom: false, parent: "u::comp" }),
                res({ urn: "u::cm", type: "kubernetes:core/v1:ConfigMap", parent: "u::inner", inputs: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" }, data: { k: secret } } }),
                res({ urn: "u::ns", type: "kubernetes:core/v1:Namespace", parent: "u::comp", inputs: { apiVersion: "v1", kind: "Namespace", metadata: { name: "n" } } }),
            ],
            "h",
        );
        assert.deepEqual([...files.keys()].sort(), ["kubernetes/comp.yaml", "kubernetes/inner.yaml", "tree.txt"]);
        assert.deepEqual(YAML.parse(files.get("kubernetes/inner.yaml")!).data, { k: REDACTED });
        const whole = renderPlan(
            [res({ urn: "u::s", type: "kubernetes:core/v1:Secret", inputs: { apiVersion: "v1", kind: "Secret", metadata: { name: "s" }, stringData: { ...secret, value: { user: "admin", password: "hunter2" } } } })],
            "h",
        );
        assert.deepEqual(YAML.parse(whole.get("kubernetes/stack.yaml")!).stringData, { user: REDACTED, password: REDACTED }, "keys kept, values redacted");
        assert.doesNotMatch([...files.values()].join(""), /hunter2/);
    });

    it("parses --set values as JSON when they are JSON, else as strings", () => {
        assert.deepEqual(parseSetting('models=[{"name":"a"}]'), ["models", [{ name: "a" }]]);
        assert.deepEqual(parseSetting("region=eu-west-1"), ["region", "eu-west-1"]);
        assert.throws(() => parseSetting("novalue"), /expected <key>=<value>/);
    });
});
