/**
 * The program as `pulumi up -s dev` runs it: index.ts under mocks with the dev stack's config (Pulumi.yaml defaults
 * overlaid with Pulumi.dev.yaml). Prints the resources of the dev stack by type.
 */
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { MODEL_METADATA_KEY } from "../activator/src/index";
import { crdErrors, isCustomKind } from "./support/crds";
import { allResources, dependsOn, isSecret, kubernetesObjects, resetRecorded, resourceNamed, resourcesOfType, reveal, setupMocks, settled, unwrap } from "./support/mocks";
import { stackConfig } from "./components/config/stackFiles";

describe("program (index.ts, dev stack, mocks)", () => {
    let program: Record<string, pulumi.Output<unknown>>;
    let counts: Record<string, number>;

    before(async () => {
        setupMocks({ project: "gpu-serverless", stack: "dev", config: stackConfig("dev") });
        resetRecorded();
        // Loaded here, not imported at the top: the program reads its config and registers resources on load.
        program = require("../index");
        await settled();
        counts = {};
        for (const r of allResources()) counts[r.type] = (counts[r.type] ?? 0) + 1;
        const width = Math.max(...Object.keys(counts).map((t) => t.length));
        const total = Object.values(counts).reduce((a, b) => a + b, 0);
        const lines = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)).map(([t, n]) => `      ${t.padEnd(width)}  ${n}`);
        console.log(`    dev stack resources by type (${total} in all):\n${lines.join("\n")}`);
    });
    after(() => pulumi.runtime.setAllConfig({}));

    it("exports the cluster name, GPU node group names and the in-cluster Prometheus URL", async () => {
        assert.equal(await unwrap(program.clusterName), "gpu-serverless-dev");
        // The dev stack's GPU pool is Karpenter's: no managed node group to name.
        assert.deepEqual(await unwrap(program.gpuNodeGroupNames), []);
        assert.equal(await unwrap(program.prometheusUrl), "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090");
    });

    it("exports the kubeconfig and the Grafana password as secrets", async () => {
        for (const name of ["kubeconfig", "grafanaAdminPassword"]) {
            assert.equal(await pulumi.isSecret(program[name]), true, `${name} must be secret`);
        }
        assert.equal(JSON.parse(String(await unwrap(program.kubeconfig))).kind, "Config");
    });

    it("names the EKS cluster after project and stack", () => {
        const cluster = allResources().find((r) => r.type === "eks:index:Cluster");
        assert.equal(cluster?.inputs.name, "gpu-serverless-dev");
    });

    it("creates every custom resource after the release that installs its CRD", () => {
        const crdRelease: Record<string, string> = {
            "keda.sh": "gpu-keda-release",
            "monitoring.coreos.com": "gpu-monitoring-kube-prometheus-stack",
            "serving.kserve.io": "gpu-kserve-crds",
            // Karpenter's chart installs its CRDs (crds/).
            "karpenter.sh": "gpu-karpenter-release",
            "karpenter.k8s.aws": "gpu-karpenter-release",
        };
        const customResources = kubernetesObjects().filter((r) => isCustomKind(r.inputs.apiVersion, r.inputs.kind));
        assert.ok(customResources.length > 0, "the dev stack has custom resources to check");
        for (const cr of customResources) {
            const release = resourceNamed("kubernetes:helm.sh/v3:Release", crdRelease[cr.inputs.apiVersion.split("/")[0]]);
            assert.ok(dependsOn(cr, release), `${cr.inputs.kind} ${cr.name} does not wait for ${release.name}`);
        }
    });

    it("gives every model's ScaledObject exactly one trigger, external-push to the KEDA relay in KEDA's pod that dials the activator's scaler Service, valid against KEDA's CRD", () => {
        const scaler = resourcesOfType("kubernetes:core/v1:Service").find((s) => s.inputs.metadata.name === "activator-scaler");
        assert.ok(scaler, "the activator's scaler Service");
        const statefulSet = resourceNamed("kubernetes:apps/v1:StatefulSet", "activator-stateful-set").inputs;
        assert.deepEqual(scaler.inputs.spec.selector, statefulSet.spec.template.metadata.labels);
        assert.ok(statefulSet.spec.replicas >= 2, "the dev stack runs more than one activator replica: they answer KEDA as one");
        const service = `activator-scaler.${scaler.inputs.metadata.namespace}.svc.cluster.local:${scaler.inputs.spec.ports[0].port}`;
        const relay = resourcesOfType("kubernetes:helm.sh/v3:Release").find((r) => r.inputs.chart === "keda")!.inputs.values.operator.extraContainers[0];
        const arg = (name: string) => relay.args[relay.args.indexOf(name) + 1];
        assert.equal(arg("--upstream"), service, "the relay dials the scaler Service");
        assert.equal(relay.image, resourceNamed("kubernetes:apps/v1:StatefulSet", "activator-stateful-set").inputs.spec.template.spec.containers[0].image);
        const address = `127.0.0.1:${arg("--listen")}`;
        const scaledObjects = resourcesOfType("kubernetes:keda.sh/v1alpha1:ScaledObject");
        assert.ok(scaledObjects.length > 0);
        for (const so of scaledObjects) {
            assert.equal(so.inputs.spec.triggers.length, 1, so.name);
            const [trigger] = so.inputs.spec.triggers;
            assert.equal(trigger.type, "external-push", so.name);
            assert.equal(trigger.metadata.scalerAddress, address, so.name);
            assert.match(trigger.metadata[MODEL_METADATA_KEY], /^[a-z0-9-]+\/[a-z0-9-]+$/, so.name);
            assert.deepEqual(crdErrors(so.inputs as any), [], so.name);
        }
    });

    it("ships the alerts and the dashboard to the monitoring namespace, for the dev models and the activator's namespace", () => {
        const rule = resourceNamed("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "observability-alerts").inputs;
        assert.equal(rule.metadata.namespace, "monitoring");
        assert.deepEqual(crdErrors(rule as any), []);
        const rules = rule.spec.groups.flatMap((g: any) => g.rules);
        const idle = rules.find((r: any) => r.alert === "ModelPinnedWhileIdle");
        const devModels = (stackConfig("dev")["gpu-serverless:models"] as string);
        for (const m of JSON.parse(devModels)) assert.match(idle.expr, new RegExp(`models/${m.name}`), m.name);
        const activatorNs = resourceNamed("kubernetes:apps/v1:StatefulSet", "activator-stateful-set").inputs.metadata.namespace;
        assert.match(rules.find((r: any) => r.alert === "ActivatorRestarting").expr, new RegExp(`namespace="${activatorNs}"`));
        const dashboard = resourceNamed("kubernetes:core/v1:ConfigMap", "observability-dashboard").inputs;
        assert.equal(dashboard.metadata.namespace, "monitoring");
        assert.equal(dashboard.metadata.labels.grafana_dashboard, "1");
    });

    it("builds the dev stack: one Karpenter GPU pool, one shared NAT gateway, the platform's releases", () => {
        // The system node group only: the A100 pool is a NodePool with its EC2NodeClass.
        assert.equal(counts["aws:eks/nodeGroup:NodeGroup"], 1);
        assert.equal(counts["aws:ec2/launchTemplate:LaunchTemplate"], 1);
        assert.equal(counts["kubernetes:karpenter.sh/v1:NodePool"], 1);
        assert.equal(counts["kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"], 1);
        assert.equal(counts["aws:ec2/natGateway:NatGateway"], 1);
        assert.equal(counts["aws:ec2/subnet:Subnet"], 6);
        assert.equal(counts["eks:index:Cluster"], 1);
        assert.equal(counts["aws:autoscaling/tag:Tag"] ?? 0, 0, "node-template tags are for cluster-autoscaler's groups only");
        assert.ok(counts["kubernetes:helm.sh/v3:Release"] >= 8);
    });
});

describe("program (index.ts) with a public activator and an API key", () => {
    const apiKey = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
    after(() => pulumi.runtime.setAllConfig({}));

    it("turns the secret config key into a Secret of its digest that the activator reads", async () => {
        const activator = { exposure: "public", allowedCidrs: ["203.0.113.0/24"], apiKeySecrets: ["activatorApiKey"] };
        setupMocks({ project: "gpu-serverless", stack: "keys", config: stackConfig("dev", { activator, activatorApiKey: apiKey }) });
        resetRecorded();
        delete require.cache[require.resolve("../index")];
        require("../index");
        await settled();
        const secret = resourceNamed("kubernetes:core/v1:Secret", "activator-api-keys");
        assert.ok(isSecret(secret.inputs.stringData));
        const [text] = Object.values(reveal<Record<string, string>>(secret.inputs.stringData));
        assert.match(text, new RegExp(`^${createHash("sha256").update(apiKey).digest("hex")}$`, "m"));
        assert.ok(!text.includes(apiKey));
        const proxy = resourceNamed("kubernetes:core/v1:Service", "activator-proxy");
        assert.equal(proxy.inputs.metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"], "internet-facing");
    });
});

describe("program (index.ts) with an invalid stack config", () => {
    after(() => pulumi.runtime.setAllConfig({}));

    it("stops before registering any resource, listing every problem", async () => {
        setupMocks({ project: "gpu-serverless", stack: "dev", config: stackConfig("dev", { region: "mars-1", gpuNodeGroups: [{ name: "a100", instanceType: "p4d.24xl" }] }) });
        resetRecorded();
        delete require.cache[require.resolve("../index")];
        assert.throws(
            () => require("../index"),
            (e: Error) =>
                e.name === "StackConfigError" &&
                e.message.includes('gpu-serverless:region: "mars-1" is not an AWS region name') &&
                e.message.includes('gpu-serverless:gpuNodeGroups[0].instanceType: "p4d.24xl" is not an A100 instance type; use p4d.24xlarge or p4de.24xlarge'),
        );
        await settled();
        assert.deepEqual(allResources(), []);
    });
});
