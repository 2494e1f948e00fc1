/**
 * The one Pulumi mock runtime of the repository: `npm run plan` evaluates the program (index.ts) under it, and the
 * test suite's helper (tests/support/mocks.ts) installs it for the components' tests. It uses Pulumi's mock runtime
 * (`pulumi.runtime.setMocks`: no engine, no CLI, no cloud credentials) and records every resource the program
 * registers, with its resolved inputs, parent, type and direct dependencies.
 *
 * What a cloud provider would compute (an EKS cluster's OIDC issuer, an image digest, ARNs) cannot be known without an
 * account: such outputs get placeholder values shaped like the real ones (account 123456789012, region from config),
 * and secrets stay marked so the renderer redacts them. It is strict, so a program that reads what it does not model
 * fails loudly instead of rendering placeholders nobody checks:
 *   - a provider function (`aws.getX`) it does not model throws `mock runtime: provider function <token> is not modelled`;
 *   - an input string containing `undefined` or `[object Object]` (an output it did not model, formatted into a
 *     string) is recorded as a problem, thrown by {@link recordedResources} and {@link runProgram}.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
// The mock monitor drops parents and dependencies before `newResource`; wrapping `registerResource` observes them.
import * as settings from "@pulumi/pulumi/runtime/settings";

// Internal to the SDK (present at run time, absent from its typings): drains queued resource registrations.
const { getMonitor, waitForRPCs } = settings as typeof settings & { waitForRPCs(): Promise<void> };

/** One registered resource: inputs as the provider would receive them (secrets as `{ [sig]: secret, value }`). */
export interface PlannedResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly custom: boolean;
    /** URN of the parent; the stack's own URN for top-level resources. */
    readonly parent: string;
    readonly inputs: Record<string, any>;
    /** URNs of direct dependencies: explicit `dependsOn` plus resources whose outputs feed the inputs. */
    readonly dependencies: string[];
}

const ACCOUNT = "123456789012";

/** AWS types whose `name` output Pulumi auto-names and the program reads (EC2NodeClass instanceProfile, Karpenter interruptionQueue). */
const autoNamed = new Set(["aws:iam/instanceProfile:InstanceProfile", "aws:sqs/queue:Queue"]);

/** Placeholder outputs for what a provider computes; everything else echoes the inputs, as a real create would. */
function computedState(type: string, name: string, inputs: Record<string, any>, region: string): Record<string, any> {
    const state: Record<string, any> = { ...inputs };
    switch (type) {
        case "eks:index:Cluster": {
            const issuer = `oidc.eks.${region}.amazonaws.com/id/EXAMPLE`;
            state.kubeconfig = { apiVersion: "v1", kind: "Config", clusters: [], contexts: [], users: [] };
            state.kubeconfigJson = JSON.stringify(state.kubeconfig);
            state.eksCluster = {
                name: inputs.name ?? name,
                arn: `arn:aws:eks:${region}:${ACCOUNT}:cluster/${inputs.name ?? name}`,
                version: inputs.version,
                vpcConfig: { clusterSecurityGroupId: "sg-cluster" },
            };
            state.clusterSecurityGroupId = "sg-cluster";
            state.core = { oidcProvider: { arn: `arn:aws:iam::${ACCOUNT}:oidc-provider/${issuer}`, url: issuer } };
            state.oidcProviderArn = state.core.oidcProvider.arn;
            state.oidcProviderUrl = issuer;
            state.oidcIssuer = issuer;
            break;
        }
        case "aws:eks/nodeGroup:NodeGroup":
            state.resources = [{ autoscalingGroups: [{ name: `eks-${inputs.nodeGroupName ?? name}-asg` }] }];
            state.nodeGroupName = inputs.nodeGroupName ?? name;
            break;
        case "aws:ecr/repository:Repository":
            state.repositoryUrl = `${ACCOUNT}.dkr.ecr.${region}.amazonaws.com/${inputs.name ?? name}`;
            state.registryId = ACCOUNT;
            break;
        case "aws:ec2/launchTemplate:LaunchTemplate":
            // A new launch template has one version, the default one.
            state.latestVersion = 1;
            state.defaultVersion = 1;
            break;
        case "docker-build:index:Image":
            // The pushed image by digest: the first tag, with a placeholder digest (the real one exists after the push).
            state.ref = `${String(inputs.tags?.[0] ?? name).replace(/:[^/:]*$/, "")}@sha256:${"0".repeat(64)}`;
            break;
        case "aws:s3/bucket:Bucket":
            state.bucket = inputs.bucket ?? `${inputs.bucketPrefix ?? name}${createHash("sha256").update(name).digest("hex").slice(0, 12)}`;
            break;
        case "aws:sqs/queue:Queue": {
            const queueName = inputs.name ?? `${name}-${createHash("sha256").update(name).digest("hex").slice(0, 7)}`;
            state.url = `https://sqs.${region}.amazonaws.com/${ACCOUNT}/${queueName}`;
            state.arn = `arn:aws:sqs:${region}:${ACCOUNT}:${queueName}`;
            break;
        }
        case "random:index/randomPassword:RandomPassword":
            state.result = pulumi.secret("<generated at deploy time>");
            break;
    }
    // Pulumi auto-names these when `name` is not given: the logical name plus a random suffix (placeholder here).
    if (state.name === undefined && autoNamed.has(type)) state.name = `${name}-${createHash("sha256").update(name).digest("hex").slice(0, 7)}`;
    if (state.arn === undefined && type.startsWith("aws:")) state.arn = placeholderArn(type, name, state, region);
    return state;
}

/** A UUID-shaped id derived from `seed` (KMS key ids, the suffix EKS gives node group and add-on ARNs). */
const uuidOf = (seed: string): string => createHash("sha256").update(seed).digest("hex").slice(0, 32).replace(/^(.{8})(.{4})(.{4})(.{4})/, "$1-$2-$3-$4-");

/**
 * The ARN AWS would give the resource, in its documented shape (IAM: global, no region; S3: no region or account;
 * others `arn:aws:<service>:<region>:<account>:<resource>`), with the resource's name or placeholder id. Shapes from
 * the AWS Service Authorization Reference's "Resource types" table of each service. `state` is the resource's
 * computed state (its `name` when the program or {@link autoNamed} gave one).
 */
export function placeholderArn(type: string, name: string, state: Record<string, any>, region: string): string {
    const [, module, resource] = type.split(/[:/]/);
    const named = String(state.name ?? name);
    const regional = (service: string, rest: string) => `arn:aws:${service}:${region}:${ACCOUNT}:${rest}`;
    switch (type) {
        case "aws:iam/role:Role":
            return `arn:aws:iam::${ACCOUNT}:role${state.path ?? "/"}${named}`;
        case "aws:iam/policy:Policy":
            return `arn:aws:iam::${ACCOUNT}:policy${state.path ?? "/"}${named}`;
        case "aws:iam/instanceProfile:InstanceProfile":
            return `arn:aws:iam::${ACCOUNT}:instance-profile${state.path ?? "/"}${named}`;
        case "aws:iam/user:User":
            return `arn:aws:iam::${ACCOUNT}:user${state.path ?? "/"}${named}`;
        case "aws:s3/bucket:Bucket":
        case "aws:s3/bucketV2:BucketV2":
            return `arn:aws:s3:::${state.bucket ?? named}`;
        case "aws:kms/key:Key":
            return regional("kms", `key/${uuidOf(name)}`);
        case "aws:sqs/queue:Queue":
            return regional("sqs", named);
        case "aws:cloudwatch/logGroup:LogGroup":
            return regional("logs", `log-group:${named}`);
        case "aws:cloudwatch/eventRule:EventRule":
            return regional("events", `rule/${named}`);
        case "aws:ecr/repository:Repository":
            return regional("ecr", `repository/${named}`);
        case "aws:eks/nodeGroup:NodeGroup":
            return regional("eks", `nodegroup/${state.clusterName}/${state.nodeGroupName ?? named}/${uuidOf(name)}`);
        case "aws:eks/addon:Addon":
            return regional("eks", `addon/${state.clusterName}/${state.addonName}/${uuidOf(name)}`);
        case "aws:eks/accessEntry:AccessEntry":
            return regional("eks", `access-entry/${state.clusterName}/role/${ACCOUNT}/${String(state.principalArn).split("/").pop()}/${uuidOf(name)}`);
        case "aws:secretsmanager/secret:Secret":
            return regional("secretsmanager", `secret:${named}-${uuidOf(name).slice(0, 6)}`);
    }
    // EC2 and anything else: <service>:<region>:<account>:<resource-type>/<id>, the type in kebab case (`security-group`).
    const kebab = resource.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
    return regional(module === "vpc" ? "ec2" : module, `${kebab}/${module === "ec2" || module === "vpc" ? placeholderId(type, name) : named}`);
}

const recorded = new Map<string, PlannedResource>();
const requestedAtByUrn = new Map<string, number>();
const problems: string[] = [];
const subnetZones = new Map<string, string>();
let problemListener: ((error: Error) => void) | undefined;

/** Records `message` as a problem of this run and returns it as an Error. */
function problem(message: string): Error {
    problems.push(message);
    const error = new Error(message);
    problemListener?.(error);
    return error;
}

/** Provider functions the program calls, answered as the real ones would for `region` in account 123456789012. */
function providerCall(token: string, inputs: Record<string, any>, region: string): Record<string, any> {
    switch (token) {
        case "aws:index/getAvailabilityZones:getAvailabilityZones": {
            const zones = ["a", "b", "c", "d", "e", "f"];
            return { names: zones.map((z) => `${region}${z}`), zoneIds: zones.map((_, i) => `az${i + 1}`) };
        }
        case "aws:index/getRegion:getRegion":
            return { name: region, region };
        case "aws:index/getCallerIdentity:getCallerIdentity":
            return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/plan`, userId: "plan" };
        case "aws:index/getPartition:getPartition":
            return { partition: "aws", dnsSuffix: "amazonaws.com" };
        case "aws:ec2/getSubnet:getSubnet": {
            // An existing subnet: zones a, b, c, … in the order the program first asks about each subnet.
            if (!subnetZones.has(inputs.id)) subnetZones.set(inputs.id, `${region}${"abcdef"[subnetZones.size % 6]}`);
            return { id: inputs.id, availabilityZone: subnetZones.get(inputs.id) };
        }
        case "aws:ec2/getVpc:getVpc":
            // An adopted VPC: the /16 the stacks' defaults use (the endpoints' security group admits it).
            return { id: inputs.id, cidrBlock: "10.0.0.0/16", cidrBlockAssociations: [{ cidrBlock: "10.0.0.0/16" }] };
        case "aws:ec2/getRouteTable:getRouteTable": {
            // The route table associated with an adopted private subnet (its S3 gateway endpoint route goes there).
            const routeTableId = `rtb-${createHash("sha256").update(String(inputs.subnetId)).digest("hex").slice(0, 17)}`;
            return { id: routeTableId, routeTableId, subnetId: inputs.subnetId, vpcId: "vpc-adopted" };
        }
        case "aws:ecr/getAuthorizationToken:getAuthorizationToken": {
            // ECR's docker login: user AWS and a 12-hour token (placeholder here; the real one exists at deploy time).
            const proxyEndpoint = `https://${ACCOUNT}.dkr.ecr.${region}.amazonaws.com`;
            const password = "<ecr token at deploy time>";
            return { proxyEndpoint, userName: "AWS", password, authorizationToken: Buffer.from(`AWS:${password}`).toString("base64") };
        }
        default:
            // Pulumi's mock monitor passes on only "Error" to the caller: the message reaches the user as a problem.
            throw problem(`mock runtime: provider function ${token} is not modelled (scripts/plan/runtime.ts providerCall)`);
    }
}

/** Strings in `value` that show an unmodelled output was formatted into an input, as `<path> = "<string>"`. */
export function suspiciousStrings(value: unknown, path = ""): string[] {
    if (typeof value === "string") return /undefined|\[object Object\]/.test(value) ? [`${path || "(value)"} = ${JSON.stringify(value)}`] : [];
    if (Array.isArray(value)) return value.flatMap((v, i) => suspiciousStrings(v, `${path}[${i}]`));
    if (typeof value === "object" && value !== null) {
        return Object.entries(value).flatMap(([k, v]) => suspiciousStrings(v, path ? `${path}.${k}` : k));
    }
    return [];
}


/**
 * Installs the mock runtime for `project`/`stack` (and `config`, when given, with `secretKeys` marked secret) and
 * records every resource registered from then on. Call again to start over with other config; {@link resetRecorded}
 * forgets what was recorded.
 */
export function installMockRuntime(options: { project: string; stack: string; config?: Record<string, string>; secretKeys?: string[] }): void {
    const region = options.config?.["gpu-serverless:region"] ?? "us-west-2";
    subnetZones.clear(); // zones of adopted subnets are answered in this runtime's region, in the order it asks
    if (options.config) pulumi.runtime.setAllConfig(options.config, options.secretKeys);
    pulumi.runtime.setMocks(
        {
            newResource: (args) => ({ id: placeholderId(args.type, args.name), state: computedState(args.type, args.name, args.inputs, region) }),
            call: (args) => providerCall(args.token, args.inputs, region),
        },
        options.project,
        options.stack,
        false,
    );
    const monitor = getMonitor() as any;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: (err: any, resp: any) => void) => {
        const requestedAt = performance.now();
        return register(req, (err: any, resp: any) => {
            if (!err && resp) {
                const urn: string = resp.getUrn();
                const resource: PlannedResource = {
                    urn,
                    type: req.getType(),
                    name: req.getName(),
                    custom: req.getCustom(),
                    parent: req.getParent(),
                    inputs: pulumi.runtime.deserializeProperties(req.getObject()),
                    dependencies: req.getDependenciesList(),
                };
                for (const found of suspiciousStrings(resource.inputs)) {
                    problem(`mock runtime: ${resource.type} "${resource.name}" input ${found} (an output the mocks do not model, formatted into a string)`);
                }
                recorded.set(urn, resource);
                requestedAtByUrn.set(urn, requestedAt);
            }
            callback(err, resp);
        });
    };
}

/** Forgets every recorded resource and problem, and the zones given to adopted subnets. */
export function resetRecorded(): void {
    recorded.clear();
    requestedAtByUrn.clear();
    problems.length = 0;
    subnetZones.clear();
}

/** Every resource registered since the last reset, in registration order; throws the problems found, one a line. */
export function recordedResources(): PlannedResource[] {
    if (problems.length > 0) throw new Error(problems.join("\n"));
    return [...recorded.values()];
}

/** The recorded resource with this URN, if any (no problem check: for walking dependencies). */
export function recordedByUrn(urn: string): PlannedResource | undefined {
    return recorded.get(urn);
}

/**
 * When the program asked the engine to register the resource `urn` (`performance.now()`, ms): after every explicit
 * and implicit dependency had resolved, so the gap to a dependency's time bounds how long the program held it back.
 */
export function registrationRequestedAt(urn: string): number | undefined {
    return requestedAtByUrn.get(urn);
}

/**
 * Waits until every resource registration started so far has reached the mock engine; throws the problems found
 * instead (an unmodelled provider function leaves the registrations that wait on it pending forever).
 */
export async function settled(): Promise<void> {
    if (problems.length > 0) throw new Error(problems.join("\n")); // recorded before this call: no listener saw it
    const stopped = new Promise<never>((_, reject) => (problemListener = reject));
    try {
        await Promise.race([waitForRPCs(), stopped]);
    } catch {
        // the problems, one a line, below
    } finally {
        problemListener = undefined;
    }
    if (problems.length > 0) throw new Error(problems.join("\n"));
}

/**
 * Evaluates `programPath` (a module that registers resources on load, like index.ts) with `config` for `stack` and
 * returns every resource in registration order. A config error or any exception the program throws propagates, and
 * so do the runtime's own problems (see the file's comment).
 */
export async function runProgram(options: {
    programPath: string;
    project: string;
    stack: string;
    config: Record<string, string>;
    secretKeys: string[];
}): Promise<PlannedResource[]> {
    installMockRuntime(options);
    resetRecorded();
    let failure: unknown;
    const onError = (e: unknown) => (failure ??= e);
    process.on("unhandledRejection", onError);
    try {
        require(options.programPath);
        await settled(); // stops at the first problem: an unmodelled provider function leaves outputs unresolved forever
    } catch (e) {
        if (problems.length > 0) throw new Error(problems.join("\n"));
        throw e;
    } finally {
        process.off("unhandledRejection", onError);
    }
    if (failure !== undefined) throw failure;
    return recordedResources();
}

/** A resource id: EC2 subnets get one shaped like EC2's (`subnet-` + 17 hex; Karpenter's EC2NodeClass selects them by id), others `<name>-id`. */
export function placeholderId(type: string, name: string): string {
    if (type === "aws:ec2/subnet:Subnet") return `subnet-${createHash("sha256").update(name).digest("hex").slice(0, 17)}`;
    return `${name}-id`;
}
