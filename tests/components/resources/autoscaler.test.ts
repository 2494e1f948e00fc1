import * as assert from "node:assert/strict";
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import { ClusterAutoscaler, ClusterAutoscalerArgs } from "../../../components/resources/autoscaler";
import { clusterAutoscalerValues } from "../../../components/manifests/charts/clusterAutoscaler";
import { parseStackConfig } from "../../../components/config/stack";
import { reachableApi } from "../config/stackFiles";
import { autoscalerNodeTemplateTags } from "../../../components/domain/nodeGroups";
import { charts, clusterAutoscalerImageTags, supportedKubernetesVersions } from "../../../components/domain/versions";
import { chartDefaults, chartVersion, unknownValuePaths } from "../../support/chartValues";
import { dependsOn, resetRecorded, resourceNamed, resourcesOfType, setupMocks, settled } from "../../support/mocks";

const gpuGroups = (groups: object[]) => parseStackConfig({ ...reachableApi, "gpu-serverless:gpuNodeGroups": JSON.stringify(groups) }).gpuNodeGroups;
const settings = {
    clusterName: "gpu-dev",
    region: "us-west-2",
    kubernetesVersion: "1.33",
    roleArn: "arn:aws:iam::123456789012:role/ca",
    serviceAccount: "cluster-autoscaler",
    scaleDownUnneededTime: "5m",
    maxNodeProvisionTime: "10m",
    systemNodeSelector: { "gpu-serverless.io/node-group": "system" },
    serviceMonitor: true,
};

describe("cluster-autoscaler values", () => {
    it("sets only keys the chart declares", () => {
        assert.deepEqual(unknownValuePaths("cluster-autoscaler", clusterAutoscalerValues(settings)), []);
    });

    it("pins the chart version we hold upstream values for", () => {
        assert.equal(charts["cluster-autoscaler"].version, chartVersion("cluster-autoscaler"));
    });

    it("discovers groups by cluster name on AWS, with IRSA, the matching image and the configured scale-down time", () => {
        const v = clusterAutoscalerValues(settings);
        assert.equal(v.cloudProvider, "aws");
        assert.equal(v.awsRegion, "us-west-2");
        assert.deepEqual(v.autoDiscovery, { clusterName: "gpu-dev" });
        assert.equal(v.image.tag, "v1.33.6");
        assert.deepEqual(v.rbac.serviceAccount, { create: true, name: "cluster-autoscaler", annotations: { "eks.amazonaws.com/role-arn": settings.roleArn } });
        assert.equal(v.extraArgs["scale-down-unneeded-time"], "5m");
        assert.equal(v.extraArgs["max-node-provision-time"], "10m");
        assert.equal(v.extraArgs["skip-nodes-with-local-storage"], false);
        assert.deepEqual(v.nodeSelector, settings.systemNodeSelector);
    });
});

describe("cluster-autoscaler image per Kubernetes minor", () => {
    const chartImage = (chartDefaults("cluster-autoscaler") as any).image;

    it("pins a patch release of each supported minor, the cluster's own minor", () => {
        assert.deepEqual(Object.keys(clusterAutoscalerImageTags), [...supportedKubernetesVersions]);
        for (const [minor, tag] of Object.entries(clusterAutoscalerImageTags)) {
            const m = /^v(\d+\.\d+)\.(\d+)$/.exec(tag);
            assert.ok(m, `${minor}: ${tag} is a release tag vX.Y.Z`);
            assert.equal(m[1], minor, `${tag} is for Kubernetes ${minor}`);
        }
    });

    it("is never older than the image the pinned chart ships for its own minor", () => {
        const [, minor, patch] = /^v(\d+\.\d+)\.(\d+)$/.exec(chartImage.tag)!;
        const ours = clusterAutoscalerImageTags[minor];
        assert.ok(ours, `the chart's minor ${minor} is supported`);
        assert.ok(+ours.split(".")[2] >= +patch, `${ours} >= ${chartImage.tag}`);
        assert.equal(clusterAutoscalerValues({ ...settings, kubernetesVersion: minor }).image.tag, ours);
    });

    it("refuses a minor without a pinned image", () => {
        assert.throws(() => clusterAutoscalerValues({ ...settings, kubernetesVersion: "1.29" }), /no cluster-autoscaler image pinned for Kubernetes 1\.29/);
    });
});

describe("A100 node-template tags", () => {
    it("describe GPUs, root volume, labels and taint of a group at zero", () => {
        const [group] = gpuGroups([{ name: "a100", instanceType: "p4de.24xlarge", rootVolumeSizeGiB: 600, labels: { team: "ml" } }]);
        assert.deepEqual(autoscalerNodeTemplateTags(group), {
            "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu": "8",
            "k8s.io/cluster-autoscaler/node-template/resources/ephemeral-storage": "600Gi",
            "k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu": "true:NoSchedule",
            "k8s.io/cluster-autoscaler/node-template/label/team": "ml",
            "k8s.io/cluster-autoscaler/node-template/label/gpu-serverless.io/node-group": "a100",
            "k8s.io/cluster-autoscaler/node-template/label/gpu-serverless.io/accelerator": "nvidia-a100",
            "k8s.io/cluster-autoscaler/node-template/label/nvidia.com/gpu.present": "true",
            "k8s.io/cluster-autoscaler/node-template/label/k8s.amazonaws.com/accelerator": "nvidia-tesla-a100",
        });
    });
});

describe("ClusterAutoscaler (mocks)", () => {
    let awsProvider: aws.Provider;
    let provider: k8s.Provider;
    before(() => {
        setupMocks();
        awsProvider = new aws.Provider("ca-test-aws", { region: "us-west-2" });
        provider = new k8s.Provider("ca-test-k8s", { kubeconfig: "{}" });
    });
    beforeEach(() => resetRecorded());

    const args = (overrides: Partial<ClusterAutoscalerArgs> = {}): ClusterAutoscalerArgs => ({
        clusterName: "gpu-dev",
        region: "us-west-2",
        kubernetesVersion: "1.33",
        awsProvider,
        provider,
        oidcProviderArn: "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE",
        oidcIssuer: "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE",
        gpuNodeGroups: gpuGroups([{ name: "a100", instanceType: "p4d.24xlarge" }, { name: "big", instanceType: "p4de.24xlarge" }]).map((config) => ({
            config,
            autoScalingGroupName: `eks-${config.name}-asg`,
        })),
        scaleDownUnneededTime: "5m",
        systemNodeSelector: settings.systemNodeSelector,
        ...overrides,
    });

    it("installs the pinned chart in kube-system with the IRSA role on its service account", async () => {
        new ClusterAutoscaler("ca-a", args());
        await settled();
        const release = resourceNamed("kubernetes:helm.sh/v3:Release", "ca-a-release");
        assert.equal(release.inputs.chart, "cluster-autoscaler");
        assert.equal(release.inputs.version, "9.59.0");
        assert.deepEqual(release.inputs.repositoryOpts, { repo: "https://kubernetes.github.io/autoscaler" });
        assert.equal(release.inputs.namespace, "kube-system");
        assert.equal(release.inputs.values.rbac.serviceAccount.annotations["eks.amazonaws.com/role-arn"], "arn:aws:iam::123456789012:role/ca-a-role");
        assert.equal(release.inputs.values.autoDiscovery.clusterName, "gpu-dev");
        assert.equal(release.inputs.values.serviceMonitor.enabled, false);
        assert.deepEqual(unknownValuePaths("cluster-autoscaler", release.inputs.values), []);
        assert.ok(dependsOn(release, resourceNamed("aws:iam/rolePolicy:RolePolicy", "ca-a-policy")), "the release waits for its permissions");
    });

    it("trusts only its own service account through the cluster's OIDC provider", async () => {
        new ClusterAutoscaler("ca-b", args());
        await settled();
        const trust = JSON.parse(resourceNamed("aws:iam/role:Role", "ca-b-role").inputs.assumeRolePolicy);
        assert.deepEqual(trust.Statement, [
            {
                Effect: "Allow",
                Principal: { Federated: "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE" },
                Action: "sts:AssumeRoleWithWebIdentity",
                Condition: {
                    StringEquals: {
                        "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE:sub": "system:serviceaccount:kube-system:cluster-autoscaler",
                        "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE:aud": "sts.amazonaws.com",
                    },
                },
            },
        ]);
    });

    it("may resize and terminate only in this cluster's Auto Scaling groups", async () => {
        new ClusterAutoscaler("ca-c", args());
        await settled();
        const statements = JSON.parse(resourceNamed("aws:iam/rolePolicy:RolePolicy", "ca-c-policy").inputs.policy).Statement as any[];
        const mutating = statements.filter((s) => [s.Action].flat().some((a: string) => !/:(Describe|Get)/.test(a)));
        assert.deepEqual(mutating.map((s) => s.Action), [["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]]);
        assert.deepEqual(mutating[0].Condition, { StringEquals: { "aws:ResourceTag/k8s.io/cluster-autoscaler/gpu-dev": "owned" } });
        const describeNodegroup = statements.find((s) => s.Action === "eks:DescribeNodegroup");
        assert.equal(describeNodegroup.Resource, "arn:aws:eks:us-west-2:123456789012:nodegroup/gpu-dev/*");
        assert.ok(statements.every((s) => s.Effect === "Allow"));
    });

    it("tags each A100 group's Auto Scaling group so it can scale up from zero", async () => {
        new ClusterAutoscaler("ca-d", args());
        await settled();
        const tags = resourcesOfType("aws:autoscaling/tag:Tag");
        for (const group of ["a100", "big"]) {
            const ofGroup = tags.filter((t) => t.inputs.autoscalingGroupName === `eks-${group}-asg`);
            const byKey = Object.fromEntries(ofGroup.map((t) => [t.inputs.tag.key, t.inputs.tag.value]));
            assert.equal(byKey["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"], "8", group);
            assert.equal(byKey["k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu"], "true:NoSchedule", group);
            assert.equal(byKey["k8s.io/cluster-autoscaler/node-template/label/gpu-serverless.io/node-group"], group);
            assert.ok(ofGroup.every((t) => t.inputs.tag.propagateAtLaunch === false));
        }
        assert.equal(tags.length, 2 * 7);
    });

    it("creates a ServiceMonitor only with the monitoring release, and then waits for it", async () => {
        const monitoringRelease = new k8s.helm.v3.Release("ca-e-monitoring", { chart: "kube-prometheus-stack" }, { provider });
        new ClusterAutoscaler("ca-e", args({ monitoringRelease }));
        await settled();
        const release = resourceNamed("kubernetes:helm.sh/v3:Release", "ca-e-release");
        assert.equal(release.inputs.values.serviceMonitor.enabled, true);
        assert.ok(dependsOn(release, resourceNamed("kubernetes:helm.sh/v3:Release", "ca-e-monitoring")));
    });

    it("refuses a version it cannot match an image to, before creating anything", () => {
        assert.throws(() => new ClusterAutoscaler("ca-f", args({ kubernetesVersion: "latest" })), /ClusterAutoscaler "ca-f" args.kubernetesVersion/);
        assert.equal(resourcesOfType("gpu-serverless:autoscaler:ClusterAutoscaler").length, 0);
    });
});
