/**
 * The one Pulumi mocks helper of the test suite.
 *
 * `setupMocks()` installs `pulumi.runtime.setMocks` with a recorder: every resource the program registers (custom or
 * component) is kept with its type, name, inputs, parent and direct dependencies, so tests can assert on what a
 * `pulumi preview` would show and on ordering (`dependsOn`) without a Pulumi engine.
 *
 * Call it before importing the code under test's resources are created, then `resetRecorded()` between cases.
 */
import * as pulumi from "@pulumi/pulumi";
// The mock monitor drops dependency information before calling `newResource`; wrapping its `registerResource`
// is the only way to observe `dependsOn` and input-derived dependencies under mocks.
import * as settings from "@pulumi/pulumi/runtime/settings";

// Internal to the SDK (present at run time, absent from its typings): drains queued resource registrations.
const { getMonitor, waitForRPCs } = settings as typeof settings & { waitForRPCs(): Promise<void> };

export interface RecordedResource {
    urn: string;
    type: string;
    name: string;
    /**
     * Inputs as the provider would receive them: Outputs resolved, secrets kept in their wire form
     * `{ [specialSigKey]: specialSecretSig, value }` so tests can assert secrecy (see `isSecret`, `reveal`).
     */
    inputs: Record<string, any>;
    custom: boolean;
    parent: string;
    /** URNs of direct dependencies: explicit `dependsOn` plus resources whose outputs feed the inputs. */
    dependencies: string[];
}

const recorded = new Map<string, RecordedResource>();

/** Outputs a real provider would compute that the program reads back; everything else echoes the inputs. */
function mockState(args: pulumi.runtime.MockResourceArgs): Record<string, any> {
    const state: Record<string, any> = { ...args.inputs };
    switch (args.type) {
        case "eks:index:Cluster":
            state.kubeconfig = { apiVersion: "v1", kind: "Config", clusters: [], contexts: [], users: [] };
            state.kubeconfigJson = JSON.stringify(state.kubeconfig);
            state.eksCluster = {
                name: `${args.name}-eks`,
                arn: `arn:aws:eks:us-west-2:123456789012:cluster/${args.name}-eks`,
                version: args.inputs.version ?? "1.33",
                vpcConfig: { clusterSecurityGroupId: "sg-cluster" },
            };
            state.clusterSecurityGroupId = "sg-cluster";
            state.core = {
                oidcProvider: {
                    arn: `arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE`,
                    url: "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE",
                },
            };
            state.oidcProviderArn = state.core.oidcProvider.arn;
            state.oidcProviderUrl = state.core.oidcProvider.url;
            state.oidcIssuer = state.core.oidcProvider.url;
            break;
        case "aws:eks/nodeGroup:NodeGroup":
            state.resources = [{ autoscalingGroups: [{ name: `${args.name}-asg` }] }];
            state.nodeGroupName = args.inputs.nodeGroupName ?? args.name;
            state.arn = `arn:aws:eks:us-west-2:123456789012:nodegroup/${args.name}`;
            break;
        case "random:index/randomPassword:RandomPassword":
            state.result = "mock-password-0123456789";
            break;
    }
    if (state.arn === undefined && args.type.startsWith("aws:")) {
        state.arn = `arn:aws:mock:us-west-2:123456789012:${args.name}`;
    }
    return state;
}

/** Install Pulumi mocks that record every registered resource. Idempotent. */
export function setupMocks(options: { project?: string; stack?: string; config?: Record<string, string> } = {}): void {
    if (options.config) {
        pulumi.runtime.setAllConfig(options.config);
    }
    pulumi.runtime.setMocks(
        {
            newResource: (args) => ({ id: `${args.name}-id`, state: mockState(args) }),
            call: (args) => {
                switch (args.token) {
                    case "aws:index/getAvailabilityZones:getAvailabilityZones":
                        return { names: ["us-west-2a", "us-west-2b", "us-west-2c"], zoneIds: ["usw2-az1", "usw2-az2", "usw2-az3"] };
                    case "aws:index/getRegion:getRegion":
                        return { name: "us-west-2", region: "us-west-2" };
                    case "aws:index/getCallerIdentity:getCallerIdentity":
                        return { accountId: "123456789012", arn: "arn:aws:iam::123456789012:user/test", userId: "test" };
                    case "aws:index/getPartition:getPartition":
                        return { partition: "aws", dnsSuffix: "amazonaws.com" };
                    default:
                        return args.inputs;
                }
            },
        },
        options.project ?? "gpu-serverless",
        options.stack ?? "test",
        false,
    );
    const monitor = getMonitor() as any;
    if (monitor.__recording) {
        return;
    }
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: (err: any, resp: any) => void) =>
        register(req, (err: any, resp: any) => {
            if (!err && resp) {
                const urn: string = resp.getUrn();
                recorded.set(urn, {
                    urn,
                    type: req.getType(),
                    name: req.getName(),
                    inputs: pulumi.runtime.deserializeProperties(req.getObject()),
                    custom: req.getCustom(),
                    parent: req.getParent(),
                    dependencies: req.getDependenciesList(),
                });
            }
            callback(err, resp);
        });
    monitor.__recording = true;
}

/** Forget what was recorded (call in `beforeEach`). */
export function resetRecorded(): void {
    recorded.clear();
}

/** Every resource registered since the last reset, in registration order. */
export function allResources(): RecordedResource[] {
    return [...recorded.values()];
}

/** Resources of one type token, e.g. `kubernetes:helm.sh/v3:Release`. */
export function resourcesOfType(type: string): RecordedResource[] {
    return allResources().filter((r) => r.type === type);
}

/** The one resource of `type` whose name is `name`; throws naming what exists otherwise. */
export function resourceNamed(type: string, name: string): RecordedResource {
    const found = resourcesOfType(type).filter((r) => r.name === name);
    if (found.length !== 1) {
        const names = resourcesOfType(type).map((r) => r.name);
        throw new Error(`expected one ${type} named ${name}, found ${found.length}; names: ${names.join(", ")}`);
    }
    return found[0];
}

/** Kubernetes custom objects (apiextensions CustomResource and typed CRs) recorded, by apiVersion/kind. */
export function kubernetesObjects(): RecordedResource[] {
    return allResources().filter((r) => r.type.startsWith("kubernetes:") && r.inputs.apiVersion && r.inputs.kind);
}

/**
 * True when `from` depends on `on`, directly or transitively through recorded dependencies. Parents are not
 * followed: a child does not wait for its parent's `dependsOn`, so only real dependency edges order creation.
 */
export function dependsOn(from: RecordedResource, on: RecordedResource): boolean {
    const seen = new Set<string>();
    const stack = [from.urn];
    while (stack.length > 0) {
        const urn = stack.pop()!;
        if (seen.has(urn)) continue;
        seen.add(urn);
        const r = recorded.get(urn);
        if (!r) continue;
        for (const dep of r.dependencies) {
            if (dep === on.urn) return true;
            stack.push(dep);
        }
    }
    return false;
}

/** True when a recorded input value was marked secret. */
export function isSecret(value: unknown): boolean {
    return (
        typeof value === "object" &&
        value !== null &&
        (value as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig
    );
}

/** The plain value of a recorded input, secret or not. */
export function reveal<T = unknown>(value: unknown): T {
    return (isSecret(value) ? (value as { value: T }).value : value) as T;
}

/** Wait until every resource registration started so far has reached the (mock) engine. */
export async function settled(): Promise<void> {
    await waitForRPCs();
}

/** Resolve an Output (or plain value) to a Promise of its value, for `await` in tests. */
export function unwrap<T>(value: pulumi.Input<T>): Promise<T> {
    return new Promise((resolve) => pulumi.output(value).apply((v) => resolve(v as T)));
}
