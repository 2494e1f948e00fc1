/**
 * `npm run upstream:generate [-- --upstream DIR] [--check]`: regenerate `tests/upstream-facts/` (the upstream CRD
 * schemas, chart values and runtime tables the unit tests read; see scripts/upstream/facts.ts) from the upstream
 * reference files, by default `../shared/upstream` beside the repository. Run it after a pin moves there.
 *
 * Writes every generated file and removes a `.json` file in `tests/upstream-facts/{crds,charts,manifests}` only when
 * it is one of ours (it carries our `generatedBy` line) and is no longer generated; never touches anything else.
 * `--check` writes nothing and exits 1 listing the files that differ. Mistakes print one line and exit 2.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { generateFacts, generatedBy } from "./facts";

export const repoRoot = path.resolve(__dirname, "../..");
export const factsDir = path.join(repoRoot, "tests", "upstream-facts");
export const defaultUpstreamDir = path.resolve(repoRoot, "../shared/upstream");

/** Files under `factsDir` (relative paths) that differ from `generated`: changed, missing, or ours but no longer generated. */
export function staleFacts(generated: Map<string, string>, dir = factsDir): string[] {
    const stale: string[] = [];
    for (const [rel, content] of generated) {
        const file = path.join(dir, rel);
        if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== content) stale.push(rel);
    }
    for (const rel of ourFiles(dir)) if (!generated.has(rel)) stale.push(rel);
    return stale.sort();
}

/** Our generated files on disk: `.json` files in the three subfolders that carry the `generatedBy` marker. */
function ourFiles(dir: string): string[] {
    const found: string[] = [];
    for (const sub of ["crds", "charts", "manifests"]) {
        const subDir = path.join(dir, sub);
        if (!fs.existsSync(subDir)) continue;
        for (const f of fs.readdirSync(subDir)) {
            if (f.endsWith(".json") && fs.readFileSync(path.join(subDir, f), "utf8").includes(JSON.stringify(generatedBy))) found.push(`${sub}/${f}`);
        }
    }
    return found;
}

function main(argv: string[]): number {
    let upstream = defaultUpstreamDir;
    let check = false;
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--upstream" && argv[i + 1]) upstream = path.resolve(argv[++i]);
        else if (argv[i] === "--check") check = true;
        else if (argv[i] === "--help" || argv[i] === "-h") {
            console.log("usage: npm run upstream:generate [-- --upstream DIR] [--check]   (DIR defaults to ../shared/upstream)");
            return 0;
        } else throw new Error(`unknown argument ${argv[i]}; usage: npm run upstream:generate [-- --upstream DIR] [--check]`);
    }
    if (!fs.existsSync(path.join(upstream, "SOURCES.md"))) throw new Error(`${upstream}/SOURCES.md not found: pass --upstream DIR (the folder holding SOURCES.md, crds/, charts/, manifests/)`);
    const generated = generateFacts(upstream);
    const stale = staleFacts(generated);
    if (check) {
        if (stale.length > 0) console.log(`out of date in tests/upstream-facts (run npm run upstream:generate): ${stale.join(", ")}`);
        return stale.length > 0 ? 1 : 0;
    }
    for (const rel of stale) {
        const file = path.join(factsDir, rel);
        const content = generated.get(rel);
        if (content === undefined) {
            fs.rmSync(file);
            console.log(`removed ${rel}`);
        } else {
            fs.mkdirSync(path.dirname(file), { recursive: true });
            fs.writeFileSync(file, content);
            console.log(`wrote ${rel}`);
        }
    }
    const bytes = [...generated.values()].reduce((n, c) => n + Buffer.byteLength(c), 0);
    console.log(`tests/upstream-facts: ${generated.size} files, ${bytes} bytes (${stale.length} changed)`);
    return 0;
}

if (require.main === module) {
    try {
        process.exitCode = main(process.argv.slice(2));
    } catch (e) {
        console.error(`upstream:generate: ${(e as Error).message}`);
        process.exitCode = 2;
    }
}
