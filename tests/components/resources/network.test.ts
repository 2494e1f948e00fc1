import * as assert from "node:assert/strict";
import { Network } from "../../../components/resources/network";
import { parseStackConfig } from "../../../components/config/stack";
import { reachableApi } from "../config/stackFiles";
import { allResources, resetRecorded, resourceNamed, resourcesOfType, setupMocks, settled, unwrap } from "../../support/mocks";

const vpcConfig = (vpc: object) => parseStackConfig({ ...reachableApi, "gpu-serverless:vpc": JSON.stringify(vpc) }).vpc;
const ownedBy = (prefix: string) => allResources().filter((r) => r.name.startsWith(`${prefix}-`));
const countByType = (prefix: string) => {
    const counts: Record<string, number> = {};
    for (const r of ownedBy(prefix)) counts[r.type] = (counts[r.type] ?? 0) + 1;
    return counts;
};

describe("Network (mocks)", () => {
    before(() => setupMocks());
    beforeEach(() => resetRecorded());

    it("creates a VPC across three zones: private and public subnets, a NAT gateway per zone, egress routes", async () => {
        const network = new Network("net-a", { vpc: vpcConfig({}), clusterName: "gpu-test" });
        await settled();
        assert.deepEqual(countByType("net-a"), {
            "aws:ec2/vpc:Vpc": 1,
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": 1,
            "aws:ec2/internetGateway:InternetGateway": 1,
            "aws:ec2/subnet:Subnet": 6,
            "aws:ec2/routeTable:RouteTable": 4,
            "aws:ec2/route:Route": 4,
            "aws:ec2/routeTableAssociation:RouteTableAssociation": 6,
            "aws:ec2/eip:Eip": 3,
            "aws:ec2/natGateway:NatGateway": 3,
        });
        const vpc = resourceNamed("aws:ec2/vpc:Vpc", "net-a-vpc");
        assert.equal(vpc.inputs.cidrBlock, "10.0.0.0/16");
        assert.equal(vpc.inputs.enableDnsHostnames, true);

        const subnet = (n: string) => resourceNamed("aws:ec2/subnet:Subnet", `net-a-${n}`).inputs;
        assert.deepEqual([0, 1, 2].map((i) => subnet(`private-${i}`).availabilityZone), ["us-west-2a", "us-west-2b", "us-west-2c"]);
        assert.deepEqual([0, 1, 2].map((i) => subnet(`private-${i}`).cidrBlock), ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"]);
        for (const i of [0, 1, 2]) {
            assert.equal(subnet(`private-${i}`).tags["kubernetes.io/role/internal-elb"], "1");
            assert.equal(subnet(`public-${i}`).tags["kubernetes.io/role/elb"], "1");
            assert.equal(subnet(`private-${i}`).tags["kubernetes.io/cluster/gpu-test"], "shared");
            assert.equal(subnet(`public-${i}`).mapPublicIpOnLaunch, false);
        }
        // Each private zone routes through its own zone's NAT gateway.
        const routes = resourcesOfType("aws:ec2/route:Route").filter((r) => r.name.startsWith("net-a-private-"));
        assert.deepEqual(routes.map((r) => r.inputs.natGatewayId).sort(), ["net-a-nat-0-id", "net-a-nat-1-id", "net-a-nat-2-id"]);
        assert.equal(resourceNamed("aws:ec2/natGateway:NatGateway", "net-a-nat-1").inputs.subnetId, "net-a-public-1-id");

        assert.deepEqual(await unwrap(network.privateSubnetIds), ["net-a-private-0-id", "net-a-private-1-id", "net-a-private-2-id"]);
        assert.deepEqual(await unwrap(network.privateSubnetsByZone), {
            "us-west-2a": ["net-a-private-0-id"],
            "us-west-2b": ["net-a-private-1-id"],
            "us-west-2c": ["net-a-private-2-id"],
        });
        assert.equal(network.egress.length, 1 + 3 + 3 * 2);
    });

    it("shares one NAT gateway with natGateways single, and uses the listed zones", async () => {
        new Network("net-b", { vpc: vpcConfig({ natGateways: "single", availabilityZones: ["us-west-2b", "us-west-2d"] }), clusterName: "gpu-test" });
        await settled();
        assert.equal(resourcesOfType("aws:ec2/natGateway:NatGateway").length, 1);
        const routes = resourcesOfType("aws:ec2/route:Route").filter((r) => r.name.startsWith("net-b-private-"));
        assert.deepEqual(routes.map((r) => r.inputs.natGatewayId), ["net-b-nat-0-id", "net-b-nat-0-id"]);
        assert.deepEqual(resourcesOfType("aws:ec2/subnet:Subnet").map((s) => s.inputs.availabilityZone).sort(), ["us-west-2b", "us-west-2b", "us-west-2d", "us-west-2d"]);
    });

    it("adopts an existing VPC: creates nothing but the discovery tags on its subnets", async () => {
        const vpc = { id: "vpc-0123456789abcdef0", privateSubnetIds: ["subnet-0aaaaaaa", "subnet-0bbbbbbb"], publicSubnetIds: ["subnet-0ccccccc"] };
        const network = new Network("net-c", { vpc: vpcConfig(vpc), clusterName: "gpu-test" });
        await settled();
        assert.deepEqual(Object.keys(countByType("net-c")), ["aws:ec2/tag:Tag"]);
        const tags = resourcesOfType("aws:ec2/tag:Tag").map((t) => `${t.inputs.resourceId} ${t.inputs.key}=${t.inputs.value}`).sort();
        assert.deepEqual(tags, [
            "subnet-0aaaaaaa kubernetes.io/cluster/gpu-test=shared",
            "subnet-0aaaaaaa kubernetes.io/role/internal-elb=1",
            "subnet-0bbbbbbb kubernetes.io/cluster/gpu-test=shared",
            "subnet-0bbbbbbb kubernetes.io/role/internal-elb=1",
            "subnet-0ccccccc kubernetes.io/cluster/gpu-test=shared",
            "subnet-0ccccccc kubernetes.io/role/elb=1",
        ]);
        assert.equal(await unwrap(network.vpcId), vpc.id);
        assert.deepEqual(await unwrap(network.publicSubnetIds), vpc.publicSubnetIds);
        assert.deepEqual(network.egress, []);
    });
});
