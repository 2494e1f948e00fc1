/**
 * Runs the program (index.ts) under Pulumi's mock runtime (`pulumi.runtime.setMocks`: no engine, no CLI, no cloud
 * credentials) and records every resource it registers, with its resolved inputs, parent and type.
 *
 * What a cloud provider would compute (an EKS cluster's OIDC issuer, an image digest, ARNs) cannot be known without an
 * account: such outputs get placeholder values shaped like the real ones (account 123456789012, region from config),
 * and secrets stay marked so the renderer redacts them.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
// The mock monitor drops parents and dependencies before `newResource`; wrapping `registerResource` observes them
// (the same technique as tests/support/mocks.ts).
import * as settings from "@pulumi/pulumi/runtime/settings";

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
}

const ACCOUNT = "123456789012";

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
            break;
        case "docker-build:index:Image":
            // The pushed image by digest: the first tag, with a placeholder digest (the real one exists after the push).
            state.ref = `${String(inputs.tags?.[0] ?? name).replace(/:[^/:]*$/, "")}@sha256:${"0".repeat(64)}`;
            break;
        case "random:index/randomPassword:RandomPassword":
            state.result = pulumi.secret("<generated at deploy time>");
            break;
    }
    if (state.arn === undefined && type.startsWith("aws:")) state.arn = `arn:aws:${type.split(/[:/]/)[1]}:${region}:${ACCOUNT}:${name}`;
    return state;
}

/**
 * Evaluates `programPath` (a module that registers resources on load, like index.ts) with `config` for `stack` and
 * returns every resource in registration order. A config error or any exception the program throws propagates.
 */
export async function runProgram(options: {
    programPath: string;
    project: string;
    stack: string;
    config: Record<string, string>;
    secretKeys: string[];
}): Promise<PlannedResource[]> {
    const region = options.config["gpu-serverless:region"] ?? "us-west-2";
    pulumi.runtime.setAllConfig(options.config, options.secretKeys);
    pulumi.runtime.setMocks(
        {
            newResource: (args) => ({ id: placeholderId(args.type, args.name), state: computedState(args.type, args.name, args.inputs, region) }),
            call: (args) => {
                switch (args.token) {
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
                    default:
                        return args.inputs;
                }
            },
        },
        options.project,
        options.stack,
        false,
    );
    const recorded = new Map<string, PlannedResource>();
    const monitor = getMonitor() as any;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: (err: any, resp: any) => void) =>
        register(req, (err: any, resp: any) => {
            if (!err && resp) {
                const urn: string = resp.getUrn();
                recorded.set(urn, {
                    urn,
                    type: req.getType(),
                    name: req.getName(),
                    custom: req.getCustom(),
                    parent: req.getParent(),
                    inputs: pulumi.runtime.deserializeProperties(req.getObject()),
                });
            }
            callback(err, resp);
        });
    let failure: unknown;
    const onError = (e: unknown) => (failure ??= e);
    process.on("unhandledRejection", onError);
    try {
        require(options.programPath);
        await waitForRPCs();
    } finally {
        process.off("unhandledRejection", onError);
    }
    if (failure !== undefined) throw failure;
    return [...recorded.values()];
}

/** A resource id: EC2 subnets get one shaped like EC2's (`subnet-` + 17 hex; Karpenter's EC2NodeClass selects them by id), others `<name>-id`. */
function placeholderId(type: string, name: string): string {
    if (type === "aws:ec2/subnet:Subnet") return `subnet-${createHash("sha256").update(name).digest("hex").slice(0, 17)}`;
    return `${name}-id`;
}
