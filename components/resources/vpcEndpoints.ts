/**
 * VpcEndpoints (`gpu-serverless:vpcEndpoints`): the S3 gateway endpoint on the private route tables and the ECR API
 * and registry interface endpoints (private DNS) in the private subnets, behind a security group that admits HTTPS
 * from the VPC only. What they are for and which bytes still cross NAT: manifests/network/vpcEndpoints.ts.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { childName } from "../domain/naming";
import { vpcEndpointSpecs } from "../manifests/network/vpcEndpoints";

export interface VpcEndpointsArgs {
    region: string;
    clusterName: string;
    vpcId: pulumi.Input<string>;
    cidrBlock: pulumi.Input<string>;
    privateSubnetIds: pulumi.Input<string[]>;
    privateRouteTableIds: pulumi.Input<string[]>;
}

export class VpcEndpoints extends pulumi.ComponentResource {
    /** The endpoints by short name (`s3`, `ecr-api`, `ecr-dkr`). */
    public readonly endpoints: Record<string, aws.ec2.VpcEndpoint>;

    constructor(name: string, args: VpcEndpointsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gpu-serverless:network:VpcEndpoints", name, {}, opts);
        const awsOpts = { parent: this };
        const specs = vpcEndpointSpecs(args.region);
        const securityGroup = new aws.ec2.SecurityGroup(
            childName(name, "interface"),
            {
                vpcId: args.vpcId,
                description: "HTTPS from the VPC to the ECR interface endpoints",
                ingress: [{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: [args.cidrBlock], description: "HTTPS from the VPC" }],
                tags: { Name: `${args.clusterName}-vpc-endpoints` },
            },
            awsOpts,
        );
        this.endpoints = Object.fromEntries(
            specs.map((spec) => [
                spec.name,
                new aws.ec2.VpcEndpoint(
                    childName(name, spec.name),
                    {
                        vpcId: args.vpcId,
                        serviceName: spec.serviceName,
                        vpcEndpointType: spec.vpcEndpointType,
                        ...(spec.attachTo === "privateRouteTables"
                            ? { routeTableIds: args.privateRouteTableIds }
                            : { subnetIds: args.privateSubnetIds, securityGroupIds: [securityGroup.id], privateDnsEnabled: spec.privateDnsEnabled }),
                        tags: { Name: `${args.clusterName}-${spec.name}` },
                    },
                    awsOpts,
                ),
            ]),
        );
        this.registerOutputs({ endpoints: this.endpoints });
    }
}
