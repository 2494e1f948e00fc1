/**
 * A stand-in Kubernetes API server (plain HTTP on 127.0.0.1) for a controller-runtime client that only reads: legacy
 * discovery (`/api`, `/apis`, `/api/v1`, `/apis/<group>/<version>`) and list + watch of the resource types it is
 * given, cluster-wide or in one namespace. Enough for KEDA's HTTP add-on interceptor, whose cache lists and watches
 * InterceptorRoutes, HTTPScaledObjects, EndpointSlices and Services and never writes.
 *
 *   const api = await FakeListWatchApi.start([SERVICES, ENDPOINT_SLICES]);
 *   api.apply({ apiVersion: "v1", kind: "Service", metadata: { namespace: "bench", name: "fast" }, spec: { ... } });
 *   const kubeconfig = api.writeKubeconfig(dir);   // a kubeconfig file pointing here
 *   api.requests                                   // "LIST /api/v1/services": 1, "WATCH ...": 1, ...
 *
 * What it does not do: validate objects against CRD schemas, admission, field selectors, pagination (`limit` is
 * ignored: every list is one page), bookmarks, protobuf (JSON only; client-go decodes by the response's content
 * type, so a client that prefers protobuf reads JSON too). Watches honour `labelSelector` (equality terms only),
 * `resourceVersion` (replays later events) and `timeoutSeconds`. The version of the discovery documents is `v1`
 * for every group, as a real server's are.
 */
import { writeFileSync } from "node:fs";
import http from "node:http";
import type net from "node:net";
import * as path from "node:path";

/** One resource type the fake serves, e.g. `{ group: "", version: "v1", resource: "services", kind: "Service", namespaced: true }`. */
export interface ResourceType {
  /** API group, `""` for the core group. */
  group: string;
  version: string;
  /** Plural lower-case name, as in the URL. */
  resource: string;
  kind: string;
  namespaced: boolean;
}

export const SERVICES: ResourceType = { group: "", version: "v1", resource: "services", kind: "Service", namespaced: true };
export const CONFIG_MAPS: ResourceType = { group: "", version: "v1", resource: "configmaps", kind: "ConfigMap", namespaced: true };
export const ENDPOINT_SLICES: ResourceType = { group: "discovery.k8s.io", version: "v1", resource: "endpointslices", kind: "EndpointSlice", namespaced: true };

/** A Kubernetes object as JSON: apiVersion, kind and metadata.name are required, the rest is passed through. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; resourceVersion?: string; [key: string]: unknown };
  [key: string]: unknown;
}

interface Event {
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: KubeObject;
  rv: number;
}

interface OpenWatch {
  type: ResourceType;
  namespace: string | undefined;
  selector: Record<string, string>;
  res: http.ServerResponse;
}

const apiVersionOf = (t: ResourceType) => (t.group ? `${t.group}/${t.version}` : t.version);
const prefixOf = (t: ResourceType) => (t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`);

export class FakeListWatchApi {
  /** Requests served, counted by `LIST <path>`, `WATCH <path>`, `GET <path>`: what the client did. */
  readonly requests: Record<string, number> = {};
  private rv = 1;
  private readonly objects = new Map<string, KubeObject>();
  private readonly history: Event[] = [];
  private readonly open = new Set<OpenWatch>();
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
    private readonly types: ResourceType[],
  ) {}

  static async start(types: ResourceType[]): Promise<FakeListWatchApi> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    const api = new FakeListWatchApi(server, `http://127.0.0.1:${port}`, types);
    server.on("request", (req, res) => api.handle(req, res));
    server.on("connection", (socket: net.Socket) => {
      api.sockets.add(socket);
      socket.once("close", () => api.sockets.delete(socket));
    });
    return api;
  }

  /** Writes a kubeconfig (bearer token, plain HTTP) pointing here to `<dir>/kubeconfig`; returns its path. */
  writeKubeconfig(dir: string): string {
    const file = path.join(dir, "kubeconfig");
    const config = {
      apiVersion: "v1",
      kind: "Config",
      // Plain HTTP; @kubernetes/client-node refuses http:// unless TLS verification is marked off.
      clusters: [{ name: "fake", cluster: { server: this.url, "insecure-skip-tls-verify": true } }],
      users: [{ name: "reader", user: { token: "fake-token" } }],
      contexts: [{ name: "fake", context: { cluster: "fake", user: "reader", namespace: "default" } }],
      "current-context": "fake",
    };
    writeFileSync(file, JSON.stringify(config, null, 2)); // JSON is YAML
    return file;
  }

  /** Creates or replaces an object (ADDED / MODIFIED to open watches); its type must be one this fake serves. */
  apply(object: KubeObject): void {
    const type = this.typeOf(object);
    const key = this.key(type, object.metadata.namespace, object.metadata.name);
    const stored = structuredClone(object);
    stored.metadata.resourceVersion = String(++this.rv);
    const kind = this.objects.has(key) ? "MODIFIED" : "ADDED";
    this.objects.set(key, stored);
    this.emit({ type: kind, object: stored, rv: this.rv });
  }

  /** Deletes an object (DELETED to open watches). */
  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): void {
    const type = this.typeOf({ apiVersion, kind, metadata: { name } });
    const key = this.key(type, namespace, name);
    const object = this.objects.get(key);
    if (!object) throw new Error(`no ${kind} ${namespace ?? ""}/${name}`);
    this.objects.delete(key);
    const deleted = structuredClone(object);
    deleted.metadata.resourceVersion = String(++this.rv);
    this.emit({ type: "DELETED", object: deleted, rv: this.rv });
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private typeOf(object: KubeObject): ResourceType {
    const type = this.types.find((t) => apiVersionOf(t) === object.apiVersion && t.kind === object.kind);
    if (!type) throw new Error(`the fake API does not serve ${object.apiVersion} ${object.kind}`);
    return type;
  }

  private key(type: ResourceType, namespace: string | undefined, name: string): string {
    return `${type.group}/${type.resource}/${type.namespaced ? (namespace ?? "default") : ""}/${name}`;
  }

  private emit(event: Event): void {
    this.history.push(event);
    for (const w of this.open) this.send(w, event);
  }

  private matches(w: Pick<OpenWatch, "type" | "namespace" | "selector">, object: KubeObject): boolean {
    if (apiVersionOf(w.type) !== object.apiVersion || w.type.kind !== object.kind) return false;
    if (w.namespace !== undefined && object.metadata.namespace !== w.namespace) return false;
    const labels = object.metadata.labels ?? {};
    return Object.entries(w.selector).every(([k, v]) => labels[k] === v);
  }

  private send(w: OpenWatch, event: Event): void {
    if (this.matches(w, event.object)) w.res.write(JSON.stringify({ type: event.type, object: event.object }) + "\n");
  }

  private count(what: string): void {
    this.requests[what] = (this.requests[what] ?? 0) + 1;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", this.url);
    const p = url.pathname.replace(/\/+$/, "");
    if (req.method !== "GET") return status(res, 405, "MethodNotAllowed", `${req.method} is not served by this fake`);
    const discovery = this.discovery(p);
    if (discovery) {
      this.count(`GET ${p}`);
      return json(res, 200, discovery);
    }
    for (const type of this.types) {
      const prefix = prefixOf(type);
      let namespace: string | undefined;
      if (p === `${prefix}/${type.resource}`) namespace = undefined;
      else {
        const m = new RegExp(`^${escape(prefix)}/namespaces/([^/]+)/${type.resource}$`).exec(p);
        if (!m || !type.namespaced) continue;
        namespace = decodeURIComponent(m[1]!);
      }
      const selector = parseSelector(url.searchParams.get("labelSelector"));
      if (url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1") {
        this.count(`WATCH ${p}`);
        return this.watch(res, { type, namespace, selector }, url.searchParams);
      }
      this.count(`LIST ${p}`);
      const items = [...this.objects.values()].filter((o) => this.matches({ type, namespace, selector }, o));
      return json(res, 200, { kind: `${type.kind}List`, apiVersion: apiVersionOf(type), metadata: { resourceVersion: String(this.rv) }, items });
    }
    this.count(`NOTFOUND ${p}`);
    status(res, 404, "NotFound", `the server could not find the requested resource (${p})`);
  }

  /** Legacy discovery documents, or undefined when `p` is not a discovery path. */
  private discovery(p: string): unknown {
    const groups = new Map<string, Set<string>>();
    for (const t of this.types) if (t.group) groups.set(t.group, (groups.get(t.group) ?? new Set()).add(t.version));
    if (p === "/api") return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: new URL(this.url).host }] };
    if (p === "/apis") {
      return {
        kind: "APIGroupList",
        apiVersion: "v1",
        groups: [...groups].map(([name, versions]) => {
          const list = [...versions].map((version) => ({ groupVersion: `${name}/${version}`, version }));
          return { name, versions: list, preferredVersion: list[0] };
        }),
      };
    }
    const m = /^\/api\/(v1)$|^\/apis\/([^/]+)\/([^/]+)$/.exec(p);
    if (!m) return undefined;
    const [group, version] = m[1] ? ["", m[1]] : [m[2]!, m[3]!];
    const served = this.types.filter((t) => t.group === group && t.version === version);
    if (served.length === 0 && group !== "") return undefined;
    return {
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion: group ? `${group}/${version}` : version,
      resources: served.map((t) => ({
        name: t.resource,
        singularName: t.kind.toLowerCase(),
        namespaced: t.namespaced,
        kind: t.kind,
        verbs: ["get", "list", "watch"],
      })),
    };
  }

  private watch(res: http.ServerResponse, filter: Omit<OpenWatch, "res">, params: URLSearchParams): void {
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    res.flushHeaders();
    const w: OpenWatch = { ...filter, res };
    const since = Number(params.get("resourceVersion") || this.rv);
    for (const event of this.history) if (event.rv > since) this.send(w, event);
    this.open.add(w);
    const timeout = Number(params.get("timeoutSeconds") ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    res.once("close", () => {
      clearTimeout(timer);
      this.open.delete(w);
    });
  }
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function parseSelector(raw: string | null): Record<string, string> {
  const selector: Record<string, string> = {};
  for (const term of (raw ?? "").split(",").filter(Boolean)) {
    const [key, value] = term.split("=");
    selector[key!] = value ?? "";
  }
  return selector;
}

function json(res: http.ServerResponse, code: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(payload) });
  res.end(payload);
}

function status(res: http.ServerResponse, code: number, reason: string, message: string): void {
  json(res, code, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", reason, code, message });
}
