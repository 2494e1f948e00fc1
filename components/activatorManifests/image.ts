/**
 * The activator image tag: a digest of the build context's files. The ECR repository has immutable tags, so a tag
 * must name one content: a changed source gets a new tag (and a new rollout), an unchanged one keeps its tag and
 * Pulumi sees no diff.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** Never part of the image context (see activator/.dockerignore): build output, dependencies, VCS data. */
const excluded = new Set(["node_modules", "dist", ".git"]);

function files(dir: string, root: string): string[] {
    return fs
        .readdirSync(dir, { withFileTypes: true })
        .filter((entry) => !excluded.has(entry.name))
        .flatMap((entry) => {
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
