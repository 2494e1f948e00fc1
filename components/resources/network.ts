/**
 * Network: the VPC the cluster runs in. Either created — private subnets for nodes and pods, public subnets for load
 * balancers and NAT, across 2-6 zones (layout in `networkLayout.ts`) — or an existing VPC adopted by id, whose subnets
 * get the tags Kubernetes uses to find them.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { VpcConfig } from "../config/schema";
import { childName } from "../domain/naming";
import { subnetLayout } from "../domain/networkLayout";

export interface NetworkArgs {
    /** The validated `gpu-serverless:vpc` config: `kind: "create"` with its layout, or `kind: "existing"` with ids. Required. */
    vpc: VpcConfig;
    /** Name of the EKS cluster, for the `kubernetes.io/cluster/<name>` subnet tag. Required. */
    clusterName: string;
}

/** Subnet tags for Kubernetes load balancer discovery: internet-facing LBs go to public subnets, internal ones to private. */
export function subnetTags(clusterName: string, tier: "public" | "private"): Record<string, string> {
    return {
        [tier === "public" ? "kubernetes.io/role/elb" : "kubernetes.io/role/internal-elb"]: "1",
        [`kubernetes.io/cluster/${clusterName}`]: "shared",
    };
}

export class Network extends pulumi.ComponentResource {
    public readonly vpcId: pulumi.Output<string>;
    /** Subnets for nodes, one or more per zone. */
    public readonly privateSubnetIds: pulumi.Output<string[]>;
    /** Subnets for internet-facing load balancers (may be empty for an adopted VPC). */
    public readonly publicSubnetIds: pulumi.Output<string[]>;
    /** Private subnet ids by availability zone, for node groups pinned to one zone. */
    public readonly privateSubnetsByZone: pulumi.Output<Record<string, string[]>>;
    /** Routes and associations nodes need for egress: node groups wait for them so new nodes can pull images. */
    public readonly egress: pulumi.Resource[];
    /** Route tables of the private subnets (distinct), for gateway endpoints. */
    public readonly privateRouteTableIds: pulumi.Output<string[]>;
    /** The VPC's CIDR block, for interface endpoints' security group. */
    public readonly cidrBlock: pulumi.Output<string>;

    constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        if (!args.clusterName) throw new Error(`Network "${name}" args.clusterName: required`);
        super("gpu-serverless:network:Network", name, {}, opts);
        const built = args.vpc.kind === "create" ? this.create(name, args.vpc, args.clusterName) : this.adopt(name, args.vpc, args.clusterName);
        this.vpcId = built.vpcId;
        this.privateSubnetIds = built.privateSubnetIds;
        this.publicSubnetIds = built.publicSubnetIds;
        this.privateSubnetsByZone = built.privateSubnetsByZone;
        this.egress = built.egress;
        this.privateRouteTableIds = built.privateRouteTableIds;
        this.cidrBlock = built.cidrBlock;
        this.registerOutputs({
            vpcId: this.vpcId,
            privateSubnetIds: this.privateSubnetIds,
            publicSubnetIds: this.publicSubnetIds,
            privateSubnetsByZone: this.privateSubnetsByZone,
            egress: this.egress,
        });
    }

    private create(name: string, vpcConfig: Extract<VpcConfig, { kind: "create" }>, clusterName: string) {
        const opts = { parent: this };
        const zoneCount = vpcConfig.availabilityZoneCount;
        const layout = subnetLayout(vpcConfig.cidrBlock, zoneCount);
        const zones: pulumi.Output<string[]> = vpcConfig.availabilityZones
            ? pulumi.output(vpcConfig.availabilityZones)
            : aws
                  .getAvailabilityZonesOutput({ state: "available", filters: [{ name: "opt-in-status", values: ["opt-in-not-required"] }] }, opts)
                  .names.apply((names) => {
                      if (names.length < zoneCount) {
                          throw new Error(`gpu-serverless:vpc.availabilityZoneCount: ${zoneCount} zones asked for, the region has ${names.length}`);
                      }
                      return names.slice(0, zoneCount);
                  });
        const zone = (i: number) => zones.apply((z) => z[i]);

        const vpc = new aws.ec2.Vpc(
            childName(name, "vpc"),
            { cidrBlock: vpcConfig.cidrBlock, enableDnsHostnames: true, enableDnsSupport: true, tags: { Name: clusterName } },
            opts,
        );
        // Take over the VPC's default security group with no rules, so nothing that falls back to it is reachable.
        new aws.ec2.DefaultSecurityGroup(childName(name, "default-security-group"), { vpcId: vpc.id, tags: { Name: `${clusterName}-default` } }, opts);
        const gateway = new aws.ec2.InternetGateway(childName(name, "internet-gateway"), { vpcId: vpc.id, tags: { Name: clusterName } }, opts);

        const subnet = (tier: "public" | "private", i: number) =>
            new aws.ec2.Subnet(
                childName(name, `${tier}-${i}`),
                {
                    vpcId: vpc.id,
                    cidrBlock: layout[tier][i],
                    availabilityZone: zone(i),
                    mapPublicIpOnLaunch: false,
                    tags: { Name: `${clusterName}-${tier}-${i}`, ...subnetTags(clusterName, tier) },
                },
                opts,
            );
        const zoneIndexes = [...Array(zoneCount).keys()];
        const publicSubnets = zoneIndexes.map((i) => subnet("public", i));
        const privateSubnets = zoneIndexes.map((i) => subnet("private", i));

        const publicRoutes = new aws.ec2.RouteTable(childName(name, "public-routes"), { vpcId: vpc.id, tags: { Name: `${clusterName}-public` } }, opts);
        const egress: pulumi.Resource[] = [
            new aws.ec2.Route(childName(name, "public-default-route"), { routeTableId: publicRoutes.id, destinationCidrBlock: "0.0.0.0/0", gatewayId: gateway.id }, opts),
            ...publicSubnets.map(
                (s, i) => new aws.ec2.RouteTableAssociation(childName(name, `public-${i}-routes`), { subnetId: s.id, routeTableId: publicRoutes.id }, opts),
            ),
        ];

        // One NAT gateway per zone keeps a zone's nodes online when another zone fails; `single` shares the first.
        const natCount = vpcConfig.natGateways === "perAz" ? zoneCount : 1;
        const natGateways = [...Array(natCount).keys()].map((i) => {
            const ip = new aws.ec2.Eip(childName(name, `nat-${i}-ip`), { domain: "vpc", tags: { Name: `${clusterName}-nat-${i}` } }, opts);
            return new aws.ec2.NatGateway(
                childName(name, `nat-${i}`),
                { allocationId: ip.id, subnetId: publicSubnets[i].id, tags: { Name: `${clusterName}-nat-${i}` } },
                { ...opts, dependsOn: [gateway] },
            );
        });
        const privateRouteTables: aws.ec2.RouteTable[] = [];
        privateSubnets.forEach((s, i) => {
            const routes = new aws.ec2.RouteTable(childName(name, `private-${i}-routes`), { vpcId: vpc.id, tags: { Name: `${clusterName}-private-${i}` } }, opts);
            egress.push(
                new aws.ec2.Route(
                    childName(name, `private-${i}-default-route`),
                    { routeTableId: routes.id, destinationCidrBlock: "0.0.0.0/0", natGatewayId: natGateways[Math.min(i, natCount - 1)].id },
                    opts,
                ),
                new aws.ec2.RouteTableAssociation(childName(name, `private-${i}-routes`), { subnetId: s.id, routeTableId: routes.id }, opts),
            );
            privateRouteTables.push(routes);
        });

        return {
            vpcId: vpc.id,
            privateSubnetIds: pulumi.all(privateSubnets.map((s) => s.id)),
            publicSubnetIds: pulumi.all(publicSubnets.map((s) => s.id)),
            privateSubnetsByZone: byZone(privateSubnets.map((s) => ({ id: s.id, zone: s.availabilityZone }))),
            egress,
            privateRouteTableIds: pulumi.all(privateRouteTables.map((r) => r.id)),
            cidrBlock: vpc.cidrBlock,
        };
    }

    private adopt(name: string, vpcConfig: Extract<VpcConfig, { kind: "existing" }>, clusterName: string) {
        const opts = { parent: this };
        // Tag the adopted subnets (and only those tags: the subnets stay the owner's) so Kubernetes finds them for LBs.
        const tag = (tier: "public" | "private", ids: string[]) =>
            ids.forEach((id) =>
                Object.entries(subnetTags(clusterName, tier)).forEach(([key, value]) =>
                    new aws.ec2.Tag(childName(name, `${id}-${key.replace(/[^A-Za-z0-9.-]/g, "-")}`), { resourceId: id, key, value }, opts),
                ),
            );
        tag("private", vpcConfig.privateSubnetIds);
        tag("public", vpcConfig.publicSubnetIds);
        const lookups = vpcConfig.privateSubnetIds.map((id) => ({ id: pulumi.output(id), zone: aws.ec2.getSubnetOutput({ id }, opts).availabilityZone }));
        return {
            vpcId: pulumi.output(vpcConfig.id),
            privateSubnetIds: pulumi.output(vpcConfig.privateSubnetIds),
            publicSubnetIds: pulumi.output(vpcConfig.publicSubnetIds),
            privateSubnetsByZone: byZone(lookups),
            egress: [],
            // A subnet without an explicit association uses the main route table, which this lookup also returns.
            privateRouteTableIds: pulumi
                .all(vpcConfig.privateSubnetIds.map((subnetId) => aws.ec2.getRouteTableOutput({ subnetId }, opts).routeTableId))
                .apply((ids) => [...new Set(ids)]),
            cidrBlock: aws.ec2.getVpcOutput({ id: vpcConfig.id }, opts).cidrBlock,
        };
    }
}

function byZone(subnets: { id: pulumi.Input<string>; zone: pulumi.Input<string> }[]): pulumi.Output<Record<string, string[]>> {
    return pulumi.all(subnets.map((s) => pulumi.all([s.zone, s.id]))).apply((pairs) => {
        const map: Record<string, string[]> = {};
        for (const [zone, id] of pairs) (map[zone] ??= []).push(id);
        return map;
    });
}
