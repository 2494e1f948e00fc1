/**
 * ImageCache: the images the stack pulls, served from ECR in the stack's region (`gpu-serverless:imageCache`).
 * - `pullThroughCache`: one `aws.ecr.PullThroughCacheRule` per upstream the listed images come from (nvcr.io aside),
 *   Docker Hub's and GHCR's credentials in Secrets Manager secrets `ecr-pullthroughcache/<prefix>` (the only names
 *   ECR accepts as `credentialArn`), and an inline policy on each node role so a node's first pull may create and
 *   import the cached repository;
 * - `nvcrMirror`: an ECR repository per nvcr.io image (ECR cannot cache nvcr.io); the images are copied by hand
 *   (`nvcrMirrorCopies`), since Pulumi has no registry client here.
 * `rewrite` says which registries are served and where, for the charts' values and our own manifests
 * (manifests/images/chartImages.ts). Pure data comes from manifests/images/; this file only makes resources.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { ImageCacheConfig } from "../config/fastPath";
import { regionProblem } from "../domain/awsCatalog";
import { stackImages } from "../domain/images";
import { mergeValues } from "../domain/mergeValues";
import { childName } from "../domain/naming";
import { chartImageOverrides, type ImageRewrite, pullThroughCachePullPolicy } from "../manifests/images/chartImages";
import { ecrRegistry, mirrorDestination, mirroredImages, pullThroughCacheRules } from "../manifests/images/pullThroughCache";

export interface ImageCacheArgs {
    config: ImageCacheConfig;
    region: string;
    /**
     * Names of every node IAM role whose nodes pull images (the managed node groups' role and Karpenter's node role):
     * pull-through pulls need CreateRepository and BatchImportUpstreamImage. Each gets the same inline policy, named
     * `<name>-node-pull-through` for the first role and `<name>-node-pull-through-<index>` for the others. Required.
     */
    nodeRoleNames: pulumi.Input<string>[];
    /** Credentials (Pulumi secrets, JSON {username, accessToken}) by upstream host; required for docker.io and ghcr.io with pullThroughCache. */
    credentials: Partial<Record<"docker.io" | "ghcr.io", pulumi.Input<string>>>;
}

export class ImageCache extends pulumi.ComponentResource {
    /** Which registries are served from ECR and its host; undefined when nothing is. */
    public readonly rewrite: pulumi.Output<ImageRewrite | undefined>;
    /** `source → destination` copies the nvcr.io mirror needs (empty without it). */
    public readonly nvcrMirrorCopies: pulumi.Output<string[]>;

    constructor(name: string, args: ImageCacheArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gpu-serverless:images:ImageCache", name, {}, opts);
        const awsOpts = { parent: this };
        const { pullThroughCache, nvcrMirror } = args.config;
        const regionIssue = regionProblem(args.region);
        if (regionIssue) throw new Error(`ImageCache "${name}" args.region: ${regionIssue}`);
        const accountId = aws.getCallerIdentityOutput({}, awsOpts).accountId;
        const ecr = accountId.apply((id) => ecrRegistry(id, args.region));

        const rules = pullThroughCache ? pullThroughCacheRules(stackImages) : [];
        for (const rule of rules) {
            let credentialArn: pulumi.Output<string> | undefined;
            if (rule.credentialSecretName !== undefined) {
                const value = args.credentials[rule.upstreamHost as "docker.io" | "ghcr.io"];
                if (value === undefined) throw new Error(`ImageCache "${name}" args.credentials["${rule.upstreamHost}"]: required for the ${rule.ecrRepositoryPrefix} pull-through cache rule`);
                const secret = new aws.secretsmanager.Secret(
                    childName(name, `${rule.ecrRepositoryPrefix}-credentials`),
                    { name: rule.credentialSecretName, description: `ECR pull-through cache credentials for ${rule.upstreamRegistryUrl}`, recoveryWindowInDays: 0 },
                    awsOpts,
                );
                new aws.secretsmanager.SecretVersion(childName(name, `${rule.ecrRepositoryPrefix}-credentials`), { secretId: secret.id, secretString: pulumi.secret(value) }, awsOpts);
                credentialArn = secret.arn;
            }
            new aws.ecr.PullThroughCacheRule(
                childName(name, rule.ecrRepositoryPrefix),
                { ecrRepositoryPrefix: rule.ecrRepositoryPrefix, upstreamRegistryUrl: rule.upstreamRegistryUrl, ...(credentialArn ? { credentialArn } : {}) },
                awsOpts,
            );
        }
        if (rules.length > 0) {
            const partition = aws.getPartitionOutput({}, awsOpts).partition;
            const policy = pulumi
                .all([partition, accountId])
                .apply(([p, id]) => JSON.stringify(pullThroughCachePullPolicy(p, args.region, id, rules.map((r) => r.ecrRepositoryPrefix))));
            args.nodeRoleNames.forEach((role, i) => {
                new aws.iam.RolePolicy(childName(name, i === 0 ? "node-pull-through" : `node-pull-through-${i}`), { role, policy }, awsOpts);
            });
        }

        const mirror = nvcrMirror ? mirroredImages(stackImages) : [];
        for (const image of mirror) {
            new aws.ecr.Repository(
                childName(name, image.ecrRepositoryName.replace(/\//g, "-")),
                { name: image.ecrRepositoryName, imageTagMutability: "IMMUTABLE", imageScanningConfiguration: { scanOnPush: true }, forceDelete: true },
                awsOpts,
            );
        }

        const hosts = [
            // Only the registries a rule was made for: an image of another registry stays upstream.
            ...rules.map((rule) => rule.upstreamHost),
            ...(nvcrMirror ? ["nvcr.io"] : []),
        ];
        this.rewrite = ecr.apply((e) => (hosts.length > 0 ? { ecr: e, hosts } : undefined));
        this.nvcrMirrorCopies = nvcrMirror ? ecr.apply((e) => mirror.map((i) => `crane copy ${i.source} ${mirrorDestination(i, e)}`)) : pulumi.output([]);
        this.registerOutputs({ rewrite: this.rewrite, nvcrMirrorCopies: this.nvcrMirrorCopies });
    }
}

/** Where a component's image references come from: ImageCache.rewrite, or undefined for the upstream registries. */
export type ImageRewriteInput = pulumi.Output<ImageRewrite | undefined> | undefined;

/** `values` of `chart`, with its images pointed at ECR when `rewrite` serves their registries (unchanged otherwise). */
export function releaseValues(chart: string, values: pulumi.Input<Record<string, unknown>>, rewrite: ImageRewriteInput): pulumi.Input<Record<string, unknown>> {
    if (rewrite === undefined) return values;
    return pulumi.all([pulumi.output(values), rewrite]).apply(([v, r]) => (r ? mergeValues(v as Record<string, unknown>, chartImageOverrides(chart, r)) : v));
}
