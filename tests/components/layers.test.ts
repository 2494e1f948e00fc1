/**
 * The layers of `components/`, read from the sources' `import … from`, `export … from` and `require(…)` statements:
 *
 *   resources/  ComponentResources: may import manifests/, config/, domain/
 *   manifests/  pure builders:      may import config/, domain/
 *   config/     stack schemas:      may import domain/
 *   domain/     facts, arithmetic:  imports nothing else of components/
 *
 * Only the entry points (components/index.ts, index.ts, scripts/) import resources/; the top of components/ holds only
 * index.ts; components/ reaches the activator only through its public surface, activator/src/index.ts; and no
 * module of components/ imports itself back through a chain of others.
 */
import { strict as assert } from "node:assert";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "../..");
const COMPONENTS = path.join(ROOT, "components");
const ACTIVATOR_SURFACE = path.join(ROOT, "activator/src/index.ts");

/** Layer of components/ → layers it may import (itself always allowed). */
const ALLOWED: Record<string, readonly string[]> = {
    resources: ["manifests", "config", "domain"],
    manifests: ["config", "domain"],
    config: ["domain"],
    domain: [],
};

function tsFiles(dir: string): string[] {
    return readdirSync(dir).flatMap((name) => {
        const p = path.join(dir, name);
        if (statSync(p).isDirectory()) return tsFiles(p);
        return name.endsWith(".ts") ? [p] : [];
    });
}

/** Every module specifier a file names, in import/export-from statements (multi-line too) and require() calls. */
export function specifiersOf(text: string): string[] {
    const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
    const fromStatements = [...code.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gm)].map((m) => m[1]!);
    const bare = [...code.matchAll(/^\s*import\s*["']([^"']+)["']/gm)].map((m) => m[1]!);
    const calls = [...code.matchAll(/\b(?:require|import)\s*\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!);
    return [...fromStatements, ...bare, ...calls];
}

/** The file a relative specifier resolves to (x.ts or x/index.ts), or undefined for packages. */
function resolve(from: string, spec: string): string | undefined {
    if (!spec.startsWith(".")) return undefined;
    const base = path.resolve(path.dirname(from), spec);
    for (const candidate of [`${base}.ts`, path.join(base, "index.ts"), base]) {
        if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
    }
    return `${base}.ts`;
}

const rel = (file: string) => path.relative(ROOT, file).split(path.sep).join("/");

/** `resources`, `manifests`, … for a file under components/, `index` for components/index.ts, undefined elsewhere. */
function layerOf(file: string): string | undefined {
    const r = path.relative(COMPONENTS, file);
    if (r.startsWith("..")) return undefined;
    const parts = r.split(path.sep);
    return parts.length === 1 ? parts[0]!.replace(/\.ts$/, "") : parts[0];
}

export interface Edge {
    from: string;
    to: string;
    spec: string;
}

/** Import edges of the given files (relative specifiers only, resolved to files). */
export function importGraph(files: readonly string[], read: (f: string) => string = (f) => readFileSync(f, "utf8")): Edge[] {
    return files.flatMap((from) =>
        specifiersOf(read(from)).flatMap((spec) => {
            const to = resolve(from, spec);
            return to === undefined ? [] : [{ from, to, spec }];
        }),
    );
}

/** One line per edge that breaks a rule above. */
export function layerViolations(edges: readonly Edge[]): string[] {
    const problems: string[] = [];
    for (const { from, to, spec } of edges) {
        const fromLayer = layerOf(from);
        const toLayer = layerOf(to);
        const where = `${rel(from)} imports ${spec}`;
        if (toLayer === "resources" && fromLayer !== "resources" && fromLayer !== "index" && fromLayer !== undefined) {
            problems.push(`${where}: only entry points (components/index.ts, index.ts, scripts/) import resources/`);
        }
        if (fromLayer !== undefined && fromLayer in ALLOWED && toLayer !== undefined && toLayer !== fromLayer && !ALLOWED[fromLayer]!.includes(toLayer)) {
            problems.push(`${where}: ${fromLayer}/ may import ${ALLOWED[fromLayer]!.join(", ") || "nothing else of components/"}, not ${toLayer}/`);
        }
        if (fromLayer !== undefined && to.startsWith(path.join(ROOT, "activator")) && to !== ACTIVATOR_SURFACE) {
            problems.push(`${where}: components/ reaches the activator through activator/src/index.ts only`);
        }
    }
    return problems;
}

/** Each import cycle among the files, as `a → b → a`, found by depth-first search over the graph. */
export function cycles(edges: readonly Edge[]): string[] {
    const next = new Map<string, string[]>();
    for (const { from, to } of edges) next.set(from, [...(next.get(from) ?? []), to]);
    const found: string[] = [];
    const done = new Set<string>();
    const stack: string[] = [];
    const visit = (file: string): void => {
        const at = stack.indexOf(file);
        if (at >= 0) {
            found.push([...stack.slice(at), file].map(rel).join(" → "));
            return;
        }
        if (done.has(file)) return;
        stack.push(file);
        for (const to of next.get(file) ?? []) visit(to);
        stack.pop();
        done.add(file);
    };
    for (const file of next.keys()) visit(file);
    return found;
}

describe("components: layers", () => {
    const componentFiles = tsFiles(COMPONENTS);
    const entryFiles = [path.join(ROOT, "index.ts"), ...tsFiles(path.join(ROOT, "scripts"))];
    const edges = importGraph([...componentFiles, ...entryFiles]);

    it("reads a graph that covers every layer", () => {
        for (const layer of Object.keys(ALLOWED)) {
            assert.ok(edges.some((e) => layerOf(e.from) === layer), `no import read from components/${layer}/`);
        }
        assert.ok(edges.some((e) => rel(e.from) === "index.ts" && layerOf(e.to) === "resources"));
    });

    it("keeps only index.ts at the top of components/", () => {
        const top = readdirSync(COMPONENTS).filter((name) => !statSync(path.join(COMPONENTS, name)).isDirectory());
        assert.deepEqual(top, ["index.ts"]);
        assert.deepEqual(readdirSync(COMPONENTS).filter((n) => n !== "index.ts").sort(), [...Object.keys(ALLOWED)].sort());
    });

    it("imports only downwards (resources → manifests → config → domain), the activator through its index", () => {
        assert.deepEqual(layerViolations(edges), []);
    });

    it("has no import cycle within components/", () => {
        const within = edges.filter((e) => layerOf(e.from) !== undefined && layerOf(e.to) !== undefined);
        assert.deepEqual(cycles(within), []);
    });

    it("catches an upward import, a require() of resources/, a deep activator path and a cycle (planted)", () => {
        const at = (p: string) => path.join(ROOT, p);
        const planted: Edge[] = [
            { from: at("components/domain/naming.ts"), to: at("components/config/stack.ts"), spec: "../config/stack" },
            { from: at("components/manifests/model/runtime.ts"), to: at("components/resources/platform.ts"), spec: "../../resources/platform" },
            { from: at("components/config/models.ts"), to: at("activator/src/config/schema.ts"), spec: "../../activator/src/config/schema" },
        ];
        assert.equal(layerViolations(planted).length, 4, layerViolations(planted).join("\n"));
        const required = importGraph([at("components/config/alerts.ts")], () => `const x = require("../resources/platform");`);
        assert.match(layerViolations(required).join("\n"), /components\/config\/alerts\.ts imports \.\.\/resources\/platform: only entry points/);
        const loop: Edge[] = [
            { from: at("components/manifests/activator/config.ts"), to: at("components/manifests/activator/services.ts"), spec: "./services" },
            { from: at("components/manifests/activator/services.ts"), to: at("components/manifests/activator/config.ts"), spec: "./config" },
        ];
        assert.deepEqual(cycles(loop), ["components/manifests/activator/config.ts → components/manifests/activator/services.ts → components/manifests/activator/config.ts"]);
    });
});
