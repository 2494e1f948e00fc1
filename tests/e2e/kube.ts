/**
 * A minimal Kubernetes API client for the end-to-end suite: HTTPS with the suite's CA and bearer token, JSON in and
 * out, server-side apply, and watches. Errors carry the API server's own Status message.
 */
import * as https from "node:https";

export interface KubeAccess {
    /** https://127.0.0.1:<port> */
    readonly server: string;
    readonly ca: string;
    readonly token: string;
}

/** A failed API call: the HTTP status and the API server's Status message. */
export class KubeError extends Error {
    constructor(
        readonly status: number,
        readonly reason: string,
        message: string,
    ) {
        super(message);
    }
}

/** The REST path of a resource collection, e.g. ("apps/v1", "deployments", "models"). */
export function collectionPath(apiVersion: string, plural: string, namespace?: string): string {
    const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    return namespace ? `${base}/namespaces/${namespace}/${plural}` : `${base}/${plural}`;
}

export class Kube {
    private readonly agent: https.Agent;
    /** kind → { plural, namespaced } per apiVersion, from discovery. */
    private readonly resources = new Map<string, { plural: string; namespaced: boolean }>();

    constructor(readonly access: KubeAccess) {
        this.agent = new https.Agent({ ca: access.ca, keepAlive: true });
    }

    close(): void {
        this.agent.destroy();
    }

    /** One request; resolves with the parsed JSON body, rejects with a KubeError for a non-2xx answer. */
    request<T = any>(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<T> {
        const url = new URL(path, this.access.server);
        const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
        return new Promise((resolve, reject) => {
            const req = https.request(
                url,
                {
                    method,
                    agent: this.agent,
                    headers: {
                        authorization: `Bearer ${this.access.token}`,
                        accept: "application/json",
                        ...(payload !== undefined ? { "content-type": contentType, "content-length": Buffer.byteLength(payload) } : {}),
                    },
                },
                (res) => {
                    const chunks: Buffer[] = [];
                    res.on("data", (c: Buffer) => chunks.push(c));
                    res.on("end", () => {
                        const text = Buffer.concat(chunks).toString("utf8");
                        let parsed: any = text;
                        try {
                            parsed = text ? JSON.parse(text) : {};
                        } catch {
                            /* not JSON: keep the text */
                        }
                        if ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300) resolve(parsed);
                        else reject(new KubeError(res.statusCode ?? 0, parsed?.reason ?? "", `${method} ${path}: ${res.statusCode} ${parsed?.message ?? text}`));
                    });
                },
            );
            req.on("error", reject);
            req.end(payload);
        });
    }

    get<T = any>(path: string): Promise<T> {
        return this.request<T>("GET", path);
    }

    /** The object, or undefined when it does not exist. */
    async find<T = any>(path: string): Promise<T | undefined> {
        try {
            return await this.get<T>(path);
        } catch (e) {
            if (e instanceof KubeError && e.status === 404) return undefined;
            throw e;
        }
    }

    /** Plural and scope of a kind, from the API server's discovery (so CRDs applied at run time resolve too). */
    async resourceOf(apiVersion: string, kind: string): Promise<{ plural: string; namespaced: boolean }> {
        const key = `${apiVersion}/${kind}`;
        // A CRD just established reaches discovery a moment later: look again for up to 30 s.
        const deadline = Date.now() + 30_000;
        while (!this.resources.has(key)) {
            try {
                const list = await this.get<{ resources: { name: string; kind: string; namespaced: boolean }[] }>(collectionPath(apiVersion, "").replace(/\/$/, ""));
                for (const r of list.resources) if (!r.name.includes("/")) this.resources.set(`${apiVersion}/${r.kind}`, { plural: r.name, namespaced: r.namespaced });
            } catch (e) {
                if (!(e instanceof KubeError && e.status === 404)) throw e;
            }
            if (this.resources.has(key)) break;
            if (Date.now() > deadline) throw new Error(`the API server does not serve ${kind} in ${apiVersion}`);
            await new Promise((r) => setTimeout(r, 250));
        }
        return this.resources.get(key)!;
    }

    /** The REST path of one object. */
    async objectPath(o: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): Promise<string> {
        const r = await this.resourceOf(o.apiVersion, o.kind);
        return `${collectionPath(o.apiVersion, r.plural, r.namespaced ? o.metadata.namespace : undefined)}/${o.metadata.name}`;
    }

    /**
     * Server-side apply, as the Pulumi Kubernetes provider does (`kubectl apply --server-side` semantics); a rejected
     * object throws the API server's message, prefixed with the object.
     */
    async apply(o: any, fieldManager = "pulumi-kubernetes"): Promise<any> {
        const path = `${await this.objectPath(o)}?fieldManager=${fieldManager}&force=true`;
        try {
            return await this.request("PATCH", path, o, "application/apply-patch+yaml");
        } catch (e) {
            if (e instanceof KubeError) throw new KubeError(e.status, e.reason, `${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name} rejected: ${e.message}`);
            throw e;
        }
    }

    /**
     * Watches a collection path from `resourceVersion` (or now), calling `onEvent` per event until `stop()`; restarts
     * when the server ends the watch.
     */
    watch(path: string, onEvent: (type: string, object: any) => void, resourceVersion = ""): { stop(): void } {
        let stopped = false;
        let current: import("node:http").ClientRequest | undefined;
        let rv = resourceVersion;
        const start = () => {
            if (stopped) return;
            const url = new URL(path, this.access.server);
            url.searchParams.set("watch", "1");
            url.searchParams.set("allowWatchBookmarks", "true");
            if (rv) url.searchParams.set("resourceVersion", rv);
            current = https.get(url, { agent: this.agent, headers: { authorization: `Bearer ${this.access.token}` } }, (res) => {
                let buffer = "";
                res.setEncoding("utf8");
                res.on("data", (chunk: string) => {
                    buffer += chunk;
                    let nl: number;
                    while ((nl = buffer.indexOf("\n")) >= 0) {
                        const line = buffer.slice(0, nl);
                        buffer = buffer.slice(nl + 1);
                        if (!line.trim()) continue;
                        const event = JSON.parse(line);
                        if (event.type === "ERROR") {
                            rv = "";
                            continue;
                        }
                        rv = event.object?.metadata?.resourceVersion ?? rv;
                        if (event.type !== "BOOKMARK") onEvent(event.type, event.object);
                    }
                });
                res.on("end", () => setTimeout(start, 50));
                res.on("error", () => setTimeout(start, 200));
            });
            current.on("error", () => setTimeout(start, 200));
        };
        start();
        return {
            stop: () => {
                stopped = true;
                current?.destroy();
            },
        };
    }

    /** Polls `check` every `intervalMs` until it returns a value other than undefined/false, or fails after `timeoutMs` with `what`. */
    static async until<T>(what: string, timeoutMs: number, check: () => Promise<T>, intervalMs = 100): Promise<Exclude<T, undefined | false>> {
        const deadline = Date.now() + timeoutMs;
        let last: unknown;
        for (;;) {
            try {
                const value = await check();
                if (value !== undefined && value !== false) return value as Exclude<T, undefined | false>;
            } catch (e) {
                last = e;
            }
            if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ""}`);
            await new Promise((r) => setTimeout(r, intervalMs));
        }
    }
}
