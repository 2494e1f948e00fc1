/**
 * The Helm values that point a chart's images at ECR (pull-through cache or mirror), and the IAM the nodes need to
 * pull through a cache rule, as plain data.
 *
 * Per image of `domain/images.ts` whose registry is served from ECR, one of three shapes, as the chart renders it:
 * - a registry key of its own (KEDA's `image.keda.registry` + `image.keda.repository`): the registry becomes
 *   `<ecr>/<prefix>`, the repository stays;
 * - cert-manager's `imageRegistry` (every cert-manager image is `<imageRegistry>/<imageNamespace>/<name>`): `<ecr>/<prefix>`;
 * - otherwise the repository key holds the whole repository: it becomes `ecrRepository(repository)`.
 * Tags stay the charts' own, so a cached image is the same version the chart would pull upstream.
 */
import { ourManifests, registryHost, stackImages, type StackImage } from "../../domain/images";
import { ecrImageReference, ecrRepository, upstreamOf } from "./pullThroughCache";

/** Which upstream registries are served from ECR, and the ECR registry host. */
export interface ImageRewrite {
    /** `<account>.dkr.ecr.<region>.amazonaws.com` */
    ecr: string;
    /** Registry hosts served from ECR, e.g. `docker.io`, `nvcr.io`. */
    hosts: readonly string[];
}

function setAt(target: Record<string, unknown>, dotted: string, value: unknown): void {
    const keys = dotted.split(".");
    let node = target;
    for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[keys[keys.length - 1]] = value;
}

/** Values of `chart` that point its listed images at ECR (empty when none of its registries is served). */
export function chartImageOverrides(chart: string, rewrite: ImageRewrite, images: readonly StackImage[] = stackImages): Record<string, unknown> {
    if (chart === ourManifests) throw new Error(`chart ${chart}: our own manifests take image references (imageReference), not values`);
    const values: Record<string, unknown> = {};
    for (const image of images.filter((i) => i.chart === chart && rewrite.hosts.includes(registryHost(i.repository)))) {
        const prefixed = `${rewrite.ecr}/${upstreamOf(image.repository).ecrPrefix}`;
        if (image.valuesKey === "imageRegistry") setAt(values, image.valuesKey, prefixed);
        else if (image.registryKey !== undefined) setAt(values, image.registryKey, prefixed);
        else setAt(values, image.valuesKey, ecrRepository(image.repository, rewrite.ecr));
    }
    return values;
}

/** A full image reference of our own manifests, rewritten to ECR when its registry is served (else unchanged). */
export function imageReference(reference: string, rewrite: ImageRewrite | undefined): string {
    return rewrite !== undefined && rewrite.hosts.includes(registryHost(reference.replace(/[:@][^/]*$/, ""))) ? ecrImageReference(reference, rewrite.ecr) : reference;
}

/**
 * What a node's role needs, beyond ECR read access, to pull through a cache rule: on the first pull of an image ECR
 * creates the repository and imports the image on the puller's behalf (AWS ECR user guide, "IAM permissions required
 * to sync an upstream registry with an Amazon ECR private registry": `ecr:CreateRepository`,
 * `ecr:BatchImportUpstreamImage`), limited here to the rules' prefixes.
 */
export function pullThroughCachePullPolicy(partition: string, region: string, accountId: string, prefixes: readonly string[]) {
    if (prefixes.length === 0) throw new Error("pull-through cache policy: no rule prefixes");
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Effect: "Allow",
                Action: ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"],
                Resource: prefixes.map((p) => `arn:${partition}:ecr:${region}:${accountId}:repository/${p}/*`),
            },
        ],
    };
}
