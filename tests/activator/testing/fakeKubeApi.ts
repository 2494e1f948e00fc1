/**
 * A fake Kubernetes API server (plain HTTP on 127.0.0.1) serving list + watch of discovery.k8s.io/v1
 * EndpointSlices, enough for @kubernetes/client-node's DiscoveryV1Api and Watch.
 *
 *   const api = await FakeKubeApi.start();
 *   const kc = api.kubeConfig();                               // KubeConfig pointing here, bearer token "fake-token"
 *   api.apply(endpointSlice({ namespace: "default", service: "llama", name: "llama-a", ready: [false] })); // ADDED / MODIFIED
 *   api.remove("default", "llama-a");                          // DELETED
 *   api.failLists(2);                                          // the next 2 lists answer 500
 *   api.breakWatches();                                        // reset every open watch connection (an error for the client)
 *   api.endWatches();                                          // end every open watch normally (as timeoutSeconds does)
 *   api.expireWatches();                                       // send an ERROR 410 Gone event on every open watch and end it
 *   api.lists / api.watches / api.openWatches / api.lastAuthorization   // what the client did
 *   await api.stop();
 *
 * Watches honour `labelSelector` (equality terms only), `resourceVersion` (replays later events) and
 * `timeoutSeconds`.
 */
import http from "node:http";
import type net from "node:net";
import { KubeConfig, type V1EndpointSlice } from "@kubernetes/client-node";

export const FAKE_TOKEN = "fake-token";

interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: V1EndpointSlice;
  rv: number;
}

interface OpenWatch {
  namespace: string;
  selector: Record<string, string>;
  res: http.ServerResponse;
}

/** An EndpointSlice of `service` with one endpoint per entry of `ready` (null = condition left unset). */
export function endpointSlice(opts: { namespace: string; service: string; name: string; ready: Array<boolean | null> }): V1EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    addressType: "IPv4",
    metadata: { name: opts.name, namespace: opts.namespace, labels: { "kubernetes.io/service-name": opts.service } },
    endpoints: opts.ready.map((ready, i) => ({
      addresses: [`10.0.0.${i + 1}`],
      conditions: ready === null ? {} : { ready, serving: ready, terminating: false },
    })),
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
  };
}

const PATH = /^\/apis\/discovery\.k8s\.io\/v1\/namespaces\/([^/]+)\/endpointslices$/;

export class FakeKubeApi {
  lists = 0;
  watches = 0;
  lastAuthorization: string | undefined;
  private rv = 1;
  private readonly slices = new Map<string, V1EndpointSlice>();
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

  get openWatches(): number {
    return this.open.size;
  }

  apply(slice: V1EndpointSlice): void {
    const key = `${slice.metadata!.namespace}/${slice.metadata!.name}`;
    const type = this.slices.has(key) ? "MODIFIED" : "ADDED";
    const object = structuredClone(slice);
    object.metadata!.resourceVersion = String(++this.rv);
    this.slices.set(key, object);
    this.emit({ type, object, rv: this.rv });
  }

  remove(namespace: string, name: string): void {
    const object = this.slices.get(`${namespace}/${name}`);
    if (!object) throw new Error(`no EndpointSlice ${namespace}/${name}`);
    this.slices.delete(`${namespace}/${name}`);
    const deleted = structuredClone(object);
    deleted.metadata!.resourceVersion = String(++this.rv);
    this.emit({ type: "DELETED", object: deleted, rv: this.rv });
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
  }

  private emit(event: WatchEvent): void {
    this.history.push(event);
    for (const w of this.open) this.send(w, event);
  }

  private send(w: OpenWatch, event: WatchEvent): void {
    if (event.object.metadata!.namespace !== w.namespace || !matches(event.object, w.selector)) return;
    w.res.write(JSON.stringify({ type: event.type, object: event.object }) + "\n");
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.lastAuthorization = req.headers.authorization;
    const url = new URL(req.url ?? "/", this.url);
    const match = PATH.exec(url.pathname);
    if (req.method !== "GET" || !match) {
      json(res, 404, { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404, message: `no route ${req.method} ${url.pathname}` });
      return;
    }
    const namespace = decodeURIComponent(match[1]!);
    const selector = parseSelector(url.searchParams.get("labelSelector"));
    if (url.searchParams.get("watch") === "true") {
      this.watch(res, namespace, selector, url.searchParams);
      return;
    }
    this.lists++;
    if (this.listFailures > 0) {
      this.listFailures--;
      json(res, 500, { kind: "Status", apiVersion: "v1", status: "Failure", reason: "InternalError", code: 500, message: "injected list failure" });
      return;
    }
    const items = [...this.slices.values()].filter((s) => s.metadata!.namespace === namespace && matches(s, selector));
    json(res, 200, { kind: "EndpointSliceList", apiVersion: "discovery.k8s.io/v1", metadata: { resourceVersion: String(this.rv) }, items });
  }

  private watch(res: http.ServerResponse, namespace: string, selector: Record<string, string>, params: URLSearchParams): void {
    this.watches++;
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    res.flushHeaders();
    const w: OpenWatch = { namespace, selector, res };
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

function parseSelector(raw: string | null): Record<string, string> {
  const selector: Record<string, string> = {};
  for (const term of (raw ?? "").split(",").filter(Boolean)) {
    const [key, value] = term.split("=");
    selector[key!] = value ?? "";
  }
  return selector;
}

function matches(slice: V1EndpointSlice, selector: Record<string, string>): boolean {
  const labels = slice.metadata?.labels ?? {};
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(payload) });
  res.end(payload);
}
