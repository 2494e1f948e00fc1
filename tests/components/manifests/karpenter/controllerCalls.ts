/**
 * The AWS calls Karpenter's controller makes, read from aws/karpenter-provider-aws at tag v1.14.1 (bde00654cd31),
 * non-test Go files under pkg/ (paths and lines at that tag). Ours, written for the IAM test: each IAM action our
 * controller policy grants must be one of these, and each of these is either granted or left out for a stated reason.
 */

export interface ControllerCall {
    /** IAM action, `service:Action`. */
    action: string;
    /** Where the controller calls it (path:line at v1.14.1). */
    source: string;
    /** Why our policy does not grant it; absent when granted. */
    notGranted?: string;
}

const instanceProfileWrites =
    "only for EC2NodeClass spec.role (pkg/controllers/nodeclass/instanceprofile.go L60); our node classes name an instance profile the stack creates";

export const repo = "aws/karpenter-provider-aws";
export const tag = "v1.14.1";

export const controllerCalls: readonly ControllerCall[] = [
    { action: "ec2:CreateFleet", source: "pkg/providers/instance/instance.go:391 (and the dry run, pkg/controllers/nodeclass/validation.go:278)" },
    { action: "ec2:RunInstances", source: "pkg/controllers/nodeclass/validation.go:309 (dry run); also authorised for every instance CreateFleet launches" },
    { action: "ec2:CreateLaunchTemplate", source: "pkg/providers/launchtemplate/launchtemplate.go:291" },
    { action: "ec2:DeleteLaunchTemplate", source: "pkg/providers/launchtemplate/launchtemplate.go:482" },
    { action: "ec2:TerminateInstances", source: "pkg/batcher/terminateinstances.go:71" },
    { action: "ec2:CreateTags", source: "pkg/providers/instance/instance.go:308; pkg/controllers/nodeclaim/tagging/controller.go:125; tags on create" },
    { action: "ec2:DescribeInstances", source: "pkg/batcher/describeinstances.go:72; pkg/providers/instance/instance.go:222" },
    { action: "ec2:DescribeInstanceStatus", source: "pkg/providers/instancestatus/instancestatus.go:99" },
    { action: "ec2:DescribeImages", source: "pkg/providers/amifamily/ami.go:186" },
    { action: "ec2:DescribeCapacityReservations", source: "pkg/providers/capacityreservation/provider.go:81" },
    { action: "ec2:DescribePlacementGroups", source: "pkg/providers/placementgroup/provider.go:80" },
    { action: "ec2:DescribeInstanceTypes", source: "pkg/providers/instancetype/instancetype.go:268; pkg/operator/operator.go:291" },
    { action: "ec2:DescribeInstanceTypeOfferings", source: "pkg/providers/instancetype/instancetype.go:314" },
    { action: "ec2:DescribeLaunchTemplates", source: "pkg/providers/launchtemplate/launchtemplate.go:254" },
    { action: "ec2:DescribeSecurityGroups", source: "pkg/providers/securitygroup/securitygroup.go:83" },
    { action: "ec2:DescribeSubnets", source: "pkg/providers/subnet/subnet.go:97" },
    { action: "ec2:DescribeSpotPriceHistory", source: "pkg/providers/pricing/pricing.go:405" },
    { action: "pricing:GetProducts", source: "pkg/providers/pricing/pricing.go:300" },
    { action: "ssm:GetParameter", source: "pkg/providers/ssm/provider.go:53" },
    { action: "eks:DescribeCluster", source: "pkg/operator/operator.go:306; pkg/providers/version/version.go:132" },
    { action: "sqs:ReceiveMessage", source: "pkg/providers/sqs/sqs.go:71" },
    { action: "sqs:DeleteMessage", source: "pkg/providers/sqs/sqs.go:101" },
    { action: "sqs:GetQueueUrl", source: "pkg/providers/sqs/sqs.go:108" },
    { action: "sqs:SendMessage", source: "pkg/providers/sqs/sqs.go:88", notGranted: "no controller path calls it outside tests; EventBridge sends, under the queue policy" },
    { action: "iam:PassRole", source: "the node role, passed to EC2 through the launch template's IamInstanceProfile (pkg/providers/launchtemplate/types.go:113)" },
    { action: "iam:ListInstanceProfiles", source: "pkg/providers/instanceprofile/instanceprofile.go:221 (garbage collection, always on)" },
    { action: "iam:GetInstanceProfile", source: "pkg/providers/instanceprofile/instanceprofile.go:85", notGranted: instanceProfileWrites },
    { action: "iam:CreateInstanceProfile", source: "pkg/providers/instanceprofile/instanceprofile.go:122", notGranted: instanceProfileWrites },
    { action: "iam:TagInstanceProfile", source: "tags on CreateInstanceProfile, pkg/providers/instanceprofile/instanceprofile.go:117", notGranted: instanceProfileWrites },
    { action: "iam:AddRoleToInstanceProfile", source: "pkg/providers/instanceprofile/instanceprofile.go:171", notGranted: instanceProfileWrites },
    { action: "iam:RemoveRoleFromInstanceProfile", source: "pkg/providers/instanceprofile/instanceprofile.go:156", notGranted: instanceProfileWrites },
    { action: "iam:DeleteInstanceProfile", source: "pkg/providers/instanceprofile/instanceprofile.go:206", notGranted: instanceProfileWrites },
    {
        action: "arc-zonal-shift:GetManagedResource",
        source: "pkg/providers/arczonalshift/arczonalshift.go:66; pkg/operator/operator.go:377",
        notGranted: "only with settings.enableZonalShift, which stays false",
    },
];
