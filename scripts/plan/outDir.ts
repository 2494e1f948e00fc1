/**
 * The folder `npm run plan` writes to, owned and marked: plan never deletes what it did not write.
 *
 * A folder is plan's own when it holds the marker file `.gpu-serverless-plan`, whose lines list the files the last
 * plan wrote there (paths relative to the folder, `/`-separated). A rewrite deletes exactly those files (and the
 * folders they leave empty), then writes the new ones and a new marker; anything else in the folder is kept.
 * A folder that exists, is not empty and has no marker is refused (`PlanOutError`), before anything is written.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** Name of the marker file plan writes into its output folder. */
export const PLAN_MARKER = ".gpu-serverless-plan";

const MARKER_HEADER = "# written by npm run plan (gpu-serverless); it deletes only the files listed here when it rewrites this folder";

/** A folder plan must not write to; the message is one line that names it and says what to do. */
export class PlanOutError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "PlanOutError";
    }
}

/** The files a previous plan listed in `dir`'s marker, or undefined when `dir` has no marker. */
function markedFiles(dir: string): string[] | undefined {
    const marker = path.join(dir, PLAN_MARKER);
    if (!fs.existsSync(marker)) return undefined;
    return fs
        .readFileSync(marker, "utf8")
        .split("\n")
        .filter((line) => line !== "" && !line.startsWith("#"));
}

/**
 * Throws `PlanOutError` when plan may not write to `dir`: a file rather than a folder, or a non-empty folder without
 * plan's marker. A missing or empty folder, or one of plan's own, passes. Call it before any work, so a refusal
 * costs nothing.
 */
export function checkOutDir(dir: string): void {
    if (!fs.existsSync(dir)) return;
    if (!fs.statSync(dir).isDirectory()) throw new PlanOutError(`--out ${dir}: is a file, not a folder; choose a new or empty folder`);
    if (markedFiles(dir) !== undefined) return;
    if (fs.readdirSync(dir).length > 0) {
        throw new PlanOutError(
            `--out ${dir}: refusing to write into a folder that is not empty and was not written by npm run plan (it has no ${PLAN_MARKER} file); choose a new or empty folder`,
        );
    }
}

/**
 * Writes `files` (relative path → content) into `dir`: checks it (`checkOutDir`), deletes the files the previous
 * plan listed in the marker, writes the new files and the marker. Never deletes a file it did not write.
 */
export function writePlanFiles(dir: string, files: ReadonlyMap<string, string>): void {
    checkOutDir(dir);
    const root = path.resolve(dir);
    const inside = (rel: string) => {
        const abs = path.resolve(root, rel);
        if (!abs.startsWith(root + path.sep)) throw new PlanOutError(`${path.join(dir, PLAN_MARKER)}: lists ${JSON.stringify(rel)}, outside the folder; delete the marker's line`);
        return abs;
    };
    for (const rel of markedFiles(root) ?? []) {
        const abs = inside(rel);
        fs.rmSync(abs, { force: true });
        // Folders the listed file leaves empty, up to the output folder itself.
        for (let parent = path.dirname(abs); parent !== root && fs.existsSync(parent) && fs.readdirSync(parent).length === 0; parent = path.dirname(parent)) {
            fs.rmdirSync(parent);
        }
    }
    fs.mkdirSync(root, { recursive: true });
    for (const [rel, content] of files) {
        const abs = inside(rel);
        fs.mkdirSync(path.dirname(abs), { recursive: true });
        fs.writeFileSync(abs, content);
    }
    fs.writeFileSync(path.join(root, PLAN_MARKER), [MARKER_HEADER, ...[...files.keys()].sort()].join("\n") + "\n");
}
