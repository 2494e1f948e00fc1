/**
 * The platform's stack config keys (`gpu-serverless:<key>`) as zod schemas, defaults written out.
 *
 * Each key validates on its own; `checkPlatform` holds the checks across keys (availability zones against the region
 * and the VPC). Messages say what is wrong and what is allowed; the loader (`./stack.ts`) prefixes the key path.
 * `Pulumi.yaml` declares the same keys with the same defaults (a test holds them together).
 */
import { z } from "zod";
import { a100InstanceTypeNames, capacityTypes, autoscalerNodeTemplateTags, awsTagKeyMaxLength, reservedLabelKeys, systemGroupName } from "../domain/nodeGroups";
import { formatCidr, parseCidr, vpcPrefixRange, zoneCountRange } from "../domain/networkLayout";
import { chartVersionOverrideProblem, kubernetesVersionProblem } from "../domain/versions";
import { labelKeyProblem, labelValueProblem, Problem, prometheusDurationProblem, storageSizeProblem } from "../domain/checks";
import { instanceTypeProblem, regionProblem } from "../domain/awsCatalog";
import { imageCacheSchema, vpcEndpointsSchema, warmNodesSchema } from "./fastPath";
import { nodeCacheProblem, nodeCacheSchema } from "./nodeCache";
import { batchStackSchema } from "./batch";

const quote = (v: unknown): string => JSON.stringify(v);

/** A strict object whose unknown-key message lists the keys it knows. */
function section<S extends z.ZodRawShape>(shape: S) {
    const known = Object.keys(shape).join(", ");
    return z.strictObject(shape, {
        error: (iss) => (iss.code === "unrecognized_keys" ? `unknown key; known keys: ${known}` : undefined),
    });
}

/** An integer in `[min, max]` with a message that says so. */
const int = (min: number, max: number, why = "") =>
    z.number({ error: (iss) => `${quote(iss.input)} is not a number; use an integer from ${min} to ${max}` }).check((ctx) => {
        const v = ctx.value;
        if (!Number.isInteger(v) || v < min || v > max) {
            ctx.issues.push({ code: "custom", input: v, message: `${quote(v)} is not an integer from ${min} to ${max}${why}` });
        }
    });

/** A zod check that reports what `problem` finds in the value (the checks components run on their arguments). */
const satisfies =
    <T>(problem: Problem<T>) =>
    (ctx: z.core.ParsePayload<T>) => {
        const found = problem(ctx.value);
        if (found !== undefined) ctx.issues.push({ code: "custom", input: ctx.value, message: found });
    };

const regionPattern = /^[a-z]{2}(-[a-z]+)+-\d$/;
const zonePattern = /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/;

const cidrBlock = z.string().check((ctx) => {
    const parsed = parseCidr(ctx.value);
    if ("error" in parsed) ctx.issues.push({ code: "custom", input: ctx.value, message: parsed.error });
});

const zoneName = z.string().regex(zonePattern, { error: (iss) => `${quote(iss.input)} is not an availability zone name like us-west-2a` });

const awsId = (prefix: string, example: string) =>
    z.string().regex(new RegExp(`^${prefix}-[0-9a-f]{8}([0-9a-f]{9})?$`), { error: (iss) => `${quote(iss.input)} is not a ${prefix}- id like ${example}` });

const distinct = (values: readonly string[], ctx: z.core.ParsePayload<unknown>, path: PropertyKey[]) => {
    values.forEach((v, i) => {
        if (values.indexOf(v) !== i) ctx.issues.push({ code: "custom", input: v, path: [...path, i], message: `${quote(v)} is listed twice` });
    });
};

/** Defaults of a VPC the program creates. */
export const vpcDefaults = { cidrBlock: "10.0.0.0/16", availabilityZoneCount: 3, natGateways: "perAz" } as const;

const createOnly = ["cidrBlock", "availabilityZoneCount", "availabilityZones", "natGateways"] as const;

const vpc = section({
    /** Create: the VPC's CIDR block, /16 to /20. Default 10.0.0.0/16. */
    cidrBlock: cidrBlock.optional(),
    /** Create: how many availability zones to spread subnets over (the region's first N). Default 3. */
    availabilityZoneCount: int(zoneCountRange.min, zoneCountRange.max).optional(),
    /** Create: exact availability zones instead of the first N (pin zones where p4d/p4de capacity is). */
    availabilityZones: z.array(zoneName).optional(),
    /** Create: one NAT gateway per zone (`perAz`, survives a zone outage) or one for all (`single`, cheaper). Default perAz. */
    natGateways: z.enum(["perAz", "single"], { error: (iss) => `${quote(iss.input)} is not perAz or single` }).optional(),
    /** Adopt: id of an existing VPC; then the subnet ids below are required and nothing above applies. */
    id: awsId("vpc", "vpc-0123456789abcdef0").optional(),
    /** Adopt: private subnets for nodes, in at least two zones, with NAT egress. */
    privateSubnetIds: z.array(awsId("subnet", "subnet-0123456789abcdef0")).optional(),
    /** Adopt: public subnets for internet-facing load balancers (may be empty). */
    publicSubnetIds: z.array(awsId("subnet", "subnet-0123456789abcdef0")).optional(),
})
    .check((ctx) => {
        const v = ctx.value;
        const issue = (path: string, message: string) => ctx.issues.push({ code: "custom", input: v, path: [path], message });
        if (v.id !== undefined) {
            for (const key of createOnly) {
                if (v[key] !== undefined) issue(key, "only applies to a VPC this program creates; remove it, or remove vpc.id");
            }
            if ((v.privateSubnetIds ?? []).length < 2) {
                issue("privateSubnetIds", "list at least two private subnets (in different zones) of the existing VPC; EKS needs two zones");
            }
            distinct(v.privateSubnetIds ?? [], ctx, ["privateSubnetIds"]);
            distinct(v.publicSubnetIds ?? [], ctx, ["publicSubnetIds"]);
            return;
        }
        for (const key of ["privateSubnetIds", "publicSubnetIds"] as const) {
            if (v[key] !== undefined) issue(key, "only applies to an existing VPC; set vpc.id as well, or remove it");
        }
        const parsed = v.cidrBlock === undefined ? undefined : parseCidr(v.cidrBlock);
        if (parsed && !("error" in parsed) && (parsed.prefix < vpcPrefixRange.min || parsed.prefix > vpcPrefixRange.max)) {
            issue("cidrBlock", `${formatCidr(parsed)} must be a /${vpcPrefixRange.min} to /${vpcPrefixRange.max} network (room for pod addresses)`);
        }
        const zones = v.availabilityZones;
        if (zones !== undefined) {
            if (zones.length < zoneCountRange.min || zones.length > zoneCountRange.max) {
                issue("availabilityZones", `list ${zoneCountRange.min} to ${zoneCountRange.max} zones, not ${zones.length}`);
            }
            if (v.availabilityZoneCount !== undefined && v.availabilityZoneCount !== zones.length) {
                issue("availabilityZoneCount", `is ${v.availabilityZoneCount} but availabilityZones lists ${zones.length}; set one of them`);
            }
            distinct(zones, ctx, ["availabilityZones"]);
        }
    })
    .transform((v) =>
        v.id !== undefined
            ? { kind: "existing" as const, id: v.id, privateSubnetIds: v.privateSubnetIds ?? [], publicSubnetIds: v.publicSubnetIds ?? [] }
            : {
                  kind: "create" as const,
                  cidrBlock: v.cidrBlock ?? vpcDefaults.cidrBlock,
                  availabilityZoneCount: v.availabilityZones?.length ?? v.availabilityZoneCount ?? vpcDefaults.availabilityZoneCount,
                  availabilityZones: v.availabilityZones,
                  natGateways: v.natGateways ?? vpcDefaults.natGateways,
              },
    );

/** RFC 5737's documentation networks: never a real client, only a placeholder someone forgot to replace. */
export const documentationCidrs = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"];

/** Why `cidr` is a documentation-range placeholder, or undefined. `what` says what belongs there instead. */
function placeholderCidrProblem(cidr: string, what: string): string | undefined {
    const parsed = parseCidr(cidr);
    if ("error" in parsed) return undefined;
    const inside = documentationCidrs.some((doc) => {
        const d = parseCidr(doc) as { address: number; prefix: number };
        return parsed.prefix >= d.prefix && parsed.address >>> (32 - d.prefix) === d.address >>> (32 - d.prefix);
    });
    return inside ? `${cidr} is a documentation range (RFC 5737), never a real network (the stack files ship one as a placeholder): replace it with ${what}` : undefined;
}

const operatorNetworks =
    "the egress CIDR of the network that runs pulumi and kubectl (your office or VPN egress, a CI runner's address: curl -s https://checkip.amazonaws.com, then append /32)";
const vpcNetworks = "the CIDR of the network inside or routed into the VPC that runs pulumi and kubectl (a VPN's client range, a CI runner's subnet)";

const apiEndpoint = section({
    /** `private`: the API server is reachable only from inside the VPC. `public`: also from `publicAccessCidrs`. Default private. */
    access: z.enum(["private", "public"], { error: (iss) => `${quote(iss.input)} is not private or public` }).default("private"),
    /** Client CIDRs allowed to reach the public endpoint; required with `access: public`. Default none. */
    publicAccessCidrs: z.array(cidrBlock).default([]),
    /**
     * Networks (inside or routed into the VPC) allowed to reach the private endpoint on 443: an ingress rule on the
     * cluster security group each. With `access: private` this or `privateAccessSecurityGroupIds` is required: the
     * private endpoint otherwise admits only the cluster's own security group, which the machine running `pulumi up`
     * is never in. Default none.
     */
    privateAccessCidrs: z.array(cidrBlock).default([]),
    /** Security groups (of a CI runner, a bastion, a VPN endpoint in the VPC) allowed to reach the private endpoint on 443. Default none. */
    privateAccessSecurityGroupIds: z.array(awsId("sg", "sg-0123456789abcdef0")).default([]),
}).check((ctx) => {
    const { access, publicAccessCidrs, privateAccessCidrs, privateAccessSecurityGroupIds } = ctx.value;
    const issue = (path: PropertyKey[], message: string) => ctx.issues.push({ code: "custom", input: ctx.value, path, message });
    if (access === "public" && publicAccessCidrs.length === 0) {
        issue(["publicAccessCidrs"], "required with access public: list the CIDRs of the networks that run pulumi and kubectl");
    }
    if (access === "private" && publicAccessCidrs.length > 0) {
        issue(["publicAccessCidrs"], "only used with access public; remove it, or set access: public");
    }
    if (access === "private" && privateAccessCidrs.length === 0 && privateAccessSecurityGroupIds.length === 0) {
        issue(
            ["privateAccessCidrs"],
            "required with access private (or privateAccessSecurityGroupIds): the private endpoint admits only the cluster security group, which the machine running pulumi is never in; " +
                `list ${vpcNetworks} (see docs/prod.md)`,
        );
    }
    publicAccessCidrs.forEach((c, i) => {
        if (c.endsWith("/0")) issue(["publicAccessCidrs", i], `${c} opens the Kubernetes API to the whole internet; list your own networks`);
        const placeholder = placeholderCidrProblem(c, operatorNetworks);
        if (placeholder) issue(["publicAccessCidrs", i], placeholder);
    });
    privateAccessCidrs.forEach((c, i) => {
        if (c.endsWith("/0")) issue(["privateAccessCidrs", i], `${c} admits every network routed into the VPC; list the networks that run pulumi and kubectl`);
        const placeholder = placeholderCidrProblem(c, vpcNetworks);
        if (placeholder) issue(["privateAccessCidrs", i], placeholder);
    });
    distinct(publicAccessCidrs, ctx, ["publicAccessCidrs"]);
    distinct(privateAccessCidrs, ctx, ["privateAccessCidrs"]);
    distinct(privateAccessSecurityGroupIds, ctx, ["privateAccessSecurityGroupIds"]);
});

const instanceTypePattern = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;

const systemNodeGroup = section({
    /** EC2 instance type of the CPU nodes that run controllers, Prometheus and the activator. Default m6i.xlarge. */
    instanceType: z
        .string()
        .check((ctx) => {
            const t = ctx.value;
            if (!instanceTypePattern.test(t)) {
                ctx.issues.push({ code: "custom", input: t, message: `${quote(t)} is not an EC2 instance type like m6i.xlarge` });
            } else if (/^(p|g|inf|trn|dl)\d/.test(t)) {
                ctx.issues.push({ code: "custom", input: t, message: `${quote(t)} is an accelerated instance type; the system group runs CPU controllers, use e.g. m6i.xlarge` });
            } else {
                const unknown = instanceTypeProblem(t); // a typo AWS would only refuse at launch
                if (unknown) ctx.issues.push({ code: "custom", input: t, message: unknown });
            }
        })
        .default("m6i.xlarge"),
    /** Nodes at least; two, so controllers survive losing one. Default 2. */
    minSize: int(2, 20, " (controllers need two nodes to survive losing one)").default(2),
    /** Nodes at most (cluster-autoscaler adds them under load). Default 4. */
    maxSize: int(2, 20).default(4),
    /** Root volume size in GiB (gp3, encrypted). Default 50. */
    rootVolumeSizeGiB: int(20, 1000).default(50),
}).check((ctx) => {
    const g = ctx.value;
    if (g.minSize > g.maxSize) ctx.issues.push({ code: "custom", input: g, path: ["minSize"], message: `${g.minSize} exceeds maxSize ${g.maxSize}` });
});

/** Why `key` cannot be a node label key of ours (invalid, ours, or reserved by Kubernetes), or undefined. */
function nodeLabelKeyProblem(key: string): string | undefined {
    const invalid = labelKeyProblem(key);
    if (invalid !== undefined) return invalid;
    if (reservedLabelKeys.includes(key)) return "is set by the program itself; choose another key";
    const prefix = key.includes("/") ? key.slice(0, key.indexOf("/")) : "";
    if (/(^|\.)(kubernetes\.io|k8s\.io)$/.test(prefix)) {
        return "uses a Kubernetes-reserved prefix (kubernetes.io, k8s.io) that EKS refuses for node labels";
    }
    return undefined;
}

const labels = z.record(z.string(), z.string()).check((ctx) => {
    for (const [key, value] of Object.entries(ctx.value)) {
        const problem = nodeLabelKeyProblem(key) ?? labelValueProblem(value);
        if (problem) ctx.issues.push({ code: "custom", input: key, path: [key], message: problem });
    }
});

/** Who launches a GPU pool's nodes. */
export const gpuProvisioners = ["karpenter", "cluster-autoscaler"] as const;
export type GpuProvisioner = (typeof gpuProvisioners)[number];

const gpuNodeGroup = section({
    /** Group name: a DNS label of at most 20 characters, unique; pods select the group by it. */
    name: z
        .string({ error: "required: a DNS label such as a100" })
        .regex(/^[a-z]([-a-z0-9]{0,18}[a-z0-9])?$/, { error: (iss) => `${quote(iss.input)} is not a DNS label of at most 20 characters (a-z, 0-9, -)` })
        .refine((n) => n !== systemGroupName, { error: `"${systemGroupName}" names the system node group; choose another name` }),
    /** p4d.24xlarge (8 x A100 40 GiB) or p4de.24xlarge (8 x A100 80 GiB). */
    instanceType: z.enum(a100InstanceTypeNames, {
        error: (iss) =>
            iss.input === undefined
                ? `required; use ${a100InstanceTypeNames.join(" or ")}`
                : `${quote(iss.input)} is not an A100 instance type; use ${a100InstanceTypeNames.join(" or ")}`,
    }),
    /** Nodes kept when idle. Default 0: the group scales from zero. */
    minSize: int(0, 100).default(0),
    /** Nodes at most. Default 1. */
    maxSize: int(1, 100).default(1),
    /** ON_DEMAND, SPOT or CAPACITY_BLOCK (an EC2 Capacity Block for ML). Default ON_DEMAND. */
    capacityType: z.enum(capacityTypes, { error: (iss) => `${quote(iss.input)} is not one of ${capacityTypes.join(", ")}` }).default("ON_DEMAND"),
    /** Capacity reservation (cr-...) to launch into: required for CAPACITY_BLOCK, optional for ON_DEMAND. */
    capacityReservationId: awsId("cr", "cr-0123456789abcdef0").optional(),
    /** Zone to launch in (required for CAPACITY_BLOCK: the block lives in one zone). Default: every private subnet's zone. */
    availabilityZone: zoneName.optional(),
    /** Root volume size in GiB (gp3, encrypted): holds images and model weights. Default 500. */
    rootVolumeSizeGiB: int(100, 16384).default(500),
    /** Extra node labels. Default none. */
    labels: labels.default({}),
    /**
     * Who launches the pool's nodes: `karpenter` (a NodePool: launches ~1 s after a pod goes pending, NVMe RAID0 for
     * images and pods, a 100 GiB OS root volume; rootVolumeSizeGiB does not apply) or `cluster-autoscaler` (a managed
     * node group; needed for minSize > 0). Default karpenter. See docs/karpenter.md.
     */
    provisioner: z
        .enum(gpuProvisioners, { error: (iss) => `${quote(iss.input)} is not one of ${gpuProvisioners.join(", ")}` })
        .default("karpenter"),
    /** Spare GPU nodes kept up, always or on a schedule (`{nodes, schedule: {timezone, start, end}}`; see config/fastPath.ts). Default none. */
    warm: warmNodesSchema.optional(),
}).check((ctx) => {
    const g = ctx.value;
    const issue = (path: string, message: string) => ctx.issues.push({ code: "custom", input: g, path: [path], message });
    if (g.minSize > g.maxSize) issue("minSize", `${g.minSize} exceeds maxSize ${g.maxSize}`);
    if (g.provisioner === "karpenter" && g.minSize > 0) {
        issue("minSize", `${g.minSize} needs nodes kept without pods, which a Karpenter NodePool does not do; use minSize 0 or provisioner cluster-autoscaler`);
    }
    if (g.warm !== undefined && g.warm.nodes > g.maxSize) {
        ctx.issues.push({ code: "custom", input: g, path: ["warm", "nodes"], message: `${g.warm.nodes} spare nodes cannot fit under maxSize ${g.maxSize}` });
    }
    if (g.capacityType === "CAPACITY_BLOCK") {
        if (g.capacityReservationId === undefined) issue("capacityReservationId", "required with capacityType CAPACITY_BLOCK: the id of the Capacity Block (cr-...)");
        if (g.availabilityZone === undefined) issue("availabilityZone", "required with capacityType CAPACITY_BLOCK: the zone the Capacity Block is in");
    }
    if (g.capacityType === "SPOT" && g.capacityReservationId !== undefined) {
        issue("capacityReservationId", "does not apply to SPOT capacity; remove it or use ON_DEMAND/CAPACITY_BLOCK");
    }
    if (g.capacityType === "ON_DEMAND" && g.capacityReservationId !== undefined && g.availabilityZone === undefined) {
        // A targeted launch outside the reservation's zone fails: instances could land in any private subnet's zone.
        issue(
            "availabilityZone",
            `required with capacityReservationId: a capacity reservation lives in one zone; set the reservation's zone (aws ec2 describe-capacity-reservations --capacity-reservation-ids ${g.capacityReservationId})`,
        );
    }
    // cluster-autoscaler reads node labels from Auto Scaling group tags, whose keys AWS caps at 128 characters.
    const tagPrefix = "k8s.io/cluster-autoscaler/node-template/label/";
    for (const key of g.provisioner === "cluster-autoscaler" ? Object.keys(autoscalerNodeTemplateTags(g)) : []) {
        if (key.length > awsTagKeyMaxLength && key.startsWith(tagPrefix)) {
            const label = key.slice(tagPrefix.length);
            ctx.issues.push({
                code: "custom",
                input: g,
                path: ["labels", label],
                message: `is too long for cluster-autoscaler's Auto Scaling group tag ${tagPrefix}<key> (${key.length} characters, AWS allows ${awsTagKeyMaxLength}); use a key of at most ${awsTagKeyMaxLength - tagPrefix.length} characters`,
            });
        }
    }
});

const goDuration = z.string().check((ctx) => {
    if (!/^(\d+h)?(\d+m)?(\d+s)?$/.test(ctx.value) || ctx.value === "" || /^(0+[hms])+$/.test(ctx.value)) {
        ctx.issues.push({ code: "custom", input: ctx.value, message: `${quote(ctx.value)} is not a positive duration like 10m or 1h30m` });
    }
});

/** The platform's stack keys (the models' keys live in `./models.ts`). */
export const platformKeys = {
    /** AWS region of everything the stack creates. Default us-west-2. */
    region: z
        .string()
        // A name of the wrong shape, or one AWS does not have (a typo it would refuse only at pulumi up).
        .check(satisfies((r: string) => (regionPattern.test(r) ? regionProblem(r) : `${quote(r)} is not an AWS region name like us-west-2`)))
        .default("us-west-2"),
    /**
     * Kubernetes version of the EKS control plane and nodes: one of `supportedKubernetesVersions` (versions.ts: those
     * KEDA 2.20 is tested on and cluster-autoscaler has a release for). Default 1.35.
     */
    kubernetesVersion: z
        .string()
        .check((ctx) => {
            const problem = kubernetesVersionProblem(ctx.value);
            if (problem !== undefined) ctx.issues.push({ code: "custom", input: ctx.value, message: problem });
        })
        .default("1.35"),
    /**
     * IAM roles or users (ARNs) that get cluster-admin through an EKS access entry, besides whoever creates the
     * cluster: a second operator, a CI role. Default none.
     */
    adminPrincipalArns: z
        .array(
            z.string().regex(/^arn:aws(-[a-z]+)*:iam::\d{12}:(role|user)\/[\w+=,.@/-]+$/, {
                error: (iss) =>
                    String(iss.input).includes(":sts::")
                        ? `${quote(iss.input)} is an assumed-role session; use the role's ARN, arn:aws:iam::<account>:role/<name>`
                        : `${quote(iss.input)} is not an IAM role or user ARN like arn:aws:iam::123456789012:role/platform-admin`,
            }),
        )
        .check((ctx) => distinct(ctx.value, ctx, []))
        .default([]),
    /** The VPC: created (default) or adopted with `id` and subnet ids. */
    vpc: vpc.prefault({}),
    /** Who can reach the Kubernetes API server. */
    apiEndpoint: apiEndpoint.prefault({}),
    /** The CPU node group for controllers. */
    systemNodeGroup: systemNodeGroup.prefault({}),
    /** A100 node groups, each scaling between minSize and maxSize. Default: one p4d.24xlarge group "a100", 0 to 1 nodes. */
    gpuNodeGroups: z
        .array(gpuNodeGroup)
        .check((ctx) => {
            const names = ctx.value.map((g) => g.name);
            names.forEach((n, i) => {
                if (names.indexOf(n) !== i) ctx.issues.push({ code: "custom", input: n, path: [i, "name"], message: `${quote(n)} is already the name of gpuNodeGroups[${names.indexOf(n)}]` });
            });
        })
        .prefault([{ name: "a100", instanceType: "p4d.24xlarge" }]),
    /** Prometheus retention and persistent volume. */
    prometheus: section({
        /** How long samples are kept (Prometheus duration). Default 15d. */
        retention: z.string().check(satisfies(prometheusDurationProblem)).default("15d"),
        /** Size of Prometheus' gp3 volume. Default 50Gi. */
        storageSize: z.string().check(satisfies(storageSizeProblem)).default("50Gi"),
    }).prefault({}),
    /** Chart version overrides by chart key (see components/domain/versions.ts). Default none. */
    chartVersions: z
        .record(z.string(), z.unknown())
        .check((ctx) => {
            for (const [chart, version] of Object.entries(ctx.value)) {
                const problem = chartVersionOverrideProblem(chart, version);
                if (problem !== undefined) ctx.issues.push({ code: "custom", input: version, path: [chart], message: problem });
            }
        })
        .transform((v) => v as Record<string, string>)
        .default({}),
    /** cluster-autoscaler behaviour. */
    clusterAutoscaler: section({
        /** How long a node must be unneeded before it is removed (idle GPU nodes cost ~$30/hour). Default 10m. */
        scaleDownUnneededTime: goDuration.default("10m"),
        /**
         * How long a requested node may take to register before cluster-autoscaler gives up on it and backs off the
         * group (`--max-node-provision-time`, upstream default 15m). Must stay below every GPU model's hold budget,
         * so that a capacity failure is noticed while the request still waits. Default 10m.
         */
        maxNodeProvisionTime: goDuration.default("10m"),
    }).prefault({}),
    /** Images from ECR: pull-through cache rules and an nvcr.io mirror (config/fastPath.ts). Default: off, images from their upstreams. */
    imageCache: imageCacheSchema,
    /** S3 gateway and ECR interface endpoints in the VPC (config/fastPath.ts). Default false. */
    vpcEndpoints: vpcEndpointsSchema,
    /** Node-local NVMe cache for hf:// LLM weights and vLLM compile caches on the Karpenter GPU pools (config/nodeCache.ts). Default false. */
    nodeCache: nodeCacheSchema,
    /** The OpenAI Batch API: bucket, queues, roles and the batch runner (config/batch.ts). Default off. */
    batch: batchStackSchema,
    /** Protect the EKS cluster and its secrets key from deletion (`pulumi destroy` refuses until turned off). Default false. */
    protect: z.boolean({ error: (iss) => `${quote(iss.input)} is not true or false` }).default(false),
};

const platformSchema = z.strictObject(platformKeys);
export type PlatformConfig = z.output<typeof platformSchema>;
export type VpcConfig = PlatformConfig["vpc"];
export type ApiEndpointConfig = PlatformConfig["apiEndpoint"];
export type SystemNodeGroupConfig = PlatformConfig["systemNodeGroup"];
export type GpuNodeGroupConfig = PlatformConfig["gpuNodeGroups"][number];

/** Checks across platform keys: every zone named must be in the region (and in the VPC's zones when those are listed). */
export function checkPlatform(config: PlatformConfig, ctx: z.RefinementCtx): void {
    const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: "custom", path, message });
    const inRegion = (zone: string) => zone.startsWith(config.region) && zone.length === config.region.length + 1;
    const vpcZones = config.vpc.kind === "create" ? config.vpc.availabilityZones : undefined;
    vpcZones?.forEach((zone, i) => {
        if (!inRegion(zone)) issue(["vpc", "availabilityZones", i], `${quote(zone)} is not a zone of region ${config.region}`);
    });
    config.gpuNodeGroups.forEach((g, i) => {
        if (g.availabilityZone === undefined) return;
        if (!inRegion(g.availabilityZone)) {
            issue(["gpuNodeGroups", i, "availabilityZone"], `${quote(g.availabilityZone)} is not a zone of region ${config.region}`);
        } else if (vpcZones && !vpcZones.includes(g.availabilityZone)) {
            issue(["gpuNodeGroups", i, "availabilityZone"], `${quote(g.availabilityZone)} is not one of vpc.availabilityZones (${vpcZones.join(", ")})`);
        }
    });    const cacheProblem = nodeCacheProblem(config);
    if (cacheProblem) issue(["nodeCache"], cacheProblem);
}
