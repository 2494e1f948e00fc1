import * as assert from "node:assert/strict";
import { parseStackConfig } from "../../../../components/config/stack";
import {
    gpuAmiAlias,
    gpuEc2NodeClass,
    gpuNodePool,
    gpuNodeUserData,
    karpenterCapacityTypes,
} from "../../../../components/manifests/karpenter/nodePool";
import { eksGpuTaint, gpuNodeLabels } from "../../../../components/domain/nodeGroups";
import { crdErrors } from "../../../support/crds";
import { reachableApi, stackConfig } from "../../config/stackFiles";

const pools = (groups: object[]) => parseStackConfig({ ...reachableApi, "gpu-serverless:gpuNodeGroups": JSON.stringify(groups) }).gpuNodeGroups;
const refs = { clusterName: "gpu-dev", instanceProfile: "gpu-dev-gpu-nodes", subnetIds: ["subnet-0a1b2c3d", "subnet-4e5f6a7b"], securityGroupIds: ["sg-0123abcd"] };

// Every capacity option the config offers, and zone pinning.
const variants = pools([
    { name: "a100", instanceType: "p4d.24xlarge" },
    { name: "a100-80gb", instanceType: "p4de.24xlarge", maxSize: 4, labels: { "example.com/team": "ml" } },
    { name: "spot", instanceType: "p4d.24xlarge", capacityType: "SPOT" },
    { name: "block", instanceType: "p4d.24xlarge", capacityType: "CAPACITY_BLOCK", capacityReservationId: "cr-0123456789abcdef0", availabilityZone: "us-west-2a" },
    { name: "odcr", instanceType: "p4de.24xlarge", capacityReservationId: "cr-0fedcba9876543210", availabilityZone: "us-west-2b" },
]);

describe("Karpenter GPU pools (EC2NodeClass, NodePool)", () => {
    it("every generated object is valid against the Karpenter v1.14.1 CRDs", () => {
        for (const pool of variants) {
            for (const object of [gpuEc2NodeClass(pool, refs), gpuNodePool(pool, { consolidateAfter: "10m" })]) {
                assert.deepEqual(crdErrors(object), [], `${object.kind} ${pool.name}`);
            }
        }
    });

    it("the dev and prod stacks' pools produce valid objects with the stacks' idle time", () => {
        for (const stack of ["dev", "prod"]) {
            const config = parseStackConfig(stackConfig(stack));
            for (const pool of config.gpuNodeGroups) {
                const nodePool = gpuNodePool(pool, { consolidateAfter: config.clusterAutoscaler.scaleDownUnneededTime });
                assert.deepEqual(crdErrors(nodePool), []);
                assert.equal(nodePool.spec.disruption.consolidationPolicy, "WhenEmpty");
                assert.equal(nodePool.spec.disruption.consolidateAfter, config.clusterAutoscaler.scaleDownUnneededTime);
            }
        }
    });

    it("a CRD violation is caught (the validation can fail)", () => {
        const nodeClass = gpuEc2NodeClass(variants[0], refs) as any;
        nodeClass.spec.instanceStorePolicy = "RAID1";
        assert.notDeepEqual(crdErrors(nodeClass), []);
        const nodePool = gpuNodePool(variants[0], { consolidateAfter: "10m" }) as any;
        nodePool.spec.template.spec.requirement = [];
        assert.notDeepEqual(crdErrors(nodePool), []);
    });

    it("nodes boot the pinned AL2023 release, IMDSv2 only with hop limit 1, an encrypted gp3 root, NVMe as RAID0", () => {
        const spec = gpuEc2NodeClass(variants[0], refs).spec;
        assert.deepEqual(spec.amiSelectorTerms, [{ alias: gpuAmiAlias }]);
        assert.match(gpuAmiAlias, /^al2023@v\d{8}$/, "pinned to a release, never @latest");
        assert.equal(spec.metadataOptions.httpTokens, "required");
        assert.equal(spec.metadataOptions.httpPutResponseHopLimit, 1);
        const root = spec.blockDeviceMappings.find((b) => b.rootVolume)!;
        assert.equal(root.ebs.encrypted, true);
        assert.equal(root.ebs.volumeType, "gp3");
        assert.equal(spec.instanceStorePolicy, "RAID0");
        assert.equal(spec.instanceProfile, refs.instanceProfile);
        assert.deepEqual(spec.subnetSelectorTerms, [{ id: "subnet-0a1b2c3d" }, { id: "subnet-4e5f6a7b" }]);
        assert.deepEqual(spec.securityGroupSelectorTerms, [{ id: "sg-0123abcd" }]);
        assert.throws(() => gpuEc2NodeClass(variants[0], { ...refs, subnetIds: [] }), /EC2NodeClass a100: refs.subnetIds is empty/);
    });

    it("user data turns on nodeadm's FastImagePull in a NodeConfig part", () => {
        const text = gpuNodeUserData();
        assert.match(text, /Content-Type: application\/node\.eks\.aws/);
        assert.match(text, /kind: NodeConfig[\s\S]*featureGates:\s*\n\s*FastImagePull: true/);
    });

    it("capacity types follow the pool's capacityType and reservation", () => {
        assert.deepEqual(variants.map(karpenterCapacityTypes), [["on-demand"], ["on-demand"], ["spot"], ["reserved"], ["reserved"]]);
        const block = gpuEc2NodeClass(variants[3], refs).spec as any;
        assert.deepEqual(block.capacityReservationSelectorTerms, [{ id: "cr-0123456789abcdef0" }]);
        assert.equal(gpuEc2NodeClass(variants[0], refs).spec.hasOwnProperty("capacityReservationSelectorTerms"), false);
        const zone = gpuNodePool(variants[3], { consolidateAfter: "5m" }).spec.template.spec.requirements.find((r) => r.key === "topology.kubernetes.io/zone");
        assert.deepEqual(zone?.values, ["us-west-2a"]);
    });

    it("carries the managed node groups' GPU taint and labels, and caps GPUs at maxSize nodes", () => {
        for (const pool of variants) {
            const spec = gpuNodePool(pool, { consolidateAfter: "10m" }).spec;
            assert.deepEqual(
                spec.template.spec.taints.map((t) => ({ ...t, effect: t.effect.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase() })),
                [eksGpuTaint],
            );
            const { ["k8s.amazonaws.com/accelerator"]: _, ...managedLabels } = gpuNodeLabels(pool);
            assert.deepEqual(spec.template.metadata.labels, managedLabels);
            assert.deepEqual(spec.limits, { "nvidia.com/gpu": String(pool.maxSize * 8) });
            assert.deepEqual(spec.template.spec.requirements[0], { key: "node.kubernetes.io/instance-type", operator: "In", values: [pool.instanceType] });
        }
    });

    it("refuses what a NodePool cannot do, naming the pool", () => {
        // Config validation refuses this too; the builder does not rely on it.
        const warm = { ...pools([{ name: "warm", instanceType: "p4d.24xlarge", maxSize: 2 }])[0], minSize: 1 };
        // The keys it names are the config's: gpuNodeGroups[].minSize, .warm and .provisioner.
        assert.throws(() => gpuNodePool(warm, { consolidateAfter: "10m" }), /^Error: gpuNodeGroups warm: minSize 1 .*set minSize 0 \(spare nodes are the pool's warm setting\) or provisioner cluster-autoscaler$/);
        // Following the advice is a config the stack takes: a managed node group keeps minSize 1, and warm.nodes keeps
        // spare nodes on a Karpenter pool at minSize 0.
        const followed = pools([
            { name: "kept", instanceType: "p4d.24xlarge", minSize: 1, maxSize: 2, provisioner: "cluster-autoscaler" },
            { name: "spare", instanceType: "p4d.24xlarge", maxSize: 2, warm: { nodes: 1 } },
        ]);
        assert.deepEqual(followed.map((g) => [g.name, g.provisioner, g.minSize, g.warm?.nodes]), [["kept", "cluster-autoscaler", 1, undefined], ["spare", "karpenter", 0, 1]]);
        assert.throws(() => gpuNodePool(variants[0], { consolidateAfter: "ten minutes" }), /NodePool a100: consolidateAfter "ten minutes" is not a duration/);
    });
});
