/**
 * The test suite's Pulumi mocks helper, over the repository's one mock runtime (scripts/plan/runtime.ts, which
 * `npm run plan` uses too): the same placeholder outputs (cluster `gpu-serverless-<stack>`'s OIDC issuer, ECR URLs,
 * image digests, ARNs of account 123456789012), and the same strictness: a provider function it does not model
 * throws, and an input string containing `undefined` or `[object Object]` makes {@link allResources} throw.
 *
 * `setupMocks()` installs it; every resource the program registers (custom or component) is kept with its type,
 * name, inputs, parent and direct dependencies, so tests can assert on what a `pulumi preview` would show and on
 * ordering (`dependsOn`) without a Pulumi engine. Call it before the code under test creates resources, then
 * `resetRecorded()` between cases.
 */
import * as pulumi from "@pulumi/pulumi";
import { installMockRuntime, type PlannedResource, recordedByUrn, recordedResources } from "../../scripts/plan/runtime";

// The runtime's own: forget what was recorded (call in `beforeEach`); every resource registered since (throws the
// runtime's problems); wait until every registration started has reached the mock engine; a resource's placeholder id.
export { resetRecorded, recordedResources as allResources, settled, placeholderId as mockIdOf, placeholderArn as mockArnOf, registrationRequestedAt } from "../../scripts/plan/runtime";

export type RecordedResource = PlannedResource;

/** Install the mock runtime (project `gpu-serverless`, stack `test` unless given) and record every resource. */
export function setupMocks(options: { project?: string; stack?: string; config?: Record<string, string> } = {}): void {
    installMockRuntime({ project: options.project ?? "gpu-serverless", stack: options.stack ?? "test", config: options.config });
}



/** Resources of one type token, e.g. `kubernetes:helm.sh/v3:Release`. */
export function resourcesOfType(type: string): RecordedResource[] {
    return recordedResources().filter((r) => r.type === type);
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
    return recordedResources().filter((r) => r.type.startsWith("kubernetes:") && r.inputs.apiVersion && r.inputs.kind);
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
        const r = recordedByUrn(urn);
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


/** Resolve an Output (or plain value) to a Promise of its value, for `await` in tests. */
export function unwrap<T>(value: pulumi.Input<T>): Promise<T> {
    return new Promise((resolve) => pulumi.output(value).apply((v) => resolve(v as T)));
}
