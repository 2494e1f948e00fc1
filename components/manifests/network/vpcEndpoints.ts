/**
 * VPC endpoints that take image pulls (and same-region S3 weights) off the NAT gateway, as plain data, and the
 * statement of which bytes still cross it.
 *
 * - ECR: `ecr.api` (auth, manifests) and `ecr.dkr` (the registry API) as interface endpoints with private DNS; ECR
 *   serves layer bytes from S3, so an S3 gateway endpoint on the private route tables is also needed (AWS ECR user
 *   guide, "Amazon ECR interface VPC endpoints (AWS PrivateLink)": "the Amazon S3 gateway endpoint is required").
 * - A gateway endpoint costs nothing per GB or hour; interface endpoints are billed per hour per zone and per GB
 *   (AWS PrivateLink pricing), which is below NAT processing per GB.
 */
import { regionProblem } from "../../domain/awsCatalog";

export interface VpcEndpointSpec {
    /** Short name, used in resource names. */
    name: "s3" | "ecr-api" | "ecr-dkr";
    /** `aws.ec2.VpcEndpoint` `serviceName`. */
    serviceName: string;
    vpcEndpointType: "Gateway" | "Interface";
    /** Interface endpoints: resolve the service's public name to the endpoint inside the VPC. */
    privateDnsEnabled?: boolean;
    /** Where it attaches: gateway endpoints to the private route tables, interface ones to the private subnets. */
    attachTo: "privateRouteTables" | "privateSubnets";
}

/** The endpoints for `region`. */
export function vpcEndpointSpecs(region: string): VpcEndpointSpec[] {
    const problem = regionProblem(region);
    if (problem) throw new Error(`VPC endpoints: ${problem}`);
    return [
        { name: "s3", serviceName: `com.amazonaws.${region}.s3`, vpcEndpointType: "Gateway", attachTo: "privateRouteTables" },
        { name: "ecr-api", serviceName: `com.amazonaws.${region}.ecr.api`, vpcEndpointType: "Interface", privateDnsEnabled: true, attachTo: "privateSubnets" },
        { name: "ecr-dkr", serviceName: `com.amazonaws.${region}.ecr.dkr`, vpcEndpointType: "Interface", privateDnsEnabled: true, attachTo: "privateSubnets" },
    ];
}

export interface NatCrossing {
    /** What still goes out through the NAT gateway. */
    bytes: string;
    /** Why no endpoint takes it. */
    why: string;
}

/**
 * What still crosses NAT once images come from ECR and the endpoints above exist. The first pull of an image through
 * a pull-through cache rule is fetched by ECR from upstream on AWS's side, not through our NAT.
 */
export const natCrossings: readonly NatCrossing[] = [
    { bytes: "hf:// weights downloaded from Hugging Face (storage initializer, or vLLM for hf ids)", why: "huggingface.co is on the internet; the node-local cache makes it once per node and revision" },
    { bytes: "gs:// weights", why: "Google Cloud Storage is on the internet" },
    { bytes: "s3:// weights in a bucket of another region", why: "an S3 gateway endpoint only serves buckets of its own region" },
    { bytes: "other AWS APIs without an endpoint (STS for IRSA, EC2 and EKS for the node bootstrap, CloudWatch Logs, Secrets Manager)", why: "no interface endpoint is created for them: small requests, not bulk bytes" },
    { bytes: "anything the model server fetches at run time (e.g. a tokenizer or remote code from the Hub)", why: "outside the stack's control" },
];
