import * as assert from "node:assert/strict";
import { natCrossings, vpcEndpointSpecs } from "../../../../components/manifests/network/vpcEndpoints";

describe("manifests/network: VPC endpoints for image pulls", () => {
    it("adds an S3 gateway on the private route tables and ECR api/dkr interface endpoints with private DNS", () => {
        assert.deepEqual(
            vpcEndpointSpecs("eu-central-1").map((e) => [e.serviceName, e.vpcEndpointType, e.attachTo, e.privateDnsEnabled ?? false]),
            [
                ["com.amazonaws.eu-central-1.s3", "Gateway", "privateRouteTables", false],
                ["com.amazonaws.eu-central-1.ecr.api", "Interface", "privateSubnets", true],
                ["com.amazonaws.eu-central-1.ecr.dkr", "Interface", "privateSubnets", true],
            ],
        );
    });

    it("says that Hugging Face weights still cross NAT", () => {
        assert.ok(natCrossings.some((c) => c.bytes.startsWith("hf://")));
    });

    it("refuses a region that is not one", () => {
        assert.throws(() => vpcEndpointSpecs("mars"), { message: /"mars" is not an AWS region/ });
        assert.throws(() => vpcEndpointSpecs("us-west-3"), { message: /"us-west-3" is not an AWS region/ });
    });

    it("takes every region the stack config takes (the AWS catalog's), isolated partitions included", () => {
        assert.equal(vpcEndpointSpecs("us-iso-east-1").find((e) => e.name === "s3")?.serviceName, "com.amazonaws.us-iso-east-1.s3");
    });
});
