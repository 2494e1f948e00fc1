/**
 * `npm run plan -- --stack <stack> [--out DIR] [--set key=value ...]`
 *
 * Evaluates the program (index.ts) with the stack's config (Pulumi.yaml defaults overlaid with Pulumi.<stack>.yaml,
 * then each `--set`, a whole key, JSON or plain string) under Pulumi's mock runtime: no Pulumi CLI, no backend, no AWS
 * credentials. Writes to DIR (default `build/plan/<stack>`; emptied first):
 *   kubernetes/<component>.yaml   every Kubernetes object, as the provider would apply it, one file per component
 *   helm/<release>.yaml           each Helm release: chart, repository, version, namespace, values
 *   tree.txt                      every resource by component, with counts by type
 * An invalid stack config exits 1 with the program's own error (every `gpu-serverless:<key>` problem listed).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { renderPlan } from "./plan/render";
import { runProgram } from "./plan/runtime";
import { parseSetting, planConfig } from "./plan/stackConfig";

const root = path.resolve(__dirname, "..");

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            stack: { type: "string", short: "s" },
            out: { type: "string", short: "o" },
            set: { type: "string", multiple: true },
            help: { type: "boolean", short: "h" },
        },
    });
    if (values.help || !values.stack) {
        console.error("usage: npm run plan -- --stack <stack> [--out DIR] [--set key=value ...]");
        process.exit(values.help ? 0 : 2);
    }
    const stack = values.stack;
    const out = path.resolve(values.out ?? path.join(root, "build", "plan", stack));
    const { config, secretKeys } = planConfig(root, stack, Object.fromEntries((values.set ?? []).map(parseSetting)));
    const resources = await runProgram({ programPath: path.join(root, "index.ts"), project: "gpu-serverless", stack, config, secretKeys });
    const header = `gpu-serverless stack "${stack}" as the program registers it (Pulumi mock runtime; provider-computed values are placeholders)`;
    const files = renderPlan(resources, header);
    fs.rmSync(out, { recursive: true, force: true });
    for (const [file, content] of files) {
        fs.mkdirSync(path.dirname(path.join(out, file)), { recursive: true });
        fs.writeFileSync(path.join(out, file), content);
    }
    const count = (dir: string) => [...files.keys()].filter((f) => f.startsWith(dir)).length;
    console.log(
        `plan of stack "${stack}": ${resources.length} resources; ${count("kubernetes/")} component files of Kubernetes objects, ` +
            `${count("helm/")} Helm releases, tree.txt → ${path.relative(process.cwd(), out) || "."}`,
    );
}

main().catch((e: unknown) => {
    // A StackConfigError (a pulumi.RunError) carries its own readable message; anything else prints its stack.
    console.error(e instanceof Error && e.name === "StackConfigError" ? e.message : e);
    process.exit(1);
});
