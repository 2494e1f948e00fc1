/**
 * Every path the docs send a reader to exists: in README.md and docs/*.md, each relative Markdown link (`[text](path)`,
 * `![alt](path)`, resolved against the page's folder; a `#fragment` must name a heading of the target page, by
 * GitHub's slug rule: lower case, punctuation other than `-` and `_` dropped, spaces to `-`) and each backticked repository path
 * (`components/...`, `activator/...`, `scripts/...`, `docs/...`, `tests/...`, `bench/...`, `simulator/...`,
 * `testing/...`, `.ci/...`, `.github/...`, resolved against the repository root). Placeholders (`<name>`), globs
 * and `~`/`$VAR` paths are not paths and are skipped.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";

const root = path.resolve(__dirname, "../..");

/** README.md and every Markdown page directly under docs/, as repository-relative paths. */
export function docPages(): string[] {
    const docs = fs.readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`);
    return ["README.md", ...docs.sort()];
}

/** The page's text with fenced code blocks blanked (links and spans inside them are examples, not references). */
function prose(text: string): string {
    return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
}

/** GitHub's anchor for a heading text (github-slugger's rule, without the de-duplication suffixes). */
export function slug(heading: string): string {
    return heading
        .trim()
        .toLowerCase()
        .replace(/`/g, "")
        .replace(/[^\p{L}\p{N}\s_-]/gu, "")
        .replace(/\s/g, "-");
}

function anchors(file: string): Set<string> {
    const text = prose(fs.readFileSync(file, "utf8"));
    const found = new Set<string>();
    for (const m of text.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
        const base = slug(m[1]);
        let s = base;
        for (let i = 1; found.has(s); i++) s = `${base}-${i}`;
        found.add(s);
    }
    return found;
}

/** Relative link targets of a page: `[text](target)` and `![alt](target)`, no URLs, no mailto. */
export function relativeLinks(text: string): string[] {
    const out: string[] = [];
    for (const m of prose(text).matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = m[1];
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
        out.push(target);
    }
    return out;
}

const repoPrefixes = ["components/", "activator/", "scripts/", "docs/", "tests/", "bench/", "simulator/", "testing/", ".ci/", ".github/"];

/** Backticked spans that name a repository path (a known top-level folder first), placeholders and globs left out. */
export function backtickedPaths(text: string): string[] {
    const out: string[] = [];
    for (const m of prose(text).matchAll(/`([^`\n]+)`/g)) {
        const span = m[1].trim();
        if (!repoPrefixes.some((p) => span.startsWith(p))) continue;
        if (/[<>*{}$~\s]/.test(span) || span.includes("...")) continue;
        out.push(span.replace(/[:#].*$/, ""));
    }
    return out;
}

describe("docs: the paths they name exist", () => {
    for (const page of docPages()) {
        const text = fs.readFileSync(path.join(root, page), "utf8");

        it(`${page}: every relative link resolves (file and heading)`, () => {
            const broken: string[] = [];
            for (const target of relativeLinks(text)) {
                const [file, fragment] = target.split("#", 2);
                const resolved = file === "" ? path.join(root, page) : path.resolve(path.join(root, path.dirname(page)), decodeURI(file));
                if (!fs.existsSync(resolved)) {
                    broken.push(`${target} (no ${path.relative(root, resolved)})`);
                    continue;
                }
                if (fragment !== undefined && resolved.endsWith(".md") && !anchors(resolved).has(fragment)) {
                    broken.push(`${target} (no heading #${fragment} in ${path.relative(root, resolved)})`);
                }
            }
            assert.deepEqual(broken, [], `${page}: broken links`);
        });

        it(`${page}: every backticked repository path exists`, () => {
            const missing = [...new Set(backtickedPaths(text))].filter((p) => !fs.existsSync(path.join(root, p)));
            assert.deepEqual(missing, [], `${page}: paths that do not exist`);
        });
    }

    it("finds links and paths in a page (the checks above are not vacuous)", () => {
        const sample = "See [the design](docs/design.md#why) and `components/domain/prices.ts`, not `docs/<page>.md`.\n```sh\n`tests/x`\n```\n";
        assert.deepEqual(relativeLinks(sample), ["docs/design.md#why"]);
        assert.deepEqual(backtickedPaths(sample), ["components/domain/prices.ts"]);
        assert.equal(slug("Long holds behind the NLB"), "long-holds-behind-the-nlb");
        assert.equal(slug("See what a stack creates: `npm run plan`"), "see-what-a-stack-creates-npm-run-plan");
    });
});
