/**
 * The routing table: computed once per configuration, then read by plain functions on every request.
 * Pure (no I/O); generic over what a route leads to so it can be tested with plain values.
 */

/**
 * KServe's inference protocols (KServe v0.20.0 python/kserve/kserve/protocol/rest/v1_endpoints.py and v2_endpoints.py):
 * `v1` (TensorFlow Serving's REST shape) and `v2` (the Open Inference Protocol).
 */
export const KSERVE_PROTOCOLS = ["v1", "v2"] as const;
export type KServeProtocol = (typeof KSERVE_PROTOCOLS)[number];

/** A model's name on its KServe model server (`--model_name`) and the protocols that server answers. */
export interface KServeKeys {
  modelName: string;
  protocols: readonly KServeProtocol[];
}

/** Routing keys of one model, as in the configuration (the activator's model entry and the stack's `routing` both have this shape). */
export interface RouteKeys {
  hosts: readonly string[];
  pathPrefix?: string | undefined;
  openaiModels: readonly string[];
  kserve?: KServeKeys | undefined;
}

/**
 * The KServe REST paths of one model name, per protocol, as routes list them (`*`: any host), e.g. for `iris`:
 * v1 `GET /v1/models/iris` (ready), `POST /v1/models/iris:predict`, `POST /v1/models/iris:explain`; v2
 * `/v2/models/iris` and below (metadata, `/ready`, `/infer`, `/versions/<v>/...`). Upstream: KServe v0.20.0
 * python/kserve/kserve/protocol/rest/v1_endpoints.py (`/models/{model_name}`, `:predict`, `:explain` under `/v1`)
 * and v2_endpoints.py (`/models/{model_name}[/versions/{model_version}][/ready|/infer]` under `/v2`).
 */
export function kservePaths(keys: KServeKeys): string[] {
  const name = keys.modelName;
  return keys.protocols.flatMap((p) =>
    p === "v1" ? [`GET */v1/models/${name}`, `POST */v1/models/${name}:predict`, `POST */v1/models/${name}:explain`] : [`*/v2/models/${name}`],
  );
}

/** One `host + path prefix` route of a model: `host` undefined for any host (a model without hosts). */
export interface HostPathRoute {
  readonly host: string | undefined;
  readonly prefix: string;
}

/**
 * The `host + path prefix` routes of one model's keys: one per host in `keys.hosts` order, or one for any host when
 * it has none; each with the model's path prefix (default `/`). None when the model has neither hosts nor a path
 * prefix (it is routed by OpenAI `model` value only). The one expansion the table, the conflict rule
 * (./conflicts.ts) and the "no route" error's route list read.
 */
export function hostPathRoutes(keys: RouteKeys): HostPathRoute[] {
  if (keys.hosts.length === 0 && keys.pathPrefix === undefined) return [];
  const prefix = keys.pathPrefix ?? "/";
  return keys.hosts.length > 0 ? keys.hosts.map((host) => ({ host, prefix })) : [{ host: undefined, prefix }];
}

interface PrefixRoute<T> {
  readonly prefix: string;
  readonly target: T;
}

interface WildcardRoutes<T> {
  /** `.example.com` for the pattern `*.example.com`. */
  readonly suffix: string;
  readonly routes: PrefixRoute<T>[];
}

export interface RouteTable<T> {
  /** Routes of exact host names, each list longest prefix first. */
  readonly exact: ReadonlyMap<string, PrefixRoute<T>[]>;
  /** Wildcard hosts, most specific (longest suffix) first. */
  readonly wildcard: readonly WildcardRoutes<T>[];
  /** Routes without hosts (path prefix only), longest prefix first. */
  readonly anyHost: readonly PrefixRoute<T>[];
  /** OpenAI `model` field value → target. */
  readonly openai: ReadonlyMap<string, T>;
  /** OpenAI model ids in configuration order, for `GET /v1/models` and error messages. */
  readonly openaiIds: readonly string[];
  /** KServe model name → target, per protocol (any host). */
  readonly kserve: { readonly v1: ReadonlyMap<string, T>; readonly v2: ReadonlyMap<string, T> };
}

/** OpenAI-style endpoints whose JSON body names the model. */
export const OPENAI_BODY_PATHS: ReadonlySet<string> = new Set([
  "/v1/chat/completions",
  "/v1/completions",
  "/v1/embeddings",
  "/v1/responses",
  "/v1/moderations",
  "/v1/rerank",
  "/v1/score",
]);

export const OPENAI_MODELS_PATH = "/v1/models";

const byLongestPrefix = <T>(a: PrefixRoute<T>, b: PrefixRoute<T>) => b.prefix.length - a.prefix.length;

export function buildRouteTable<T>(entries: readonly { keys: RouteKeys; target: T }[]): RouteTable<T> {
  const exact = new Map<string, PrefixRoute<T>[]>();
  const wildcards = new Map<string, PrefixRoute<T>[]>();
  const anyHost: PrefixRoute<T>[] = [];
  const openai = new Map<string, T>();
  const openaiIds: string[] = [];
  const kserve = { v1: new Map<string, T>(), v2: new Map<string, T>() };
  const add = (map: Map<string, PrefixRoute<T>[]>, key: string, route: PrefixRoute<T>) => {
    const list = map.get(key);
    if (list) list.push(route);
    else map.set(key, [route]);
  };
  for (const { keys, target } of entries) {
    for (const id of keys.openaiModels) {
      if (!openai.has(id)) openaiIds.push(id);
      openai.set(id, target);
    }
    for (const protocol of keys.kserve?.protocols ?? []) kserve[protocol].set(keys.kserve!.modelName, target);
    for (const { host, prefix } of hostPathRoutes(keys)) {
      const route = { prefix, target };
      if (host === undefined) anyHost.push(route);
      else if (host.startsWith("*.")) add(wildcards, host.slice(1), route);
      else add(exact, host, route);
    }
  }
  for (const list of exact.values()) list.sort(byLongestPrefix);
  anyHost.sort(byLongestPrefix);
  const wildcard = [...wildcards].map(([suffix, routes]) => ({ suffix, routes: routes.sort(byLongestPrefix) }));
  wildcard.sort((a, b) => b.suffix.length - a.suffix.length);
  return { exact, wildcard, anyHost, openai, openaiIds, kserve };
}

/** The host of a `Host` header: lowercased, port removed (`[::1]:80` → `[::1]`). */
export function hostOf(header: string | undefined): string {
  if (!header) return "";
  const end = header.charCodeAt(0) === 91 /* [ */ ? header.indexOf("]") + 1 : header.indexOf(":");
  return (end > 0 ? header.slice(0, end) : header).toLowerCase();
}

/** True when `url` (path + query) starts with `prefix` on a segment boundary. */
function prefixMatches(url: string, prefix: string): boolean {
  if (prefix.length === 1) return true; // "/"
  if (!url.startsWith(prefix)) return false;
  if (url.length === prefix.length) return true;
  const next = url.charCodeAt(prefix.length);
  return next === 47 /* / */ || next === 63 /* ? */;
}

function firstPrefixMatch<T>(routes: readonly PrefixRoute<T>[], url: string): T | undefined {
  for (let i = 0; i < routes.length; i++) {
    if (prefixMatches(url, routes[i]!.prefix)) return routes[i]!.target;
  }
  return undefined;
}

/**
 * Route by host and path: the exact host's routes first, then wildcard hosts from the most specific, then
 * routes without hosts; within each, the longest matching path prefix.
 */
export function matchHostPath<T>(table: RouteTable<T>, host: string, url: string): T | undefined {
  const exactRoutes = table.exact.get(host);
  if (exactRoutes) {
    const target = firstPrefixMatch(exactRoutes, url);
    if (target !== undefined) return target;
  }
  for (let i = 0; i < table.wildcard.length; i++) {
    const w = table.wildcard[i]!;
    if (host.length > w.suffix.length && host.endsWith(w.suffix)) {
      const target = firstPrefixMatch(w.routes, url);
      if (target !== undefined) return target;
    }
  }
  return firstPrefixMatch(table.anyHost, url);
}

const V1_MODELS = "/v1/models/";
const V2_MODELS = "/v2/models/";
const V1_VERBS: ReadonlySet<string> = new Set(["predict", "explain"]);

/**
 * Route by KServe REST path, on any host (see `kservePaths`): `/v1/models/<name>`, `/v1/models/<name>:predict` and
 * `:explain` to the model whose KServe name is `<name>` with protocol v1; `/v2/models/<name>` and anything below it
 * to the model with that name and protocol v2. The method is not checked (the model server answers a wrong one).
 */
export function matchKServePath<T>(table: RouteTable<T>, url: string): T | undefined {
  const path = pathOf(url);
  if (path.startsWith(V2_MODELS)) {
    if (table.kserve.v2.size === 0) return undefined;
    const end = path.indexOf("/", V2_MODELS.length);
    return table.kserve.v2.get(path.slice(V2_MODELS.length, end === -1 ? undefined : end));
  }
  if (path.startsWith(V1_MODELS)) {
    if (table.kserve.v1.size === 0) return undefined;
    const rest = path.slice(V1_MODELS.length);
    if (rest.includes("/")) return undefined;
    const colon = rest.indexOf(":");
    if (colon !== -1 && !V1_VERBS.has(rest.slice(colon + 1))) return undefined;
    return table.kserve.v1.get(colon === -1 ? rest : rest.slice(0, colon));
  }
  return undefined;
}

/** The path of `url` without its query string. */
export function pathOf(url: string): string {
  const q = url.indexOf("?");
  return q === -1 ? url : url.slice(0, q);
}
