import * as assert from "node:assert/strict";
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import { parseStackConfig } from "../../../components/config/stack";
import { allowedActions } from "../../../components/domain/karpenterIam";
import { interruptionRules } from "../../../components/domain/karpenterInterruption";
import { Karpenter, KarpenterArgs } from "../../../components/resources/karpenter";
import { chartDefaults, unknownValuePaths } from "../../support/chartValues";
import { crdErrors } from "../../support/crds";
import { dependsOn, resetRecorded, resourceNamed, resourcesOfType, settled, setupMocks } from "../../support/mocks";
import { reachableApi } from "../config/stackFiles";

const pools = (groups: object[]) => parseStackConfig({ ...reachableApi, "gpu-serverless:gpuNodeGroups": JSON.stringify(groups) }).gpuNodeGroups;

describe("Karpenter (mocks)", () => {
    let awsProvider: aws.Provider;
    let provider: k8s.Provider;
    before(() => {
        setupMocks();
        awsProvider = new aws.Provider("kp-test-aws", { region: "us-west-2" });
        provider = new k8s.Provider("kp-test-k8s", { kubeconfig: "{}" });
    });
    beforeEach(() => resetRecorded());

    const args = (overrides: Partial<KarpenterArgs> = {}): KarpenterArgs => ({
        clusterName: "gpu-dev",
        region: "us-west-2",
        awsProvider,
        provider,
        oidcProviderArn: "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE",
        oidcIssuer: "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE",
        privateSubnetIds: ["subnet-0a1b2c3d", "subnet-4e5f6a7b"],
        clusterSecurityGroupId: "sg-0123abcd",
        pools: pools([{ name: "a100", instanceType: "p4d.24xlarge" }, { name: "spot", instanceType: "p4de.24xlarge", capacityType: "SPOT", maxSize: 2 }]),
        consolidateAfter: "5m",
        systemNodeSelector: { "gpu-serverless.io/node-group": "system" },
        ...overrides,
    });

    it("installs chart 1.14.1 from Karpenter's OCI registry on the system nodes, with its role and queue", async () => {
        new Karpenter("kp-a", args());
        await settled();
        const release = resourceNamed("kubernetes:helm.sh/v3:Release", "kp-a-release");
        assert.equal(release.inputs.chart, "oci://public.ecr.aws/karpenter/karpenter");
        assert.equal(release.inputs.version, "1.14.1");
        assert.equal(release.inputs.namespace, "kube-system");
        assert.equal(release.inputs.values.serviceAccount.annotations["eks.amazonaws.com/role-arn"], "arn:aws:iam::123456789012:role/kp-a-controller-role");
        assert.equal(release.inputs.values.settings.interruptionQueue, resourceNamed("aws:sqs/queue:Queue", "kp-a-interruption-queue").inputs.name);
        assert.equal(release.inputs.values.settings.featureGates.nodeRepair, (chartDefaults("karpenter") as any).settings.featureGates.nodeRepair);
        assert.deepEqual(unknownValuePaths("karpenter", release.inputs.values), []);
        assert.ok(dependsOn(release, resourceNamed("aws:iam/rolePolicy:RolePolicy", "kp-a-controller-policy")));
    });

    it("lets its nodes join through an EC2_LINUX access entry for their own role", async () => {
        new Karpenter("kp-b", args());
        await settled();
        const entry = resourceNamed("aws:eks/accessEntry:AccessEntry", "kp-b-node-access");
        assert.equal(entry.inputs.type, "EC2_LINUX");
        assert.equal(entry.inputs.principalArn, "arn:aws:iam::123456789012:role/kp-b-node-role");
        const trust = JSON.parse(resourceNamed("aws:iam/role:Role", "kp-b-node-role").inputs.assumeRolePolicy);
        assert.deepEqual(trust.Statement[0].Principal, { Service: "ec2.amazonaws.com" });
        assert.ok(resourceNamed("aws:iam/instanceProfile:InstanceProfile", "kp-b-node-profile"));
    });

    it("creates the queue, its policy and the five EventBridge rules feeding it", async () => {
        new Karpenter("kp-c", args());
        await settled();
        const rules = resourcesOfType("aws:cloudwatch/eventRule:EventRule").filter((r) => r.name.startsWith("kp-c-"));
        assert.deepEqual(
            rules.map((r) => JSON.parse(r.inputs.eventPattern)).sort((a, b) => a["detail-type"][0].localeCompare(b["detail-type"][0])),
            interruptionRules.map((r) => r.eventPattern).sort((a, b) => a["detail-type"][0].localeCompare(b["detail-type"][0])),
        );
        const targets = resourcesOfType("aws:cloudwatch/eventTarget:EventTarget").filter((r) => r.name.startsWith("kp-c-"));
        assert.equal(targets.length, interruptionRules.length);
        const policy = JSON.parse(resourceNamed("aws:sqs/queuePolicy:QueuePolicy", "kp-c-interruption-queue-policy").inputs.policy);
        assert.deepEqual(allowedActions(policy), ["sqs:SendMessage"]);
        const controller = JSON.parse(resourceNamed("aws:iam/rolePolicy:RolePolicy", "kp-c-controller-policy").inputs.policy);
        const passRole = controller.Statement.find((s: any) => s.Action === "iam:PassRole");
        assert.equal(passRole.Resource, "arn:aws:iam::123456789012:role/kp-c-node-role");
    });

    it("creates a valid EC2NodeClass and NodePool per pool, after the release", async () => {
        new Karpenter("kp-d", args());
        await settled();
        for (const pool of ["a100", "spot"]) {
            const nodeClass = resourceNamed("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", `kp-d-${pool}-node-class`);
            const nodePool = resourceNamed("kubernetes:karpenter.sh/v1:NodePool", `kp-d-${pool}-node-pool`);
            assert.deepEqual(crdErrors(nodeClass.inputs as any), []);
            assert.deepEqual(crdErrors(nodePool.inputs as any), []);
            assert.deepEqual(nodeClass.inputs.spec.subnetSelectorTerms, [{ id: "subnet-0a1b2c3d" }, { id: "subnet-4e5f6a7b" }]);
            assert.equal(nodePool.inputs.spec.disruption.consolidateAfter, "5m");
            // The CRD's CEL rule (not evaluated by crdErrors; a real API server refused the class without it):
            // exactly one of role and instanceProfile. Ours names the instance profile the stack creates.
            assert.equal(nodeClass.inputs.spec.role, undefined);
            assert.match(String(nodeClass.inputs.spec.instanceProfile), /^kp-d-node-profile-[0-9a-f]{7}$/);
            assert.ok(dependsOn(nodePool, resourceNamed("kubernetes:helm.sh/v3:Release", "kp-d-release")), "CRDs come with the release");
            assert.ok(dependsOn(nodePool, nodeClass));
        }
    });

    it("refuses a pool it cannot serve before creating anything", async () => {
        assert.throws(
            () => new Karpenter("kp-e", args({ pools: [{ ...pools([{ name: "warm", instanceType: "p4d.24xlarge", maxSize: 2 }])[0], minSize: 1 }] })),
            /gpuNodeGroups warm: minSize 1/,
        );
        await settled();
        assert.deepEqual(resourcesOfType("aws:sqs/queue:Queue").filter((r) => r.name.startsWith("kp-e")), []);
    });
});
