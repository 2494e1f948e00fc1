/**
 * Stack keys of the cold-start fast path (issue 17): images served from ECR, the VPC endpoints that keep image and
 * same-region S3 bytes off the NAT gateway, warm GPU nodes per pool and pre-warm schedules per model.
 *
 * Everything here is opt-in (defaults keep a stack as it was); `Pulumi.dev.yaml` and `Pulumi.prod.yaml` turn the
 * endpoints on (README "Cold start" says why). Messages say what is wrong and what is allowed; the loader prefixes the
 * key path. Cron and time-zone rules are KEDA v2.20.2's (`domain/warmSchedule.ts`).
 */
import { z } from "zod";
import { PULUMI_KEY } from "../domain/checks";
import { type WarmSchedule, warmScheduleIssues } from "../domain/warmSchedule";

const quote = (v: unknown): string => JSON.stringify(v);

const secretKeyName = (example: string) => z.string().regex(PULUMI_KEY, { error: (iss) => `${quote(iss.input)} is not a config key name such as ${example}` });

/** Issues for a schedule, each at the field it names (`start`, `end`, `timezone`, `desiredReplicas`). */
function scheduleCheck(ctx: z.core.ParsePayload<unknown>, schedule: WarmSchedule, path: PropertyKey[] = []) {
    for (const issue of warmScheduleIssues(schedule)) {
        ctx.issues.push({ code: "custom", input: schedule, path: [...path, issue.field], message: issue.message });
    }
}

const cronFields = {
    /** IANA time zone the cron expressions are read in, e.g. `Europe/Berlin`. */
    timezone: z.string({ error: "required: an IANA time zone such as Europe/Berlin" }),
    /** 5-field cron expression at which the window opens, e.g. `0 8 * * 1-5`. */
    start: z.string({ error: "required: a 5-field cron expression such as 0 8 * * 1-5" }),
    /** 5-field cron expression at which it closes, e.g. `0 18 * * 1-5`. */
    end: z.string({ error: "required: a 5-field cron expression such as 0 18 * * 1-5" }),
};

/**
 * `models[].prewarm[]`: a window in which KEDA keeps `desiredReplicas` replicas up, as a `cron` trigger beside the
 * activator's `external-push` one (manifests/warm/warmCapacity.ts `withPrewarmTriggers`).
 */
export const prewarmSchema = z
    .strictObject({
        ...cronFields,
        /** Replicas kept inside the window (at most the model's maxReplicas). Default 1. */
        desiredReplicas: z.int({ error: (iss) => `${quote(iss.input)} is not a whole number of replicas` }).default(1),
    })
    .check((ctx) => scheduleCheck(ctx, ctx.value));

/** `gpuNodeGroups[].warm`: whole GPU nodes kept up for the pool, always or inside a schedule. */
export const warmNodesSchema = z
    .strictObject({
        /** Spare GPU nodes kept up (at most the group's maxSize). Required. */
        nodes: z.int({ error: "required: how many spare GPU nodes to keep up, at least 1" }).min(1, "must be at least 1"),
        /** Keep them only inside this window (`{timezone, start, end}`). Default: always. */
        schedule: z.strictObject(cronFields).optional(),
    })
    .check((ctx) => {
        const { schedule, nodes } = ctx.value;
        if (schedule !== undefined) scheduleCheck(ctx, { ...schedule, desiredReplicas: Math.max(1, nodes) }, ["schedule"]);
    });
export type WarmNodesConfig = z.output<typeof warmNodesSchema>;

/**
 * `imageCache`: serve the images the stack pulls from ECR in the stack's region instead of Docker Hub, GHCR, Quay,
 * registry.k8s.io (pull-through cache rules) and nvcr.io (a mirror: ECR has no pull-through cache for it).
 * ECR refuses Docker Hub and GHCR rules without credentials (AWS ECR user guide, "Creating a pull through cache rule"):
 * each is a secret config key holding `{"username": ..., "accessToken": ...}`, stored by the stack in a Secrets
 * Manager secret named `ecr-pullthroughcache/<prefix>`.
 */
export const imageCacheSchema = z
    .strictObject(
        {
            /** Pull-through cache rules for every upstream but nvcr.io, and the charts' image values pointed at them. Default false. */
            pullThroughCache: z.boolean({ error: (iss) => `${quote(iss.input)} is not true or false` }).default(false),
            /** Secret config key with Docker Hub credentials `{"username", "accessToken"}`; required with pullThroughCache. */
            dockerHubCredentialsSecret: secretKeyName("dockerHubPullToken").optional(),
            /** Secret config key with GitHub credentials `{"username", "accessToken"}` (a token with read:packages); required with pullThroughCache. */
            githubCredentialsSecret: secretKeyName("githubPullToken").optional(),
            /**
             * ECR repositories for the nvcr.io images and their references pointed there. The stack cannot copy the
             * images (no registry client in Pulumi): copy them first (`crane copy`, stack output `nvcrMirrorCopies`),
             * or GPU nodes find no device plugin. Default false.
             */
            nvcrMirror: z.boolean({ error: (iss) => `${quote(iss.input)} is not true or false` }).default(false),
        },
        { error: (iss) => (iss.code === "unrecognized_keys" ? "unknown key; known keys: pullThroughCache, dockerHubCredentialsSecret, githubCredentialsSecret, nvcrMirror" : undefined) },
    )
    .check((ctx) => {
        const v = ctx.value;
        const issue = (key: string, message: string) => ctx.issues.push({ code: "custom", input: v, path: [key], message });
        for (const [key, registry] of [
            ["dockerHubCredentialsSecret", "Docker Hub"],
            ["githubCredentialsSecret", "GitHub Container Registry"],
        ] as const) {
            if (v.pullThroughCache && v[key] === undefined) {
                issue(key, `required with pullThroughCache: ECR caches ${registry} only with credentials; name a secret config key holding {"username": ..., "accessToken": ...}`);
            }
            if (!v.pullThroughCache && v[key] !== undefined) issue(key, "only used with pullThroughCache: true; remove it or turn pullThroughCache on");
        }
    })
    .prefault({});
export type ImageCacheConfig = z.output<typeof imageCacheSchema>;

/**
 * `vpcEndpoints`: an S3 gateway endpoint on the private route tables and `ecr.api`/`ecr.dkr` interface endpoints in
 * the private subnets (manifests/network/vpcEndpoints.ts). Default false.
 */
export const vpcEndpointsSchema = z.boolean({ error: (iss) => `${quote(iss.input)} is not true or false` }).default(false);

/** Why `value` (a secret: never quoted) is not a pull-through cache credential, or undefined. */
export function registryCredentialProblem(value: string): string | undefined {
    try {
        const parsed = JSON.parse(value) as Record<string, unknown>;
        if (typeof parsed.username === "string" && parsed.username !== "" && typeof parsed.accessToken === "string" && parsed.accessToken !== "") return undefined;
    } catch {
        // reported below
    }
    return `must be JSON {"username": "...", "accessToken": "..."} (the keys ECR reads from its Secrets Manager secret)`;
}
