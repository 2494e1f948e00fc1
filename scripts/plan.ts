/**
 * `npm run plan -- --stack <stack> [--out DIR] [--set key=value ...]`
 *
 * Evaluates the program (index.ts) with the stack's config (Pulumi.yaml defaults overlaid with Pulumi.<stack>.yaml,
 * then each `--set`: `key=value` or a field by path, `apiEndpoint.access=public`, see ./plan/stackConfig.ts) under
 * Pulumi's mock runtime: no Pulumi CLI, no backend, no AWS credentials. Writes to DIR (default `build/plan/<stack>`),
 * a folder plan owns (./plan/outDir.ts): new, empty, or written by plan before (marked `.gpu-serverless-plan`), where
 * it replaces only the files it wrote; any other folder is refused before anything runs:
 *   kubernetes/<component>.yaml   every Kubernetes object, as the provider would apply it, one file per component
 *   helm/<release>.yaml           each Helm release: chart, repository, version, namespace, values
 *   tree.txt                      every resource by component, with counts by type
 * An invalid stack config exits 1 with the program's own error (every `gpu-serverless:<key>` problem listed); any
 * other mistake (no such stack, a bad `--set`, a folder plan does not own) exits 1 with one line; bad arguments exit 2
 * with the usage.
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { renderPlan } from "./plan/render";
import { runProgram } from "./plan/runtime";
import { checkOutDir, writePlanFiles } from "./plan/outDir";
import { planConfig } from "./plan/stackConfig";

const root = path.resolve(__dirname, "..");

const usage = "usage: npm run plan -- --stack <stack> [--out DIR] [--set key=value | --set key.field=value ...]";

/** The command line, or exit 2 with one line and the usage (exit 0 with the usage for --help). */
function args() {
    let parsed;
    try {
        parsed = parseArgs({
            options: {
                stack: { type: "string", short: "s" },
                out: { type: "string", short: "o" },
                set: { type: "string", multiple: true },
                help: { type: "boolean", short: "h" },
            },
        });
    } catch (e) {
        console.error(`${(e as Error).message}\n${usage}`);
        process.exit(2);
    }
    const { values } = parsed;
    if (values.help) {
        console.log(usage);
        process.exit(0);
    }
    if (!values.stack) {
        console.error(`--stack is required\n${usage}`);
        process.exit(2);
    }
    return { ...values, stack: values.stack };
}

/** Errors whose message is the whole story, printed as it is (no stack trace). */
const userErrors = new Set(["StackConfigError", "PlanConfigError", "PlanOutError"]);

async function main(): Promise<void> {
    const values = args();
    const stack = values.stack;
    const out = path.resolve(values.out ?? path.join(root, "build", "plan", stack));
    checkOutDir(out);
    const { config, secretKeys } = planConfig(root, stack, values.set ?? []);
    const resources = await runProgram({ programPath: path.join(root, "index.ts"), project: "gpu-serverless", stack, config, secretKeys });
    const header = `gpu-serverless stack "${stack}" as the program registers it (Pulumi mock runtime; provider-computed values are placeholders)`;
    const files = renderPlan(resources, header, config["gpu-serverless:region"]);
    writePlanFiles(out, files);
    const count = (dir: string) => [...files.keys()].filter((f) => f.startsWith(dir)).length;
    console.log(
        `plan of stack "${stack}": ${resources.length} resources; ${count("kubernetes/")} component files of Kubernetes objects, ` +
            `${count("helm/")} Helm releases, tree.txt → ${path.relative(process.cwd(), out) || "."}`,
    );
}

main().catch((e: unknown) => {
    // Our errors (a StackConfigError is a pulumi.RunError) carry their own readable message; anything else prints its stack.
    console.error(e instanceof Error && userErrors.has(e.name) ? e.message : e);
    process.exit(1);
});
