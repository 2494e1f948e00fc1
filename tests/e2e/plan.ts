/**
 * The suite's inputs, from `npm run plan` of the dev stack with e2e overrides (pure functions over the written plan):
 * our Kubernetes objects, the DNS names they use and what each name must reach.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";

export const repoRoot = path.resolve(__dirname, "../..");

export interface PlanObjects {
    /** Every Kubernetes object, by component file stem, in plan order. */
    readonly byComponent: Map<string, any[]>;
    readonly all: any[];
}

/** `--set` arguments for plan: each key set to its value as JSON, `{models: [...]}` → [`models=[...]`]. */
export const planSettings = (settings: Record<string, unknown>): string[] => Object.entries(settings).map(([k, v]) => `${k}=${JSON.stringify(v)}`);

/**
 * Runs `npm run plan -- --stack <stack> --out <out> --set ...` (the CLI, as a user would) and reads what it wrote.
 * Throws with the CLI's stderr when it fails (an invalid override names the key).
 */
export function renderPlan(stack: string, out: string, settings: Record<string, unknown>): PlanObjects {
    const args = ["-r", "ts-node/register/transpile-only", "scripts/plan.ts", "--stack", stack, "--out", out];
    for (const setting of planSettings(settings)) args.push("--set", setting);
    const r = spawnSync(process.execPath, args, { cwd: repoRoot, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`npm run plan failed (${r.status}):\n${r.stderr}`);
    const byComponent = new Map<string, any[]>();
    const dir = path.join(out, "kubernetes");
    for (const file of fs.readdirSync(dir).sort()) {
        byComponent.set(
            file.replace(/\.yaml$/, ""),
            YAML.parseAllDocuments(fs.readFileSync(path.join(dir, file), "utf8")).map((d) => d.toJS()),
        );
    }
    return { byComponent, all: [...byComponent.values()].flat() };
}

/** The dev stack's models (Pulumi.dev.yaml), to derive the e2e model list from. */
export function devModels(): any[] {
    return YAML.parse(fs.readFileSync(path.join(repoRoot, "Pulumi.dev.yaml"), "utf8")).config["gpu-serverless:models"];
}

/** host:port → { host, port } */
export function hostPort(address: string, defaultPort: number): { host: string; port: number } {
    const url = new URL(address.includes("://") ? address : `tcp://${address}`);
    return { host: url.hostname, port: url.port ? Number(url.port) : defaultPort };
}

/** The activator config file the plan's ConfigMap carries (the ConfigMap with a `config.yaml` key in the activator namespace). */
export function activatorConfig(plan: PlanObjects): { configMap: any; config: any } {
    const configMap = plan.all.find((o) => o.kind === "ConfigMap" && o.data?.["config.yaml"] !== undefined);
    if (!configMap) throw new Error("the plan has no activator ConfigMap (a ConfigMap with a config.yaml key)");
    return { configMap, config: YAML.parse(configMap.data["config.yaml"]) };
}

export interface ScalerEndpoint {
    /** The DNS name a ScaledObject's external-push trigger names. */
    readonly host: string;
    readonly port: number;
}

/** Distinct addresses (`metadata[field]`) of the ScaledObjects' triggers of one type, in plan order. */
function triggerEndpoints(plan: PlanObjects, type: string, field: string, defaultPort: number): ScalerEndpoint[] {
    const seen = new Map<string, ScalerEndpoint>();
    for (const so of plan.all.filter((o) => o.kind === "ScaledObject")) {
        for (const t of so.spec.triggers.filter((x: any) => x.type === type)) {
            const e = hostPort(t.metadata[field], defaultPort);
            seen.set(`${e.host}:${e.port}`, e);
        }
    }
    return [...seen.values()];
}

/** Distinct `scalerAddress`es of every external-push trigger, in plan order. */
export const scalerEndpoints = (plan: PlanObjects): ScalerEndpoint[] => triggerEndpoints(plan, "external-push", "scalerAddress", 9090);

/** Distinct Prometheus `serverAddress`es of the ScaledObjects' prometheus triggers. */
export const prometheusEndpoints = (plan: PlanObjects): { host: string; port: number }[] =>
    triggerEndpoints(plan, "prometheus", "serverAddress", 80);

/**
 * Each model backend's Service (namespace/name) and the DNS name the activator uses for it: every model's, then its
 * canary's (`models[].canary.backend`, the `<name>-canary` InferenceService's Service), when it has one.
 */
export function backendServices(config: any): { key: string; host: string }[] {
    const backend = (namespace: string, b: { backend: string; serviceName?: string }) => ({
        key: `${namespace}/${b.serviceName ?? new URL(b.backend).hostname.split(".")[0]}`,
        host: new URL(b.backend).hostname,
    });
    return config.models.flatMap((m: any) => [backend(m.namespace, m), ...(m.canary ? [backend(m.namespace, m.canary)] : [])]);
}
