import * as assert from "node:assert/strict";
import { parseStackConfig, StackConfig, stackKeyNames } from "../../../components/config/stack";
import { asConfigString, problemsOf, projectConfigDeclarations, reachableApi, reachableApiEndpoint, stackConfig, stackFileValues } from "./stackFiles";

const dev = (overrides: Record<string, unknown> = {}) => stackConfig("dev", overrides);
const devGpuGroup = (stackFileValues("dev")["gpu-serverless:gpuNodeGroups"] as object[])[0];
/** A valid Kubernetes label key (103 characters) whose node-template tag key would be 149 characters. */
const longLabel = `${"a".repeat(40)}.example.com/${"x".repeat(50)}`;
const gpuGroup = (fields: Record<string, unknown>) => ({ gpuNodeGroups: [{ ...devGpuGroup, ...fields }] });

describe("stack config", () => {
    it("fills in every default when the stack sets nothing", () => {
        const expected: Omit<StackConfig, "models" | "activator"> = {
            region: "us-west-2",
            kubernetesVersion: "1.35",
            adminPrincipalArns: [],
            vpc: { kind: "create", cidrBlock: "10.0.0.0/16", availabilityZoneCount: 3, availabilityZones: undefined, natGateways: "perAz" },
            apiEndpoint: { access: "private", publicAccessCidrs: [], privateAccessSecurityGroupIds: [], ...reachableApiEndpoint },
            systemNodeGroup: { instanceType: "m6i.xlarge", minSize: 2, maxSize: 4, rootVolumeSizeGiB: 50 },
            gpuNodeGroups: [{ name: "a100", instanceType: "p4d.24xlarge", minSize: 0, maxSize: 1, capacityType: "ON_DEMAND", rootVolumeSizeGiB: 500, labels: {}, provisioner: "karpenter" }],
            prometheus: { retention: "15d", storageSize: "50Gi" },
            chartVersions: {},
            clusterAutoscaler: { scaleDownUnneededTime: "10m", maxNodeProvisionTime: "10m" },
            imageCache: { pullThroughCache: false, nvcrMirror: false },
            vpcEndpoints: false,
            nodeCache: false,
            batch: {
                enabled: false,
                retentionDays: 30,
                maxFileBytes: 200 * 1024 * 1024,
                linesPerChunk: 100,
                concurrency: 8,
                yieldWaitingAbove: 4,
                messagesPerRunner: 2,
                maxRunners: 4,
                pollingSeconds: 15,
                cooldownSeconds: 120,
                maxReceiveCount: 5,
                runnerCpu: "500m",
                runnerMemory: "512Mi",
            },
            protect: false,
            alerts: {
                heldRequests: 20,
                heldRequestsFor: "5m",
                coldStartFailures: 1,
                coldStartFailuresWindow: "30m",
                gpuMemoryUsage: 0.95,
                kedaErrorsFor: "10m",
                modelIdleFor: "15m",
                activatorMemoryUsage: 0.85,
                activatorRestarts: 1,
                latencyP99Seconds: 30,
                errorRatio: 0.05,
                degradedFor: "10m",
            },
        };
        const { models: _m, activator: _a, ...platform } = parseStackConfig(reachableApi);
        assert.deepEqual(platform, expected);
    });

    it("refuses the defaults alone: a private API endpoint nobody can reach", () => {
        assert.deepEqual(problemsOf({}), [
            'gpu-serverless:apiEndpoint.privateAccessCidrs: required with access private (or privateAccessSecurityGroupIds): the private endpoint admits only the cluster security group, which the machine running pulumi is never in; list the CIDR of the network inside or routed into the VPC that runs pulumi and kubectl (a VPN\'s client range, a CI runner\'s subnet) (see docs/prod.md)',
        ]);
    });

    describe("Pulumi.yaml", () => {
        const declared = projectConfigDeclarations();

        it("declares every key the program reads, with a description and a default, and nothing else", () => {
            assert.deepEqual(Object.keys(declared).sort(), stackKeyNames.map((k) => `gpu-serverless:${k}`).sort());
            for (const [key, decl] of Object.entries(declared)) {
                assert.ok(decl.description && decl.description.length > 10, `${key} has no description`);
                assert.notEqual(decl.default, undefined, `${key} has no default`);
            }
        });

        it("uses only the types Pulumi's project config supports, matching the defaults", () => {
            const jsType = { string: "string", boolean: "boolean", integer: "number" } as Record<string, string>;
            for (const [key, decl] of Object.entries(declared)) {
                if (decl.type === undefined) continue;
                assert.ok(["string", "integer", "boolean", "array"].includes(decl.type), `${key}: type ${decl.type}`);
                if (decl.type === "array") assert.ok(decl.items, `${key}: arrays need items`);
                else assert.equal(typeof decl.default, jsType[decl.type], `${key}: default does not match type ${decl.type}`);
            }
        });

        it("declares the same defaults as the program", () => {
            const programDefaults = parseStackConfig(reachableApi) as Record<string, unknown>;
            for (const [key, decl] of Object.entries(declared)) {
                const short = key.slice("gpu-serverless:".length);
                // The apiEndpoint default is refused on its own (nobody could reach it): add the one network.
                const value = short === "apiEndpoint" ? { ...(decl.default as object), ...reachableApiEndpoint } : decl.default;
                const fromYaml = parseStackConfig({ ...reachableApi, [key]: asConfigString(value) }) as Record<string, unknown>;
                assert.deepEqual(fromYaml[short], programDefaults[short], `${key}: Pulumi.yaml default differs from the program's`);
            }
        });
    });

    describe("stack files", () => {
        const devConfig = parseStackConfig(dev());
        const prodConfig = parseStackConfig(stackConfig("prod"));

        it("dev: one p4d.24xlarge group from 0 to 1, a small system group, public API limited to listed CIDRs", () => {
            assert.deepEqual(
                devConfig.gpuNodeGroups.map((g) => [g.name, g.instanceType, g.minSize, g.maxSize, g.capacityType]),
                [["a100", "p4d.24xlarge", 0, 1, "ON_DEMAND"]],
            );
            assert.equal(devConfig.systemNodeGroup.instanceType, "m6i.large");
            assert.deepEqual([devConfig.systemNodeGroup.minSize, devConfig.systemNodeGroup.maxSize], [2, 3]);
            assert.equal(devConfig.apiEndpoint.access, "public");
            assert.ok(devConfig.apiEndpoint.publicAccessCidrs.length > 0);
            assert.ok(devConfig.apiEndpoint.publicAccessCidrs.every((c) => !c.endsWith("/0")));
            assert.equal(devConfig.protect, false);
        });

        it("prod: p4de.24xlarge with a larger max, private API endpoint, protected cluster", () => {
            assert.deepEqual(prodConfig.gpuNodeGroups.map((g) => g.instanceType), ["p4de.24xlarge"]);
            assert.ok(prodConfig.gpuNodeGroups[0].maxSize > devConfig.gpuNodeGroups[0].maxSize);
            assert.equal(prodConfig.apiEndpoint.access, "private");
            assert.deepEqual(prodConfig.apiEndpoint.publicAccessCidrs, []);
            assert.ok(prodConfig.apiEndpoint.privateAccessCidrs.length > 0);
            assert.equal(prodConfig.protect, true);
            assert.ok(prodConfig.systemNodeGroup.minSize >= devConfig.systemNodeGroup.minSize);
        });

        it("refuses the shipped placeholders (documentation ranges), saying what to put there", () => {
            assert.deepEqual(problemsOf(stackConfig("dev", {}, { asShipped: true })), [
                "gpu-serverless:apiEndpoint.publicAccessCidrs[0]: 203.0.113.0/24 is a documentation range (RFC 5737), never a real network (the stack files ship one as a placeholder): replace it with the egress CIDR of the network that runs pulumi and kubectl (your office or VPN egress, a CI runner's address: curl -s https://checkip.amazonaws.com, then append /32)",
            ]);
            assert.deepEqual(problemsOf(stackConfig("prod", {}, { asShipped: true })), [
                "gpu-serverless:apiEndpoint.privateAccessCidrs[0]: 192.0.2.0/24 is a documentation range (RFC 5737), never a real network (the stack files ship one as a placeholder): replace it with the CIDR of the network inside or routed into the VPC that runs pulumi and kubectl (a VPN's client range, a CI runner's subnet)",
            ]);
        });

        it("prod keeps a NAT gateway per zone where dev shares one", () => {
            assert.equal(devConfig.vpc.kind === "create" && devConfig.vpc.natGateways, "single");
            assert.equal(prodConfig.vpc.kind === "create" && prodConfig.vpc.natGateways, "perAz");
        });
    });

    describe("decoding", () => {
        it("keeps string keys as strings even when they look like numbers", () => {
            assert.equal(parseStackConfig({ ...reachableApi, "gpu-serverless:kubernetesVersion": "1.34" }).kubernetesVersion, "1.34");
        });

        it("decodes booleans and structured values", () => {
            const config = parseStackConfig({ ...reachableApi, "gpu-serverless:protect": "true", "gpu-serverless:chartVersions": '{"keda":"2.20.1"}' });
            assert.equal(config.protect, true);
            assert.deepEqual(config.chartVersions, { keda: "2.20.1" });
        });

        it("adopts an existing VPC", () => {
            const vpc = { id: "vpc-0123456789abcdef0", privateSubnetIds: ["subnet-01234567", "subnet-89abcdef"], publicSubnetIds: [] };
            assert.deepEqual(parseStackConfig(dev({ vpc })).vpc, { kind: "existing", ...vpc });
        });

        describe("secret keys named by models", () => {
            const model = { name: "qwen", format: "vllm", gpus: 1, storageUri: `hf://Qwen/Qwen2.5-0.5B-Instruct:${"0123456789abcdef".repeat(2)}01234567`, hfTokenSecret: "hfToken" };

            it("accepts the key a model names as its hfTokenSecret", () => {
                const config = parseStackConfig(dev({ models: [model], hfToken: "hf_secret" }));
                assert.equal(config.models[0].hfTokenSecret, "hfToken");
            });

            it("refuses a model whose token key is not set, naming the model's field", () => {
                const problems = problemsOf(dev({ models: [model] }));
                assert.deepEqual(problems, ["gpu-serverless:models[0].hfTokenSecret: gpu-serverless:hfToken is not set; run pulumi config set --secret hfToken <token>"]);
            });

            it("takes a GCP service-account key for a private gs:// bucket, refusing anything else without quoting it", () => {
                const gsModel = { name: "iris", format: "sklearn", storageUri: "gs://private-models/iris/v1", gcsCredentialsSecret: "gcsKey" };
                const key = JSON.stringify({ type: "service_account", private_key: "-----BEGIN PRIVATE KEY-----" });
                assert.equal(parseStackConfig(dev({ models: [gsModel], gcsKey: key })).models[0].gcsCredentialsSecret, "gcsKey");
                assert.deepEqual(problemsOf(dev({ models: [gsModel], gcsKey: "hunter2" })), [
                    'gpu-serverless:models[0].gcsCredentialsSecret: gpu-serverless:gcsKey must be a GCP service-account key file (JSON with "type": "service_account"), as gcloud iam service-accounts keys create writes it',
                ]);
                assert.deepEqual(problemsOf(dev({ models: [{ ...gsModel, storageUri: "s3://models/iris/v1" }], gcsKey: key })), [
                    "gpu-serverless:models[0].gcsCredentialsSecret: only for gs:// storageUri (s3:// models get an IAM role of their own; hf:// ones use hfTokenSecret)",
                ]);
            });

            it("still refuses the same key when no model names it", () => {
                assert.match(problemsOf(dev({ hfToken: "hf_secret" })).join("\n"), /^gpu-serverless:hfToken: unknown key/);
            });

            it("accepts the keys the activator names as apiKeySecrets, and only those", () => {
                const key = "0123456789abcdef0123456789abcdef";
                const config = parseStackConfig(dev({ activator: { apiKeySecrets: ["apiKeyA", "apiKeyB"] }, apiKeyA: key, apiKeyB: key }));
                assert.deepEqual(config.activator.apiKeySecrets, ["apiKeyA", "apiKeyB"]);
                assert.deepEqual(problemsOf(dev({ activator: { apiKeySecrets: ["apiKeyA"] }, apiKeyA: key, apiKeyB: key })), [
                    `gpu-serverless:apiKeyB: unknown key; known keys: ${stackKeyNames.join(", ")}`,
                ]);
            });
        });

        it("ignores keys of other namespaces", () => {
            assert.equal(parseStackConfig({ ...reachableApi, "aws:region": "eu-west-1", "gpu-serverless:region": "us-east-1" }).region, "us-east-1");
        });
    });

    describe("invalid values fail naming the key", () => {
        const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
            ["a GPU instance type that is not an A100", gpuGroup({ instanceType: "p4d.24xl" }), "gpuNodeGroups[0].instanceType",
                /^"p4d\.24xl" is not an A100 instance type; use p4d\.24xlarge or p4de\.24xlarge$/],
            ["a non-A100 GPU", gpuGroup({ instanceType: "g5.48xlarge" }), "gpuNodeGroups[0].instanceType", /not an A100 instance type/],
            ["minSize above maxSize", gpuGroup({ minSize: 2, maxSize: 1 }), "gpuNodeGroups[0].minSize", /2 exceeds maxSize 1/],
            ["maxSize 0", gpuGroup({ maxSize: 0 }), "gpuNodeGroups[0].maxSize", /0 is not an integer from 1 to 100/],
            ["a fractional size", gpuGroup({ maxSize: 1.5 }), "gpuNodeGroups[0].maxSize", /1\.5 is not an integer/],
            ["an unknown capacity type", gpuGroup({ capacityType: "RESERVED" }), "gpuNodeGroups[0].capacityType", /"RESERVED" is not one of ON_DEMAND, SPOT, CAPACITY_BLOCK/],
            ["a capacity block without reservation", gpuGroup({ capacityType: "CAPACITY_BLOCK", availabilityZone: "us-west-2a" }),
                "gpuNodeGroups[0].capacityReservationId", /required with capacityType CAPACITY_BLOCK/],
            ["a capacity block without zone", gpuGroup({ capacityType: "CAPACITY_BLOCK", capacityReservationId: "cr-0123456789abcdef0" }),
                "gpuNodeGroups[0].availabilityZone", /required with capacityType CAPACITY_BLOCK/],
            ["a reservation on spot capacity", gpuGroup({ capacityType: "SPOT", capacityReservationId: "cr-0123456789abcdef0" }),
                "gpuNodeGroups[0].capacityReservationId", /does not apply to SPOT/],
            ["a malformed reservation id", gpuGroup({ capacityReservationId: "reservation-1" }), "gpuNodeGroups[0].capacityReservationId", /not a cr- id/],
            ["a zone outside the region", gpuGroup({ availabilityZone: "us-east-1a" }), "gpuNodeGroups[0].availabilityZone", /not a zone of region us-west-2/],
            ["a tiny root volume", gpuGroup({ rootVolumeSizeGiB: 20 }), "gpuNodeGroups[0].rootVolumeSizeGiB", /20 is not an integer from 100/],
            ["a group named system", gpuGroup({ name: "system" }), "gpuNodeGroups[0].name", /names the system node group/],
            ["an invalid group name", gpuGroup({ name: "A100_big" }), "gpuNodeGroups[0].name", /not a DNS label/],
            ["duplicate group names", { gpuNodeGroups: [devGpuGroup, devGpuGroup] }, "gpuNodeGroups[1].name", /already the name of gpuNodeGroups\[0\]/],
            ["a label we set ourselves", gpuGroup({ labels: { "gpu-serverless.io/node-group": "x" } }),
                'gpuNodeGroups[0].labels["gpu-serverless.io/node-group"]', /set by the program itself/],
            ["a label under kubernetes.io", gpuGroup({ labels: { "node.kubernetes.io/x": "y" } }),
                'gpuNodeGroups[0].labels["node.kubernetes.io/x"]', /Kubernetes-reserved prefix/],
            ["an invalid label value", gpuGroup({ labels: { team: "ml platform" } }), "gpuNodeGroups[0].labels.team", /not a valid label value/],
            ["an unknown key in a GPU group", gpuGroup({ instanceTypes: ["p4d.24xlarge"] }), "gpuNodeGroups[0].instanceTypes", /unknown key; known keys: name, instanceType/],
            ["a malformed region", { region: "us-west" }, "region", /not an AWS region name/],
            ["a Kubernetes version KEDA 2.20 is not tested on", { kubernetesVersion: "1.32" }, "kubernetesVersion", /not a supported Kubernetes version; use one of "1\.33", "1\.34", "1\.35"/],
            ["an assumed-role session as admin", { adminPrincipalArns: ["arn:aws:sts::123456789012:assumed-role/admin/me"] }, "adminPrincipalArns[0]", /assumed-role session; use the role's ARN/],
            ["an admin that is not an IAM ARN", { adminPrincipalArns: ["admin@example.com"] }, "adminPrincipalArns[0]", /not an IAM role or user ARN/],
            ["a private endpoint nobody can reach", { apiEndpoint: { access: "private" } }, "apiEndpoint.privateAccessCidrs", /required with access private/],
            ["a private endpoint open to every routed network", { apiEndpoint: { privateAccessCidrs: ["0.0.0.0/0"] } }, "apiEndpoint.privateAccessCidrs[0]", /every network routed into the VPC/],
            ["a malformed security group", { apiEndpoint: { privateAccessSecurityGroupIds: ["runner"] } }, "apiEndpoint.privateAccessSecurityGroupIds[0]", /not a sg- id/],
            ["a documentation range inside a public CIDR list", { apiEndpoint: { access: "public", publicAccessCidrs: ["198.51.100.7/32"] } },
                "apiEndpoint.publicAccessCidrs[0]", /documentation range \(RFC 5737\)/],
            ["a targeted reservation without its zone", gpuGroup({ capacityReservationId: "cr-0123456789abcdef0" }), "gpuNodeGroups[0].availabilityZone",
                /a capacity reservation lives in one zone/],
            ["a node label too long for an Auto Scaling tag key", gpuGroup({ provisioner: "cluster-autoscaler", labels: { [longLabel]: "y" } }),
                `gpuNodeGroups[0].labels["${longLabel}"]`, /Auto Scaling group tag .* \(149 characters, AWS allows 128\); use a key of at most 82 characters/],
            ["a node provision time in words", { clusterAutoscaler: { maxNodeProvisionTime: "soon" } }, "clusterAutoscaler.maxNodeProvisionTime", /not a positive duration/],
            ["a VPC too large", { vpc: { cidrBlock: "10.0.0.0/8" } }, "vpc.cidrBlock", /must be a \/16 to \/20 network/],
            ["a VPC CIDR with host bits", { vpc: { cidrBlock: "10.0.0.1/16" } }, "vpc.cidrBlock", /did you mean 10\.0\.0\.0\/16/],
            ["an unknown NAT mode", { vpc: { natGateways: "none" } }, "vpc.natGateways", /"none" is not perAz or single/],
            ["one zone", { vpc: { availabilityZoneCount: 1 } }, "vpc.availabilityZoneCount", /1 is not an integer from 2 to 6/],
            ["an existing VPC with one subnet", { vpc: { id: "vpc-0123456789abcdef0", privateSubnetIds: ["subnet-01234567"] } },
                "vpc.privateSubnetIds", /at least two private subnets/],
            ["subnets without a VPC id", { vpc: { privateSubnetIds: ["subnet-01234567", "subnet-89abcdef"] } }, "vpc.privateSubnetIds", /set vpc\.id/],
            ["a public endpoint without CIDRs", { apiEndpoint: { access: "public" } }, "apiEndpoint.publicAccessCidrs", /required with access public/],
            ["a public endpoint open to the internet", { apiEndpoint: { access: "public", publicAccessCidrs: ["0.0.0.0/0"] } },
                "apiEndpoint.publicAccessCidrs[0]", /whole internet/],
            ["CIDRs on a private endpoint", { apiEndpoint: { access: "private", publicAccessCidrs: ["100.20.30.0/24"] } },
                "apiEndpoint.publicAccessCidrs", /only used with access public/],
            ["a one-node system group", { systemNodeGroup: { minSize: 1 } }, "systemNodeGroup.minSize", /two nodes/],
            ["a GPU system group", { systemNodeGroup: { instanceType: "p4d.24xlarge" } }, "systemNodeGroup.instanceType", /accelerated instance type/],
            ["a retention Prometheus cannot read", { prometheus: { retention: "forever" } }, "prometheus.retention", /not a Prometheus duration/],
            ["a decimal storage size", { prometheus: { storageSize: "50GB" } }, "prometheus.storageSize", /not a storage size/],
            ["a version for a chart we do not install", { chartVersions: { "aws-load-balancer-controller": "1.0.0" } }, 'chartVersions["aws-load-balancer-controller"]', /unknown chart/],
            ["a warm Karpenter pool", gpuGroup({ minSize: 1, maxSize: 2 }), "gpuNodeGroups[0].minSize", /a Karpenter NodePool does not do; use minSize 0 or provisioner cluster-autoscaler/],
            ["an unknown provisioner", gpuGroup({ provisioner: "fargate" }), "gpuNodeGroups[0].provisioner", /"fargate" is not one of karpenter, cluster-autoscaler/],
            ["a version range", { chartVersions: { keda: "^2.20.0" } }, "chartVersions.keda", /not an exact chart version/],
            ["a scale-down time in words", { clusterAutoscaler: { scaleDownUnneededTime: "ten minutes" } }, "clusterAutoscaler.scaleDownUnneededTime", /not a positive duration/],
            ["a protect flag that is not a boolean", { protect: "yes" }, "protect", /"yes" is not true or false/],
            ["a misspelt top-level key", { gpuNodeGroup: [] }, "gpuNodeGroup", /unknown key; known keys: region, kubernetesVersion/],
        ];
        for (const [what, overrides, key, message] of cases) {
            it(`${what} (gpu-serverless:${key})`, () => {
                const prefix = `gpu-serverless:${key}: `;
                const problems = problemsOf(dev(overrides));
                const line = problems.find((p) => p.startsWith(prefix));
                assert.ok(line, `no problem names ${prefix}; got:\n${problems.join("\n")}`);
                assert.match(line.slice(prefix.length), message);
            });
        }

        it("names a JSON typo in a list or object once, quoting the text, and a plain word by the type it should be", () => {
            const typo = problemsOf({ ...dev(), "gpu-serverless:gpuNodeGroups": '[{"name":"a100"]' });
            assert.deepEqual(typo.filter((p) => p.startsWith("gpu-serverless:gpuNodeGroups")).length, 1, typo.join("\n"));
            assert.match(typo.join("\n"), /^gpu-serverless:gpuNodeGroups: is not valid JSON \(.+\) in the text \[\{"name":"a100"\]$/m);
            const word = problemsOf({ ...dev(), "gpu-serverless:gpuNodeGroups": "a100" });
            assert.match(word.join("\n"), /^gpu-serverless:gpuNodeGroups: (?!is not valid JSON).*expected array/m);
        });

        it("reports every problem at once", () => {
            const problems = problemsOf(dev({ region: "nowhere", protect: "maybe", ...gpuGroup({ instanceType: "p3.16xlarge" }) }));
            assert.deepEqual(
                problems.map((p) => p.split(": ")[0]).sort(),
                ["gpu-serverless:gpuNodeGroups[0].instanceType", "gpu-serverless:protect", "gpu-serverless:region"],
            );
        });

        it("says so in the error message, one line per problem", () => {
            assert.throws(() => parseStackConfig(dev({ region: "nowhere" })), /invalid stack config \(1 problem\):\n {2}gpu-serverless:region: "nowhere"/);
        });
    });
});
