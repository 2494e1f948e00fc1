/**
 * What the activator image is built from, and its tag.
 *
 * The build context is the repository root (the workspace lock file lives there); `.dockerignore` allows only the
 * paths the build needs, and that same list is what the tag digests. The ECR repository has immutable tags, so a tag
 * must name one content: a changed source gets a new tag (and a new rollout), an unchanged one keeps its tag and
 * Pulumi sees no diff.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** Repository root: the image's build context. */
export const imageContextDir = path.resolve(__dirname, "..", "..", "..");

/** The activator's Dockerfile, built with the repository root as context. */
export const imageDockerfile = path.join(imageContextDir, "activator", "Dockerfile");

/** The `!path` lines of the context's `.dockerignore` (which ignores everything else). */
export function imageContextPaths(root: string = imageContextDir): string[] {
    return fs
        .readFileSync(path.join(root, ".dockerignore"), "utf8")
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line.startsWith("!"))
        .map((line) => line.slice(1));
}

function files(dir: string, root: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) return files(full, root);
        return entry.isFile() ? [path.relative(root, full).split(path.sep).join("/")] : [];
    });
}

/** `src-<16 hex>`: SHA-256 over the relative paths and contents of the files under `paths` (relative to `root`). */
export function contextTag(root: string, paths: readonly string[]): string {
    const hash = createHash("sha256");
    const all = paths.flatMap((p) => {
        const full = path.join(root, p);
        return fs.statSync(full).isDirectory() ? files(full, root) : [p];
    });
    for (const file of [...new Set(all)].sort()) {
        hash.update(file).update("\0").update(fs.readFileSync(path.join(root, file))).update("\0");
    }
    return `src-${hash.digest("hex").slice(0, 16)}`;
}

/**
 * The activator image's tag: `contextTag` over everything that decides the image's content: the context paths
 * `.dockerignore` lets through, the `.dockerignore` itself and the Dockerfile (sent beside the context, not in it;
 * a changed instruction or base image digest is a new image).
 */
export function activatorImageTag(root: string = imageContextDir): string {
    const dockerfile = path.relative(imageContextDir, imageDockerfile).split(path.sep).join("/");
    return contextTag(root, [...imageContextPaths(root), ".dockerignore", dockerfile]);
}
