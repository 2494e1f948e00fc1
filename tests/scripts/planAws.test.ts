/**
 * `npm run plan`'s tree.txt shows the AWS side a reviewer judges: instance types and sizes, CIDRs and endpoint access,
 * IAM policy documents, security group rules, ARNs of a valid shape, and the children of the EKS cluster (a remote
 * component: listed from the pulumi-eks v4.3.0 model in scripts/plan/eksModel.ts). Runs the CLI as a user would.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { eksClusterChildren } from "../../scripts/plan/eksModel";
import { planConfig } from "../../scripts/plan/stackConfig";

const root = path.resolve(__dirname, "../..");

/** The stacks' API networks are placeholders the program refuses: real-looking ones, as a user passes them. */
const settings: Record<string, string[]> = {
    dev: [`apiEndpoint=${JSON.stringify({ access: "public", publicAccessCidrs: ["1.2.3.4/32"] })}`],
    prod: [`apiEndpoint=${JSON.stringify({ access: "private", privateAccessCidrs: ["10.20.0.0/16"] })}`],
};

function tree(stack: string, out: string): string {
    const args = ["-r", "ts-node/register/transpile-only", path.join(root, "scripts/plan.ts"), "--stack", stack, "--out", out, ...settings[stack].flatMap((s) => ["--set", s])];
    const r = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return fs.readFileSync(path.join(out, "tree.txt"), "utf8");
}

/** The lines of the first resource whose line matches `header`: its line, its settings and everything nested below it. */
function block(text: string, header: RegExp): string {
    const lines = text.split("\n");
    const start = lines.findIndex((l) => header.test(l));
    assert.ok(start >= 0, `tree.txt has no line matching ${header}`);
    const indent = lines[start].search(/\S/);
    const end = lines.findIndex((l, i) => i > start && l.trim() !== "" && l.search(/\S/) <= indent);
    return lines.slice(start, end < 0 ? undefined : end).join("\n");
}

/** The config value of `key` (JSON-decoded) for the stack with the test's settings. */
const config = (stack: string, key: string): any => JSON.parse(planConfig(root, stack, settings[stack]).config[`gpu-serverless:${key}`]);

describe("npm run plan: the AWS side in tree.txt", function () {
    this.timeout(180_000);
    const trees: Record<string, string> = {};
    let out: string;

    before(() => {
        out = fs.mkdtempSync(path.join(os.tmpdir(), "plan-aws-"));
        for (const stack of ["dev", "prod"]) trees[stack] = tree(stack, path.join(out, stack));
    });
    after(() => fs.rmSync(out, { recursive: true, force: true }));

    for (const stack of ["dev", "prod"]) {
        it(`${stack}: the system nodes' instance type, root volume and group sizes`, () => {
            const system = config(stack, "systemNodeGroup");
            const template = block(trees[stack], /LaunchTemplate \S+-system-launch-template/);
            assert.match(template, new RegExp(`· instanceType: ${system.instanceType.replace(".", "\\.")}$`, "m"));
            assert.match(template, /· {7}encrypted: "true"/);
            assert.match(template, /httpTokens: required/);
            const group = block(trees[stack], /NodeGroup \S+-system-nodes/);
            assert.match(group, new RegExp(`minSize: ${system.minSize}$`, "m"));
            assert.match(group, new RegExp(`maxSize: ${system.maxSize}$`, "m"));
            assert.match(group, /amiType: AL2023_x86_64_STANDARD/);
        });

        it(`${stack}: the VPC and subnet CIDRs`, () => {
            const vpc = block(trees[stack], /aws:ec2\/vpc:Vpc /);
            assert.match(vpc, new RegExp(`cidrBlock: ${config(stack, "vpc").cidrBlock}$`, "m"));
            assert.match(block(trees[stack], /aws:ec2\/subnet:Subnet \S+-private-0$/), /cidrBlock: \d+\.\d+\.\d+\.\d+\/\d+$/m);
        });

        it(`${stack}: IAM policy documents as statements, not JSON strings`, () => {
            const policy = block(trees[stack], /aws:iam\/rolePolicy:RolePolicy \S+-karpenter-controller-policy/);
            assert.match(policy, /· policy:\n.*Version: 2012-10-17\n.*Statement:/);
            assert.match(policy, /ec2:CreateFleet/);
            assert.doesNotMatch(trees[stack], /"Statement"/);
        });

        it(`${stack}: every ARN has a valid shape`, () => {
            const arns = [...new Set(trees[stack].match(/arn:aws:[^\s"',)\]]+/g) ?? [])];
            assert.ok(arns.length > 10, `only ${arns.length} ARNs in tree.txt`);
            const shapes = [
                /^arn:aws:iam::\d{12}:(role|policy|instance-profile|user|oidc-provider)\/\S+$/,
                /^arn:aws:iam::aws:policy\/\S+$/,
                /^arn:aws:eks::aws:cluster-access-policy\/\S+$/,
                /^arn:aws:s3:::\S+$/,
                // Regional services: region and account, either of which a policy may leave empty (AMIs) or wildcard.
                /^arn:aws:(?!iam:|s3:)[a-z0-9-]+:([a-z]{2}(-[a-z]+)+-\d|\*)?:(\d{12}|\*)?:\S+$/,
            ];
            for (const arn of arns) assert.ok(shapes.some((s) => s.test(arn)), `not an ARN of a valid shape: ${arn}`);
        });

        it(`${stack}: the EKS cluster's children from the pulumi-eks v4.3.0 model, with its endpoint access`, () => {
            const eks = block(trees[stack], /▸ eks:index:Cluster /);
            const cluster = block(eks, /aws:eks\/cluster:Cluster \S+-eksCluster {2}\(modelled: pulumi-eks v4\.3\.0\)/);
            const endpoint = config(stack, "apiEndpoint");
            assert.match(cluster, new RegExp(`endpointPublicAccess: ${endpoint.access === "public"}`));
            assert.match(cluster, /endpointPrivateAccess: true/);
            if (endpoint.access === "public") assert.match(cluster, new RegExp(`publicAccessCidrs:\n.*- ${endpoint.publicAccessCidrs[0]}`));
            else assert.doesNotMatch(cluster, /publicAccessCidrs/);
            assert.match(cluster, /authenticationMode: API/);
            assert.match(cluster, /cluster security group/);
            assert.match(block(eks, /aws:iam\/role:Role \S+-eksRole-role/), /Service:\n.*- eks\.amazonaws\.com/);
            assert.match(block(eks, /aws:iam\/openIdConnectProvider:OpenIdConnectProvider/), /sts\.amazonaws\.com/);
            assert.match(block(eks, /aws:eks\/addon:Addon \S+-kube-proxy/), /addonName: kube-proxy/);
            assert.match(block(eks, /aws:eks\/addon:Addon \S+-vpc-cni/), /enableNetworkPolicy: "true"/);
            assert.match(trees[stack], /registered by the program, \d+ modelled children of eks\.Cluster/);
        });
    }

    it("prod: the private endpoint's security group rules, 443 from each listed network", () => {
        const cidr = config("prod", "apiEndpoint").privateAccessCidrs[0];
        const rule = block(trees.prod, /SecurityGroupIngressRule \S+-api-from-cidr-/);
        assert.match(rule, new RegExp(`cidrIpv4: ${cidr.replace(/\./g, "\\.")}`));
        assert.match(rule, /fromPort: 443\n.*ipProtocol: tcp\n(.*\n)*.*toPort: 443/);
    });

    it("refuses eks.Cluster arguments the pulumi-eks model does not cover, naming the argument", () => {
        const inputs = { skipDefaultNodeGroup: true, skipDefaultSecurityGroups: true, useDefaultVpcCni: false, createOidcProvider: true };
        assert.ok(eksClusterChildren({ name: "c", inputs }, "us-west-2").length > 0);
        assert.throws(() => eksClusterChildren({ name: "c", inputs: { ...inputs, skipDefaultNodeGroup: false } }, "us-west-2"), /eks\.Cluster "c" skipDefaultNodeGroup is false; the pulumi-eks v4\.3\.0 model/);
        assert.throws(() => eksClusterChildren({ name: "c", inputs: { ...inputs, fargate: true } }, "us-west-2"), /sets fargate, which the pulumi-eks v4\.3\.0 model/);
    });
});
