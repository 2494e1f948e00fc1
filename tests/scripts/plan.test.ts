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
import { PLAN_MARKER, writePlanFiles } from "../../scripts/plan/outDir";
import { parseSetting, planConfig } from "../../scripts/plan/stackConfig";
import { parseStackConfig } from "../../components/config/stack";
import { crdErrors, isCustomKind } from "../support/crds";

const root = path.resolve(__dirname, "../..");

/**
 * The network allowed to reach the dev stack's API, as a user passes it: the stack file ships a documentation-range
 * placeholder that plan and up refuse.
 */
const operatorNetwork = `apiEndpoint=${JSON.stringify({ access: "public", publicAccessCidrs: ["1.2.3.4/32"] })}`;

function plan(args: string[], cwd = root): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(root, "scripts/plan.ts"), ...args], { cwd, encoding: "utf8" });
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

    it("names the existing stacks when the stack file does not exist, in one line without a stack trace", () => {
        assert.throws(() => planConfig(root, "nope"), /no stack "nope": .*Pulumi\.nope\.yaml does not exist \(stacks here: .*dev.*\)/);
        const r = plan(["--stack", "staging"]);
        assert.equal(r.status, 1);
        assert.match(r.stderr, /^no stack "staging": .*Pulumi\.staging\.yaml does not exist \(stacks here: dev, prod\); create it with pulumi stack init staging/);
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    });

    it("says in one line what is wrong with a bare --set key, without a stack trace", () => {
        const r = plan(["--stack", "dev", "--set", "region"]);
        assert.equal(r.status, 1);
        assert.equal(r.stderr.trim(), "--set region: expected <key>=<value> or <key>.<field>=<value>, e.g. region=us-west-2 or apiEndpoint.access=public");
    });

    it("marks the folder it writes as its own, listing the files it wrote", () => {
        const marker = fs.readFileSync(path.join(out, PLAN_MARKER), "utf8");
        assert.ok(marker.split("\n").includes("tree.txt"), marker.slice(0, 300));
        assert.ok(marker.split("\n").includes("kubernetes/qwen.yaml"));
    });

    it("refuses a non-empty folder it did not write, leaving it untouched, before evaluating anything", () => {
        const foreign = fs.mkdtempSync(path.join(os.tmpdir(), "plan-foreign-"));
        try {
            fs.mkdirSync(path.join(foreign, ".git"));
            fs.writeFileSync(path.join(foreign, ".git", "HEAD"), "ref: refs/heads/main\n");
            fs.writeFileSync(path.join(foreign, "notes.txt"), "mine");
            const r = plan(["--stack", "dev", "--out", foreign, "--set", operatorNetwork]);
            assert.equal(r.status, 1);
            assert.equal(r.stderr.trim(), `--out ${foreign}: refusing to write into a folder that is not empty and was not written by npm run plan (it has no ${PLAN_MARKER} file); choose a new or empty folder`);
            assert.deepEqual(fs.readdirSync(foreign).sort(), [".git", "notes.txt"]);
            assert.equal(fs.readFileSync(path.join(foreign, "notes.txt"), "utf8"), "mine");
            assert.equal(fs.readFileSync(path.join(foreign, ".git", "HEAD"), "utf8"), "ref: refs/heads/main\n");
        } finally {
            fs.rmSync(foreign, { recursive: true, force: true });
        }
    });

    it("refuses --out . in a checkout", () => {
        const headBefore = fs.readFileSync(path.join(root, "package.json"), "utf8");
        const r = plan(["--stack", "dev", "--out", ".", "--set", operatorNetwork]);
        assert.equal(r.status, 1);
        assert.match(r.stderr, /^--out .*: refusing to write into a folder that is not empty and was not written by npm run plan/);
        assert.equal(fs.readFileSync(path.join(root, "package.json"), "utf8"), headBefore);
        assert.equal(fs.existsSync(path.join(root, PLAN_MARKER)), false);
    });

    it("quotes a version as typed, 1.30 and not 1.3", () => {
        const r = plan(["--stack", "dev", "--out", path.join(os.tmpdir(), "plan-never-written"), "--set", operatorNetwork, "--set", "kubernetesVersion=1.30"]);
        assert.equal(r.status, 1);
        assert.match(r.stderr, /gpu-serverless:kubernetesVersion: "1\.30" is not a supported Kubernetes version/);
    });

    it("names the key and quotes the text of a JSON typo in one line", () => {
        const r = plan(["--stack", "dev", "--out", path.join(os.tmpdir(), "plan-never-written"), "--set", operatorNetwork, "--set", 'models=[{"name":"a"]']);
        assert.equal(r.status, 1);
        assert.match(r.stderr, /gpu-serverless:models: is not valid JSON \(.*\) in the text \[\{"name":"a"\]\n/);
        assert.doesNotMatch(r.stderr, /expected array/);
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

    it("reads --set keys and Pulumi --path paths, keeping the value as typed", () => {
        assert.deepEqual(parseSetting("region=eu-west-1"), { key: "region", path: [], text: "eu-west-1", typed: "region=eu-west-1" });
        assert.deepEqual(parseSetting('gpuNodeGroups[0].labels["example.com/team"]=a=b').path, [0, "labels", "example.com/team"]);
        assert.equal(parseSetting('gpuNodeGroups[0].labels["example.com/team"]=a=b').text, "a=b");
        assert.deepEqual(parseSetting("apiEndpoint.access=public").path, ["access"]);
        assert.throws(() => parseSetting("novalue"), /^PlanConfigError: --set novalue: expected <key>=<value>/);
        assert.throws(() => parseSetting("a..b=1"), /--set a\.\.b=1: cannot read the path at "\.\.b"/);
    });

    describe("stack config with --set", () => {
        const value = (settings: string[], key: string) => planConfig(root, "dev", settings).config[`gpu-serverless:${key}`]!;
        const devEndpoint = () => JSON.parse(value([], "apiEndpoint"));

        it("passes a whole key's text as typed", () => {
            assert.equal(value(["kubernetesVersion=1.30"], "kubernetesVersion"), "1.30");
            assert.equal(value(["models=[]"], "models"), "[]");
        });

        it("sets one field by path, keeping its siblings, as pulumi config set --path does", () => {
            const endpoint = JSON.parse(value(["apiEndpoint.access=private", "apiEndpoint.privateAccessCidrs[0]=10.20.0.0/16"], "apiEndpoint"));
            assert.deepEqual(endpoint, { ...devEndpoint(), access: "private", privateAccessCidrs: ["10.20.0.0/16"] });
            assert.deepEqual(JSON.parse(value(["systemNodeGroup.maxSize=6", "protect=true"], "systemNodeGroup")).maxSize, 6);
            assert.deepEqual(JSON.parse(value(['apiEndpoint.publicAccessCidrs=["1.2.3.4/32"]'], "apiEndpoint")).publicAccessCidrs, ["1.2.3.4/32"]);
        });

        it("merges a JSON object into the key's object instead of resetting its siblings", () => {
            const endpoint = JSON.parse(value(['apiEndpoint={"publicAccessCidrs":["1.2.3.4/32"]}'], "apiEndpoint"));
            assert.deepEqual(endpoint, { ...devEndpoint(), publicAccessCidrs: ["1.2.3.4/32"] });
            assert.ok(Object.keys(devEndpoint()).length > 1, "the dev stack file sets more than the field replaced");
        });

        it("passes the program a stack whose paths it validates: apiEndpoint.access=public works", () => {
            const { config } = planConfig(root, "dev", ["apiEndpoint.access=public", "apiEndpoint.publicAccessCidrs[0]=1.2.3.4/32"]);
            assert.equal(parseStackConfig(config).apiEndpoint.access, "public");
        });

        it("says in one line why a setting cannot apply", () => {
            assert.throws(() => planConfig(root, "dev", ["region.name=x"]), /^PlanConfigError: --set region\.name=x: gpu-serverless:region holds the text "us-west-2", which has no fields/);
            assert.throws(() => planConfig(root, "dev", ["apiEndpoint.publicAccessCidrs=[1.2.3.4/32"]), /--set apiEndpoint\.publicAccessCidrs=\[1\.2\.3\.4\/32: gpu-serverless:apiEndpoint\.publicAccessCidrs is not valid JSON: .* in the text "\[1\.2\.3\.4\/32"/);
            assert.throws(() => planConfig(root, "dev", ["gpuNodeGroups[5].name=x"]), /gpu-serverless:gpuNodeGroups has 1 item\(s\); set \[1\] to add one/);
        });
    });

    describe("the folder plan writes", () => {
        let dir: string;
        beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "plan-own-"))));
        afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

        it("rewrites its own folder, deleting only the files it wrote before", () => {
            writePlanFiles(dir, new Map([["tree.txt", "old"], ["kubernetes/gone.yaml", "x"], ["helm/keda.yaml", "old"]]));
            fs.writeFileSync(path.join(dir, "kubernetes", "my-notes.md"), "mine");
            fs.writeFileSync(path.join(dir, "review.txt"), "mine");
            writePlanFiles(dir, new Map([["tree.txt", "new"], ["helm/keda.yaml", "new"]]));
            assert.deepEqual(fs.readdirSync(dir).sort(), [PLAN_MARKER, "helm", "kubernetes", "review.txt", "tree.txt"]);
            assert.deepEqual(fs.readdirSync(path.join(dir, "kubernetes")), ["my-notes.md"], "gone.yaml deleted, the user's file kept");
            assert.equal(fs.readFileSync(path.join(dir, "tree.txt"), "utf8"), "new");
            assert.equal(fs.readFileSync(path.join(dir, "helm", "keda.yaml"), "utf8"), "new");
        });

        it("removes the folders its old files leave empty", () => {
            writePlanFiles(dir, new Map([["tree.txt", "old"], ["kubernetes/a.yaml", "x"]]));
            writePlanFiles(dir, new Map([["tree.txt", "new"]]));
            assert.deepEqual(fs.readdirSync(dir).sort(), [PLAN_MARKER, "tree.txt"]);
        });

        it("refuses a marker that lists a file outside the folder, deleting nothing", () => {
            const outside = path.join(dir, "..", `${path.basename(dir)}-outside.txt`);
            fs.writeFileSync(outside, "keep");
            try {
                fs.mkdirSync(path.join(dir, "plan"));
                fs.writeFileSync(path.join(dir, "plan", PLAN_MARKER), `../../${path.basename(outside)}\n`);
                assert.throws(() => writePlanFiles(path.join(dir, "plan"), new Map([["tree.txt", "x"]])), /outside the folder/);
                assert.equal(fs.readFileSync(outside, "utf8"), "keep");
            } finally {
                fs.rmSync(outside, { force: true });
            }
        });
    });
});
