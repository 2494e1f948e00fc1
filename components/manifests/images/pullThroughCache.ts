/**
 * Images from ECR instead of Docker Hub, GHCR, Quay, registry.k8s.io and nvcr.io: pull-through cache rules, the
 * mirror repositories for what ECR cannot cache, and the rewriting of every image reference, as plain data.
 *
 * With the rules in place a node pulls `<account>.dkr.ecr.<region>.amazonaws.com/<prefix>/<repository>:<tag>`; on a
 * miss ECR fetches the image from upstream itself (outside our VPC) and keeps it, so image bytes reach the nodes
 * through the ECR endpoints and the S3 gateway endpoint (ECR serves layers from S3), not through the NAT gateway.
 * Rules, prefixes and the `ecr-pullthroughcache/` secret name: see `domain/images.ts`.
 */
import { regionProblem } from "../../domain/awsCatalog";
import { registryHost, type StackImage, type UpstreamRegistry, type UpstreamRegistryHost, upstreamRegistries } from "../../domain/images";

/** `<account>.dkr.ecr.<region>.amazonaws.com` */
export function ecrRegistry(accountId: string, region: string): string {
    if (!/^\d{12}$/.test(accountId)) throw new Error(`ECR registry: account id "${accountId}" is not 12 digits`);
    const problem = regionProblem(region);
    if (problem) throw new Error(`ECR registry: ${problem}`);
    return `${accountId}.dkr.ecr.${region}.amazonaws.com`;
}

/** Name of the Secrets Manager secret holding an upstream's credentials; ECR only accepts names under `ecr-pullthroughcache/`. */
export function credentialSecretName(registry: UpstreamRegistry): string {
    return `ecr-pullthroughcache/${registry.ecrPrefix}`;
}

export interface PullThroughCacheRuleSpec {
    /** The image host the rule serves (`docker.io`, `ghcr.io`, ...): what image references name, not the API URL. */
    upstreamHost: UpstreamRegistryHost;
    /** `aws.ecr.PullThroughCacheRule` `ecrRepositoryPrefix`. */
    ecrRepositoryPrefix: string;
    /** `upstreamRegistryUrl`. */
    upstreamRegistryUrl: string;
    /** Secret name for `credentialArn`, when the upstream needs credentials. */
    credentialSecretName?: string;
}

/** The upstream registry of a repository we know how to serve from ECR; throws for any other. */
export function upstreamOf(repository: string): UpstreamRegistry {
    const host = registryHost(repository);
    const registry = upstreamRegistries[host as UpstreamRegistryHost];
    if (!registry) throw new Error(`image ${repository}: registry ${host} is neither cached nor mirrored (known: ${Object.keys(upstreamRegistries).join(", ")})`);
    return registry;
}

/** One pull-through cache rule per upstream registry the images come from, nvcr.io excepted (mirrored instead). */
export function pullThroughCacheRules(images: readonly Pick<StackImage, "repository">[]): PullThroughCacheRuleSpec[] {
    const used = new Map<string, UpstreamRegistry>();
    for (const image of images) {
        const registry = upstreamOf(image.repository);
        if (registry.pullThroughCacheUrl !== undefined) used.set(registry.host, registry);
    }
    return [...used.values()]
        .sort((a, b) => a.ecrPrefix.localeCompare(b.ecrPrefix))
        .map((r) => ({
            upstreamHost: r.host,
            ecrRepositoryPrefix: r.ecrPrefix,
            upstreamRegistryUrl: r.pullThroughCacheUrl!,
            ...(r.needsCredentials ? { credentialSecretName: credentialSecretName(r) } : {}),
        }));
}

/** Repository path after the registry host; Docker Hub's official images get their implicit `library/`. */
function repositoryPath(repository: string): string {
    const host = registryHost(repository);
    const path = repository.startsWith(`${host}/`) ? repository.slice(host.length + 1) : repository;
    return host === "docker.io" && !path.includes("/") ? `library/${path}` : path;
}

/** The ECR repository name (after the registry host) that serves `repository`: `<prefix>/<path>`. */
function ecrRepositoryName(repository: string): string {
    return `${upstreamOf(repository).ecrPrefix}/${repositoryPath(repository)}`;
}

/**
 * The ECR repository a node pulls `repository` from: `<ecr>/<prefix>/<path>` (pull-through cache or mirror).
 * Repositories already in `ecr` are returned unchanged. Example:
 * `kserve/huggingfaceserver` → `123456789012.dkr.ecr.us-west-2.amazonaws.com/docker-hub/kserve/huggingfaceserver`.
 */
export function ecrRepository(repository: string, ecr: string): string {
    if (registryHost(repository) === ecr) return repository;
    return `${ecr}/${ecrRepositoryName(repository)}`;
}

/** A full reference (`repo:tag` or `repo@sha256:...`) rewritten to ECR, keeping its tag or digest. */
export function ecrImageReference(reference: string, ecr: string): string {
    const at = reference.indexOf("@");
    const lastSlash = reference.lastIndexOf("/");
    const colon = reference.indexOf(":", lastSlash + 1);
    const split = at >= 0 ? at : colon >= 0 ? colon : reference.length;
    return ecrRepository(reference.slice(0, split), ecr) + reference.slice(split);
}

export interface MirroredImage {
    /** Source, e.g. `nvcr.io/nvidia/tritonserver:23.05-py3`. */
    source: string;
    /** ECR repository name to create (without the registry host), e.g. `nvcr/nvidia/tritonserver`. */
    ecrRepositoryName: string;
    /** The pinned tag, kept in the mirror, e.g. `23.05-py3`. */
    tag: string;
}

/**
 * Images no pull-through cache rule covers (nvcr.io): the ECR repositories to create and what to copy into them
 * (`mirrorDestination`), once per pinned version, from a machine outside the cluster (e.g. `crane copy <source>
 * <destination>`). Needs no account: the repository names are the same in every registry.
 */
export function mirroredImages(images: readonly Pick<StackImage, "repository" | "tag">[]): MirroredImage[] {
    return images
        .filter((i) => upstreamOf(i.repository).pullThroughCacheUrl === undefined)
        .map((i) => ({ source: `${i.repository}:${i.tag}`, ecrRepositoryName: ecrRepositoryName(i.repository), tag: i.tag }));
}

/** Where a mirrored image is copied to in registry `ecr` (`<account>.dkr.ecr.<region>.amazonaws.com`): `<ecr>/<name>:<tag>`. */
export function mirrorDestination(image: MirroredImage, ecr: string): string {
    return `${ecr}/${image.ecrRepositoryName}:${image.tag}`;
}
