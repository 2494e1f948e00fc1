/**
 * What a kubelet gives the activator's container, for a replica run as a process: its environment (`value`,
 * `fieldRef` metadata.name / metadata.namespace / status.podIP) and its volumes, written under the replica's folder
 * (ConfigMap and Secret keys as files, projected service-account tokens from the TokenRequest API, emptyDirs), with
 * every config path under a mount path rewritten to the written folder.
 *
 * Secrets the plan redacts get a fresh random value per key, applied to the API server too, so every reader agrees.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Kube } from "./kube";
import type { PlanObjects } from "./plan";

export interface PodFiles {
    readonly env: Record<string, string>;
    /** The config with every string under a volume's mount path pointed at the written copy. */
    rewrite<T>(config: T): T;
}

export class SecretValues {
    private readonly values = new Map<string, Record<string, string>>();

    constructor(
        private readonly kube: Kube,
        private readonly plan: PlanObjects,
    ) {}

    /** The data of Secret namespace/name: generated once from the plan's (redacted) keys and applied. */
    async of(namespace: string, name: string): Promise<Record<string, string>> {
        const key = `${namespace}/${name}`;
        if (!this.values.has(key)) {
            const planned = this.plan.all.find((o) => o.kind === "Secret" && o.metadata.name === name && o.metadata.namespace === namespace);
            if (!planned) throw new Error(`a pod mounts Secret ${key}, which the plan does not create`);
            const keys = [...Object.keys(typeof planned.data === "object" ? planned.data : {}), ...Object.keys(typeof planned.stringData === "object" ? planned.stringData : {})];
            if (keys.length === 0) throw new Error(`Secret ${key}: the plan redacts its whole data; its keys are unknown`);
            const data = Object.fromEntries(keys.map((k) => [k, randomBytes(32).toString("hex")]));
            await this.kube.apply({ apiVersion: "v1", kind: "Secret", metadata: { name, namespace, labels: planned.metadata.labels }, type: planned.type, stringData: data });
            this.values.set(key, data);
        }
        return this.values.get(key)!;
    }
}

function write(dir: string, files: Record<string, string>, items?: { key: string; path: string }[]): void {
    fs.mkdirSync(dir, { recursive: true });
    const chosen = items ?? Object.keys(files).map((key) => ({ key, path: key }));
    for (const { key, path: p } of chosen) {
        fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
        fs.writeFileSync(path.join(dir, p), files[key] ?? "");
    }
}

/** Writes the volumes of `pod` (namespace, container, template spec) for replica `name` at `ip` under `dir`. */
export async function podFiles(options: {
    kube: Kube;
    plan: PlanObjects;
    secrets: SecretValues;
    namespace: string;
    spec: any;
    name: string;
    ip: string;
    dir: string;
}): Promise<PodFiles> {
    const { kube, plan, secrets, namespace, spec, name, ip, dir } = options;
    const container = spec.containers[0];
    const env: Record<string, string> = {};
    for (const e of container.env ?? []) {
        const field = e.valueFrom?.fieldRef?.fieldPath;
        if (e.value !== undefined) env[e.name] = e.value;
        else if (field === "metadata.name") env[e.name] = name;
        else if (field === "metadata.namespace") env[e.name] = namespace;
        else if (field === "status.podIP") env[e.name] = ip;
    }
    const configMapData = (cm: string): Record<string, string> => {
        const found = plan.all.find((o) => o.kind === "ConfigMap" && o.metadata.name === cm && o.metadata.namespace === namespace);
        if (!found) throw new Error(`a pod mounts ConfigMap ${namespace}/${cm}, which the plan does not create`);
        return found.data ?? {};
    };
    const mounts: [string, string][] = [];
    for (const m of container.volumeMounts ?? []) {
        const volume = spec.volumes.find((v: any) => v.name === m.name);
        const local = path.join(dir, "volumes", m.name);
        if (volume.configMap) write(local, configMapData(volume.configMap.name), volume.configMap.items);
        else if (volume.secret) write(local, await secrets.of(namespace, volume.secret.secretName), volume.secret.items);
        else if (volume.projected) {
            for (const source of volume.projected.sources) {
                if (source.serviceAccountToken) {
                    const token = await kube.request("POST", `/api/v1/namespaces/${namespace}/serviceaccounts/${spec.serviceAccountName}/token`, {
                        apiVersion: "authentication.k8s.io/v1",
                        kind: "TokenRequest",
                        spec: { audiences: source.serviceAccountToken.audience ? [source.serviceAccountToken.audience] : undefined, expirationSeconds: source.serviceAccountToken.expirationSeconds ?? 3600 },
                    });
                    write(local, { token: token.status.token }, [{ key: "token", path: source.serviceAccountToken.path }]);
                } else if (source.configMap) write(local, configMapData(source.configMap.name), source.configMap.items);
                else if (source.secret) write(local, await secrets.of(namespace, source.secret.name), source.secret.items);
            }
        } else fs.mkdirSync(local, { recursive: true });
        mounts.push([m.mountPath.replace(/\/$/, ""), local]);
    }
    const rewrite = (value: any): any => {
        if (typeof value === "string") {
            for (const [mountPath, local] of mounts) if (value === mountPath || value.startsWith(`${mountPath}/`)) return local + value.slice(mountPath.length);
            return value;
        }
        if (Array.isArray(value)) return value.map(rewrite);
        if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewrite(v)]));
        return value;
    };
    return { env, rewrite };
}
