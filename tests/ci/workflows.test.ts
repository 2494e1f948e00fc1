/**
 * The GitHub Actions workflows: checked by actionlint (syntax, expressions, action inputs, runner labels), built by
 * `.ci/run` from the Go module proxy into ~/.cache/gpu-serverless/bin, and read for what a reviewer checks: least
 * privilege, OIDC credentials only, a preview per stack commented on the PR, `pulumi up` per stack branch.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";

const root = path.resolve(__dirname, "../..");
const workflowsDir = path.join(root, ".github/workflows");
const read = (name: string): any => YAML.parse(fs.readFileSync(path.join(workflowsDir, name), "utf8"));
const stacks = fs.readdirSync(root).flatMap((f) => /^Pulumi\.(\w+)\.yaml$/.exec(f)?.[1] ?? []).sort();
const stackRegion = (stack: string): string => YAML.parse(fs.readFileSync(path.join(root, `Pulumi.${stack}.yaml`), "utf8")).config["gpu-serverless:region"];

function actionlintPath(): string | undefined {
    const dirs = [...(process.env.PATH ?? "").split(path.delimiter), path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "gpu-serverless/bin")];
    return dirs.map((d) => path.join(d, "actionlint")).find((p) => fs.existsSync(p));
}

function actionlint(cwd: string, args: string[] = []): { ok: boolean; output: string } {
    try {
        return { ok: true, output: execFileSync(actionlintPath()!, ["-no-color", ...args], { cwd, encoding: "utf8", stdio: "pipe" }) };
    } catch (err) {
        const e = err as { stdout?: string; stderr?: string };
        return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
    }
}

const steps = (job: any): any[] => job.steps;
const uses = (job: any, action: string) => steps(job).find((s) => typeof s.uses === "string" && s.uses.startsWith(`${action}@`));

describe("GitHub Actions workflows", () => {
    describe("actionlint", function () {
        this.timeout(60_000);
        before(function () {
            if (!actionlintPath()) this.skip(); // .ci/run builds it; without Go it cannot
        });

        it("passes on every workflow", () => {
            const result = actionlint(root);
            assert.ok(result.ok, result.output);
        });

        it("would catch a mistake in them", () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "actionlint-"));
            try {
                fs.mkdirSync(path.join(dir, ".github/workflows"), { recursive: true });
                fs.copyFileSync(path.join(root, ".github/actionlint.yaml"), path.join(dir, ".github/actionlint.yaml"));
                const text = fs.readFileSync(path.join(workflowsDir, "pull-request.yml"), "utf8").replace("matrix.region", "matrix.regoin");
                fs.writeFileSync(path.join(dir, ".github/workflows/pull-request.yml"), text);
                const result = actionlint(dir, ["-config-file", ".github/actionlint.yaml", ".github/workflows/pull-request.yml"]);
                assert.equal(result.ok, false);
                assert.match(result.output, /regoin/);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });

    if (!actionlintPath()) it("actionlint is not installed: run .ci/run (needs Go) to check the workflows with it");

    for (const name of ["pull-request.yml", "deploy.yml"]) {
        it(`${name}: grants nothing by default, each job only what it uses, and no long-lived secret`, () => {
            const wf = read(name);
            assert.deepEqual(wf.permissions, {});
            for (const [id, job] of Object.entries<any>(wf.jobs)) {
                assert.ok(job.permissions, `${id} lists its permissions`);
                assert.equal(job.permissions.contents, "read", `${id}: contents read`);
                for (const [scope, level] of Object.entries(job.permissions)) {
                    if (scope === "contents") continue;
                    const allowed = scope === "id-token" ? uses(job, "aws-actions/configure-aws-credentials") !== undefined : scope === "pull-requests" && job.strategy !== undefined;
                    assert.ok(allowed && level === "write", `${id}: ${scope}: ${String(level)} is needed`);
                }
            }
            const text = fs.readFileSync(path.join(workflowsDir, name), "utf8");
            assert.deepEqual([...new Set(text.match(/secrets\.\w+/g) ?? [])].filter((s) => s !== "secrets.GITHUB_TOKEN"), []);
            assert.doesNotMatch(text, /aws-access-key-id|aws-secret-access-key|PULUMI_ACCESS_TOKEN/);
        });
    }

    it("pull-request.yml runs the tests, then previews every stack with OIDC credentials and comments the preview on the PR", () => {
        const wf = read("pull-request.yml");
        assert.ok(wf.on.pull_request);
        assert.ok(steps(wf.jobs.test).some((s) => s.run === ".ci/run"), "the test job runs .ci/run (npm ci, npm test)");
        const preview = wf.jobs.preview;
        assert.equal(preview.needs, "test");
        assert.deepEqual(preview.strategy.matrix.include.map((m: any) => m.stack).sort(), stacks);
        for (const m of preview.strategy.matrix.include) assert.equal(m.region, stackRegion(m.stack), `${m.stack} region`);
        assert.match(uses(preview, "aws-actions/configure-aws-credentials").with["role-to-assume"], /AWS_PREVIEW_ROLE_ARN/);
        assert.ok(uses(preview, "pulumi/auth-actions"), "Pulumi Cloud token through OIDC");
        const pulumi = uses(preview, "pulumi/actions").with;
        assert.equal(pulumi.command, "preview");
        assert.equal(pulumi.upsert, true, "a stack not yet created is created (pulumi stack init), not a failed preview");
        assert.equal(pulumi["comment-on-pr"], true);
        assert.match(pulumi["stack-name"], /matrix\.stack/);
    });

    it("sets up the Node.js that .ci/run installs and package.json's engines allow", () => {
        const pinned = /^NODE_VERSION=(\d+)\./m.exec(fs.readFileSync(path.join(root, ".ci/run"), "utf8"))?.[1];
        assert.ok(pinned, ".ci/run pins NODE_VERSION");
        const floor = Number(/>=\s*(\d+)/.exec(JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).engines.node)?.[1]);
        assert.ok(Number(pinned) >= floor && floor >= 24, `engines floor ${floor}, pinned ${pinned}`);
        for (const name of ["pull-request.yml", "deploy.yml"]) {
            for (const [id, job] of Object.entries<any>(read(name).jobs)) {
                const setup = uses(job, "actions/setup-node");
                if (setup) assert.equal(String(setup.with["node-version"]), pinned, `${name} ${id}`);
            }
        }
        const dockerfile = fs.readFileSync(path.join(root, "activator/Dockerfile"), "utf8");
        for (const [, image] of dockerfile.matchAll(/^FROM (\S+)/gm)) assert.ok(image!.includes(`node:${pinned}-`) || image!.includes(`nodejs${pinned}-`), image);
    });

    it("deploy.yml runs pulumi up for the stack named after the branch merged to, one at a time, in its environment", () => {
        const wf = read("deploy.yml");
        assert.deepEqual([...wf.on.push.branches].sort(), stacks);
        assert.equal(wf.concurrency.group, "deploy-${{ github.ref_name }}");
        assert.equal(wf.concurrency["cancel-in-progress"], false);
        const up = wf.jobs.up;
        assert.equal(up.environment, "${{ github.ref_name }}");
        assert.match(uses(up, "aws-actions/configure-aws-credentials").with["role-to-assume"], /vars\.AWS_DEPLOY_ROLE_ARN/);
        const pulumi = uses(up, "pulumi/actions").with;
        assert.equal(pulumi.command, "up");
        assert.equal(pulumi.upsert, true, "the first deploy of a stack creates it");
        assert.match(pulumi["stack-name"], /github\.ref_name/);
    });
});
