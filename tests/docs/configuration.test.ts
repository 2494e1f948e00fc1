/**
 * docs/configuration.md's key tables against the program's schema: the stack keys table names every key `Pulumi.yaml`
 * declares and every field of the platform's schema (components/config/schema.ts `platformKeys`), the model and
 * activator keys tables every field of `modelSchema` and `activatorStackSchema` (components/config/models.ts), and no
 * table names a key the schema does not have. Keys are written as the tables write them: dotted paths, `[]` for a list
 * item, `a` / `b` for siblings (`systemNodeGroup.minSize` / `maxSize`), `a`, `b` for several keys in one row.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { platformKeys } from "../../components/config/schema";
import { activatorStackSchema, modelSchema } from "../../components/config/models";
import { projectConfigDeclarations, repoRoot } from "../components/config/stackFiles";

const page = fs.readFileSync(path.join(repoRoot, "docs/configuration.md"), "utf8");

/** Every leaf path of a zod schema (`a.b`, `list[].field`), wrappers (default, optional, pipe, union) looked through. */
function leafPaths(schema: any, prefix = ""): string[] {
    const def = schema?._zod?.def;
    if (!def) return [prefix];
    switch (def.type) {
        case "default":
        case "prefault":
        case "optional":
        case "nullable":
        case "readonly":
        case "catch":
            return leafPaths(def.innerType, prefix);
        case "pipe":
            return leafPaths(def.in, prefix);
        case "array":
            return leafPaths(def.element, `${prefix}[]`);
        case "union":
            return [...new Set<string>(def.options.flatMap((o: unknown) => leafPaths(o, prefix)))];
        case "object":
            return Object.entries(def.shape).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
        default:
            return [prefix];
    }
}

/** A list of scalars is documented as the key itself: `adminPrincipalArns`, not `adminPrincipalArns[]`. */
const documentedForm = (p: string): string => p.replace(/\[\]$/, "");

/** The keys of the table under `## heading`: the first column of each row, expanded as the module comment says. */
function tableKeys(heading: string): string[] {
    const section = page.split(/^## /m).find((s) => s.startsWith(`${heading}\n`));
    assert.ok(section, `docs/configuration.md has a "## ${heading}" section`);
    const keys: string[] = [];
    for (const line of section.split("\n")) {
        const cell = /^\| (`[^|]*) \|/.exec(line)?.[1];
        if (!cell) continue;
        for (const group of cell.split(/`,\s*`/)) {
            const names = [...group.matchAll(/[A-Za-z][\w.[\]]*/g)].map((m) => m[0]);
            const parent = names[0].includes(".") ? names[0].slice(0, names[0].lastIndexOf(".") + 1) : "";
            names.forEach((n, i) => keys.push(i > 0 && !n.includes(".") ? parent + n : n));
        }
    }
    return keys;
}

function assertSameKeys(documented: string[], schema: string[], what: string): void {
    const doc = new Set(documented);
    const want = new Set(schema.map(documentedForm));
    assert.deepEqual([...want].filter((k) => !doc.has(k)), [], `${what}: schema keys missing from docs/configuration.md`);
    assert.deepEqual([...doc].filter((k) => !want.has(k)), [], `${what}: keys in docs/configuration.md the schema does not have`);
}

describe("docs/configuration.md: the key tables hold together with Pulumi.yaml and the schema", () => {
    it("stack keys: every key Pulumi.yaml declares, every platform field, nothing else", () => {
        const documented = tableKeys("Stack keys");
        const declared = Object.keys(projectConfigDeclarations()).map((k) => k.replace(/^gpu-serverless:/, ""));
        const topLevel = new Set(documented.map((k) => k.split(/[.[]/)[0]));
        assert.deepEqual(declared.filter((k) => !topLevel.has(k)), [], "Pulumi.yaml keys missing from the stack keys table");
        assert.deepEqual([...topLevel].filter((k) => !declared.includes(k)), [], "stack keys table names keys Pulumi.yaml does not declare");
        const platform = Object.entries(platformKeys).flatMap(([k, v]) => leafPaths(v, k));
        // `alerts`, `models` and `activator` are one row each here, with their own tables.
        assertSameKeys(documented.filter((k) => !["alerts", "models", "activator"].includes(k)), platform, "stack keys");
    });

    it("model keys: every field of a model", () => {
        assertSameKeys(tableKeys("Model keys"), leafPaths(modelSchema), "model keys");
    });

    it("activator keys: every field of gpu-serverless:activator", () => {
        assertSameKeys(tableKeys("Activator keys"), leafPaths(activatorStackSchema), "activator keys");
    });

    it("expands the tables' shorthand (the checks above read what a reader reads)", () => {
        const keys = tableKeys("Stack keys");
        for (const k of ["systemNodeGroup.minSize", "systemNodeGroup.maxSize", "vpc.privateSubnetIds", "gpuNodeGroups[].labels"]) assert.ok(keys.includes(k), k);
        assert.ok(tableKeys("Model keys").includes("coldStart.startupSeconds"));
    });
});
