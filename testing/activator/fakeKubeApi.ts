/**
 * A fake Kubernetes API server (plain HTTP on 127.0.0.1) serving list + watch of the collections the activator reads,
 * with the objects' real shapes, enough for @kubernetes/client-node's typed APIs, Watch and ListWatch:
 * discovery.k8s.io/v1 EndpointSlices, v1 Pods and Events, apps/v1 ReplicaSets, serving.kserve.io/v1beta1 InferenceServices.
 *
 *   const api = await FakeKubeApi.start();
 *   const kc = api.kubeConfig();                               // KubeConfig pointing here, bearer token "fake-token"
 *   api.apply(endpointSlice({ namespace: "default", service: "llama", name: "llama-a", ready: [false] })); // ADDED / MODIFIED
 *   api.apply(pod), api.apply(event), api.apply(inferenceService)   // any of the kinds above, by `kind`
 *   api.remove("default", "llama-a");                          // DELETED (kind EndpointSlice unless given)
 *   api.failLists(2);                                          // the next 2 lists answer 500
 *   api.breakWatches();                                        // reset every open watch connection (an error for the client)
 *   api.endWatches();                                          // end every open watch normally (as timeoutSeconds does)
 *   api.expireWatches();                                       // send an ERROR 410 Gone event on every open watch and end it
 *   api.lists / api.watches / api.openWatches                  // EndpointSlice lists / watches / open watches
 *   api.lastAuthorization                                      // what the client sent
 *   await api.stop();
 *
 * Watches honour `labelSelector` (equality and existence terms), `fieldSelector` (equality on dotted paths),
 * `resourceVersion` (replays later events) and `timeoutSeconds`.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import type net from "node:net";
import { KubeConfig, type KubernetesObject, type V1EndpointSlice } from "@kubernetes/client-node";

export const FAKE_TOKEN = "fake-token";

type KubeObject = KubernetesObject & Record<string, unknown>;

interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  resource: string;
  object: KubeObject;
  rv: number;
}

interface OpenWatch {
  resource: string;
  namespace: string;
  selector: Record<string, string | null>;
  fields: Record<string, string>;
  res: http.ServerResponse;
}

/** The collections served: resource (plural) by kind, and their paths. */
const RESOURCES: Record<string, { resource: string; listKind: string; apiVersion: string; path: RegExp }> = {
  EndpointSlice: { resource: "endpointslices", listKind: "EndpointSliceList", apiVersion: "discovery.k8s.io/v1", path: /^\/apis\/discovery\.k8s\.io\/v1\/namespaces\/([^/]+)\/endpointslices$/ },
  Pod: { resource: "pods", listKind: "PodList", apiVersion: "v1", path: /^\/api\/v1\/namespaces\/([^/]+)\/pods$/ },
  Event: { resource: "events", listKind: "EventList", apiVersion: "v1", path: /^\/api\/v1\/namespaces\/([^/]+)\/events$/ },
  ReplicaSet: { resource: "replicasets", listKind: "ReplicaSetList", apiVersion: "apps/v1", path: /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/replicasets$/ },
  InferenceService: {
    resource: "inferenceservices",
    listKind: "InferenceServiceList",
    apiVersion: "serving.kserve.io/v1beta1",
    path: /^\/apis\/serving\.kserve\.io\/v1beta1\/namespaces\/([^/]+)\/inferenceservices$/,
  },
};

/**
 * An EndpointSlice of `service` with one endpoint per entry of `ready` (null = condition left unset), at 10.0.0.<i+1>
 * port 8080 unless `address` / `port` say where the model server really listens (the activator sends requests to
 * ready endpoints directly: ../../activator/src/holding/replicas.ts).
 */
export function endpointSlice(opts: { namespace: string; service: string; name: string; ready: Array<boolean | null>; address?: string; port?: number }): V1EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    addressType: "IPv4",
    metadata: { name: opts.name, namespace: opts.namespace, labels: { "kubernetes.io/service-name": opts.service } },
    endpoints: opts.ready.map((ready, i) => ({
      addresses: [opts.address ?? `10.0.0.${i + 1}`],
      conditions: ready === null ? {} : { ready, serving: ready, terminating: false },
    })),
    ports: [{ name: "http", port: opts.port ?? 8080, protocol: "TCP" }],
  };
}

export class FakeKubeApi {
  lists = 0;
  watches = 0;
  lastAuthorization: string | undefined;
  private rv = 1;
  private readonly objects = new Map<string, KubeObject>();
  private readonly history: WatchEvent[] = [];
  private readonly open = new Set<OpenWatch>();
  private readonly sockets = new Set<net.Socket>();
  private listFailures = 0;

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeKubeApi> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    const api = new FakeKubeApi(server, `http://127.0.0.1:${port}`);
    server.on("request", (req, res) => api.handle(req, res));
    server.on("connection", (socket: net.Socket) => {
      api.sockets.add(socket);
      socket.once("close", () => api.sockets.delete(socket));
    });
    return api;
  }

  /** Kubeconfig files written by kubeConfigFile(), removed by stop(). */
  private readonly kubeConfigDirs: string[] = [];

  /** The kubeConfig() as a file in a temporary folder (for a child process's KUBECONFIG); removed by stop(). */
  kubeConfigFile(): string {
    const dir = mkdtempSync(path.join(tmpdir(), "fake-kube-"));
    this.kubeConfigDirs.push(dir);
    const file = path.join(dir, "config");
    writeFileSync(file, this.kubeConfig().exportConfig());
    return file;
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "fake", server: this.url, skipTLSVerify: true }],
      users: [{ name: "activator", token: FAKE_TOKEN }],
      contexts: [{ name: "fake", cluster: "fake", user: "activator", namespace: "default" }],
      currentContext: "fake",
    });
    return kc;
  }

  /** Open EndpointSlice watches. */
  get openWatches(): number {
    return [...this.open].filter((w) => w.resource === "endpointslices").length;
  }

  /** Creates or replaces an object (EndpointSlice, Pod, Event or InferenceService, by its `kind`). */
  apply(obj: KubernetesObject): void {
    const resource = resourceOf(obj.kind);
    const key = `${resource}/${obj.metadata!.namespace}/${obj.metadata!.name}`;
    const type = this.objects.has(key) ? "MODIFIED" : "ADDED";
    const object = structuredClone(obj) as KubeObject;
    object.metadata!.resourceVersion = String(++this.rv);
    object.metadata!.uid ??= `uid-${key}`;
    this.objects.set(key, object);
    this.emit({ type, resource, object, rv: this.rv });
  }

  remove(namespace: string, name: string, kind = "EndpointSlice"): void {
    const resource = resourceOf(kind);
    const key = `${resource}/${namespace}/${name}`;
    const object = this.objects.get(key);
    if (!object) throw new Error(`no ${kind} ${namespace}/${name}`);
    this.objects.delete(key);
    const deleted = structuredClone(object);
    deleted.metadata!.resourceVersion = String(++this.rv);
    this.emit({ type: "DELETED", resource, object: deleted, rv: this.rv });
  }

  failLists(count: number): void {
    this.listFailures = count;
  }

  breakWatches(): void {
    for (const w of this.open) w.res.socket?.resetAndDestroy();
    this.open.clear();
  }

  endWatches(): void {
    for (const w of this.open) w.res.end();
    this.open.clear();
  }

  expireWatches(): void {
    const gone = { kind: "Status", apiVersion: "v1", status: "Failure", reason: "Expired", code: 410, message: "too old resource version" };
    for (const w of this.open) w.res.end(JSON.stringify({ type: "ERROR", object: gone }) + "\n");
    this.open.clear();
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
    for (const dir of this.kubeConfigDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }

  private emit(event: WatchEvent): void {
    this.history.push(event);
    for (const w of this.open) this.send(w, event);
  }

  private send(w: OpenWatch, event: WatchEvent): void {
    if (event.resource !== w.resource || event.object.metadata!.namespace !== w.namespace || !matches(event.object, w.selector, w.fields)) return;
    w.res.write(JSON.stringify({ type: event.type, object: event.object }) + "\n");
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.lastAuthorization = req.headers.authorization;
    const url = new URL(req.url ?? "/", this.url);
    const served = Object.entries(RESOURCES).find(([, r]) => r.path.test(url.pathname));
    const match = served?.[1].path.exec(url.pathname);
    if (req.method !== "GET" || !served || !match) {
      json(res, 404, { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404, message: `no route ${req.method} ${url.pathname}` });
      return;
    }
    const [, { resource, listKind, apiVersion }] = served;
    const namespace = decodeURIComponent(match[1]!);
    const selector = parseSelector(url.searchParams.get("labelSelector"));
    const fields = parseFields(url.searchParams.get("fieldSelector"));
    if (url.searchParams.get("watch") === "true") {
      this.watch(res, { resource, namespace, selector, fields, res }, url.searchParams);
      return;
    }
    if (resource === "endpointslices") this.lists++;
    if (this.listFailures > 0) {
      this.listFailures--;
      json(res, 500, { kind: "Status", apiVersion: "v1", status: "Failure", reason: "InternalError", code: 500, message: "injected list failure" });
      return;
    }
    const prefix = `${resource}/${namespace}/`;
    const items = [...this.objects].filter(([key, o]) => key.startsWith(prefix) && matches(o, selector, fields)).map(([, o]) => o);
    json(res, 200, { kind: listKind, apiVersion, metadata: { resourceVersion: String(this.rv) }, items });
  }

  private watch(res: http.ServerResponse, w: OpenWatch, params: URLSearchParams): void {
    if (w.resource === "endpointslices") this.watches++;
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    res.flushHeaders();
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

/** `a=b,c` → { a: "b", c: null } (null: the label must exist). */
function parseSelector(raw: string | null): Record<string, string | null> {
  const selector: Record<string, string | null> = {};
  for (const term of (raw ?? "").split(",").filter(Boolean)) {
    const [key, value] = term.split("=");
    selector[key!] = value ?? null;
  }
  return selector;
}

function parseFields(raw: string | null): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const term of (raw ?? "").split(",").filter(Boolean)) {
    const [key, value] = term.split("=");
    fields[key!] = value ?? "";
  }
  return fields;
}

function matches(object: KubeObject, selector: Record<string, string | null>, fields: Record<string, string>): boolean {
  const labels = object.metadata?.labels ?? {};
  const labelsOk = Object.entries(selector).every(([k, v]) => (v === null ? k in labels : labels[k] === v));
  const field = (path: string) => path.split(".").reduce<unknown>((o, p) => (o && typeof o === "object" ? (o as Record<string, unknown>)[p] : undefined), object);
  return labelsOk && Object.entries(fields).every(([path, v]) => String(field(path) ?? "") === v);
}

function resourceOf(kind: string | undefined): string {
  const served = RESOURCES[kind ?? ""];
  if (!served) throw new Error(`FakeKubeApi serves ${Object.keys(RESOURCES).join(", ")}, not ${kind}`);
  return served.resource;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(payload) });
  res.end(payload);
}
