/**
 * The activator's configuration: one zod schema, shared with the Pulumi components that generate the ConfigMap
 * (they import this file from the repository root), so whatever they generate is provably accepted here.
 * Pure: no Node runtime imports, no side effects.
 */
import { z } from "zod";
import { routeConflicts } from "../routing/conflicts";
import { KSERVE_PROTOCOLS } from "../routing/table";
import { batchConfigSchema } from "./batch";
import { DEFAULT_BOUND_FACTOR } from "../routing/endpointPicker";
import { DEFAULT_PREFIX_BYTES } from "../routing/prefixKey";
import { queueReadsSchema, queueScalingSchema } from "../queue/config";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
const PATH_PREFIX = /^\/([^?#\s]*[^/?#\s])?$/;
/** A KServe model name as it appears in a URL path segment: no `/`, `:`, `?`, `#`, `%` or space. */
const KSERVE_MODEL_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

const dnsLabel = z.string().regex(DNS_LABEL, "must be a DNS-1123 label (lowercase letters, digits and '-', at most 63)");

/** An exact host name or a wildcard `*.example.com` (matching any name ending in `.example.com`). */
const hostPattern = z
  .string()
  .trim()
  .toLowerCase()
  .refine((h) => DNS_NAME.test(h.startsWith("*.") ? h.slice(2) : h), "must be a host name or *.domain, without a port");

/** Base URL of a model's Service: http(s), an origin only (no path, query or credentials). */
const backendUrl = z.string().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: "custom", message: `not a URL: "${value}"` });
    return;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    ctx.addIssue({ code: "custom", message: `must be http:// or https://, got "${url.protocol}"` });
  } else if (url.pathname !== "/" || url.search || url.hash || url.username || url.password) {
    ctx.addIssue({ code: "custom", message: "must be an origin only (scheme://host[:port]), without path, query or credentials" });
  }
});

const seconds = z.number().positive();

function listener(port: number) {
  return z
    .strictObject({
      /** Address to bind. */
      host: z.string().min(1).default("0.0.0.0"),
      /** TCP port; 0 picks a free port (the bound port is logged at start). */
      port: z.int().min(0).max(65535).default(port),
    })
    .prefault({});
}

/** An HTTP header name (RFC 9110 token), lowercased. */
const headerName = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be an HTTP header name such as x-session-id")
  .transform((h) => h.toLowerCase());

/**
 * A model's canary: a second version served by its own InferenceService `<name>-canary` (its own Service, readiness,
 * ScaledObject and scale to zero; docs/canary.md says why not KServe's `canaryTrafficPercent`). It is not routed to
 * itself: requests routed to the model draw their version first (../holding/canary.ts), then only that version is
 * held and woken. Its model key, metric `model` label and KEDA trigger `model` are `<namespace>/<name>-canary`.
 */
export const canarySchema = z.strictObject({
  /** Base URL of the canary's Service, e.g. `http://iris-canary-predictor.models.svc.cluster.local`. */
  backend: backendUrl,
  /** Service whose EndpointSlices readiness watches; default: first DNS label of `backend`. */
  serviceName: dnsLabel.optional(),
  /** Share of the model's requests drawn for the canary, percent (0–100, fractions allowed). */
  trafficPercent: z.number().min(0, "must be between 0 and 100").max(100, "must be between 0 and 100"),
  /**
   * What keeps a client on one version (its conversation and prefix cache stay there): `api-key` (the SHA-256
   * digest of its API key; needs `auth`), `header` (the value of `header`), `none` (every request drawn at random).
   * A request without the key is drawn at random. Default `api-key`.
   */
  stickiness: z
    .strictObject({
      by: z.enum(["api-key", "header", "none"]).default("api-key"),
      /** Header naming the session when `by` is `header`. Default `x-session-id`. */
      header: headerName.default("x-session-id"),
    })
    .prefault({}),
  /**
   * A request drawn for a canary with no ready replica: `strict` holds it for the canary (the split stays honest);
   * `stable-first` sends it to the stable when the stable has a ready replica (counted, and the canary is still
   * woken). Default `strict`.
   */
  coldPolicy: z.enum(["strict", "stable-first"]).default("strict"),
});

export const modelSchema = z.strictObject({
  /** Model name, a DNS-1123 label; with `namespace` it forms the model key `<namespace>/<name>`. */
  name: dnsLabel,
  /** Kubernetes namespace of the model. */
  namespace: dnsLabel,
  /** Base URL of the model's Service, e.g. `http://iris-predictor.models.svc.cluster.local`. */
  backend: backendUrl,
  /** Service whose EndpointSlices readiness watches (mode `kubernetes`); default: first DNS label of the backend host. */
  serviceName: dnsLabel.optional(),
  /** Path probed on the backend (mode `probe`), e.g. `/health` or `/v2/health/ready`. */
  readinessPath: z.string().startsWith("/", "must start with /"),
  /** Host names routed to this model: exact names or `*.domain` wildcards; an exact name beats a wildcard. */
  hosts: z.array(hostPattern).default([]),
  /** Path prefix routed to this model (whole segments; the longest prefix wins). Forwarded unchanged. */
  pathPrefix: z.string().regex(PATH_PREFIX, "must start with / and have no trailing /, ? or #").optional(),
  /** Values of the OpenAI `model` field routed to this model, listed by `GET /v1/models`. */
  openaiModels: z.array(z.string().min(1)).default([]),
  /**
   * A KServe model server (sklearn, xgboost, Triton, ...): its model name (`--model_name`, the InferenceService's
   * name) and the protocols it answers (default both). Routes, on any host, after host and path routes: v1
   * `/v1/models/<modelName>` and `/v1/models/<modelName>:predict` / `:explain`; v2 `/v2/models/<modelName>` and below
   * (`/infer`, `/ready`, `/versions/<v>/...`). Upstream: KServe v0.20.0 python/kserve/kserve/protocol/rest/v1_endpoints.py, v2_endpoints.py.
   */
  kserve: z
    .strictObject({
      modelName: z.string().regex(KSERVE_MODEL_NAME, "must be letters, digits, '.', '_' or '-' (a path segment, no ':' or '/')"),
      protocols: z.array(z.enum(KSERVE_PROTOCOLS)).min(1).default([...KSERVE_PROTOCOLS]),
    })
    .optional(),
  /** Requests held for this model at most; more get 503 with Retry-After. */
  maxPending: z.int().positive().default(1000),
  /** How long a held request waits for a ready replica before 504. */
  coldStartTimeoutSeconds: seconds.default(300),
  /** How long the backend may take to send response headers, and at most between two body chunks, before 504/abort. */
  requestTimeoutSeconds: seconds.default(300),
  /** Concurrent requests one replica should get: the KEDA metric target (GetMetricSpec). */
  targetConcurrency: z.int().positive().default(10),
  /** Optional cap on requests in flight per ready replica; held requests are released as slots free. Off when unset. */
  maxConcurrencyPerReplica: z.int().positive().optional(),
  /**
   * How long an idle pooled connection to the backend is kept. Must stay below the model server's own keep-alive
   * timeout (uvicorn's default, used by vLLM and KServe's Python servers, is 5 s), or a connection the server is
   * closing gets reused. Default 4.
   */
  upstreamKeepAliveSeconds: seconds.max(3600).default(4),
  /**
   * A vLLM model server: its own gauges (`vllm:num_requests_waiting`, `vllm:kv_cache_usage_perc`), read from every
   * ready replica's `metricsPath`, become two more KEDA metrics next to demand. Off when unset.
   */
  vllm: z
    .strictObject({
      /** Requests waiting in vLLM's queue per replica before KEDA adds one (AverageValue target). */
      waitingRequestsPerReplica: z.number().positive().default(5),
      /** Mean KV-cache usage (0..1] across replicas before KEDA adds one (AverageValue target). */
      kvCacheUsage: z.number().gt(0).max(1).default(0.8),
      /** Path of the Prometheus text on each replica (same port as the backend). */
      metricsPath: z.string().startsWith("/", "must start with /").default("/metrics"),
      /**
       * Sequences one replica's engine runs at once (vLLM's `--max-num-seqs`): replica choice counts a replica with
       * this many outstanding requests as full (../routing/engineEstimate). Unset: not known (a replica counts as full
       * only while its gauges show requests waiting). The stack writes the model's `--max-num-seqs` or vLLM's default.
       */
      maxNumSeqs: z.int().positive().optional(),
    })
    .optional(),
  /**
   * Which ready replica gets a request (`../routing/endpointPicker.ts`). Readiness mode `kubernetes` only: the
   * ready endpoints of the Service's EndpointSlices are addressed directly; with none listed, or in mode `probe`,
   * requests go to `backend` (the Service address, where kube-proxy picks a pod at random).
   * - `prefix-affine` (default): an LLM request (`/v1/chat/completions`, `/v1/completions` routed by its `model`
   *   field) goes to the endpoint its prompt's leading `prefixBytes` hash to, walking the ring past any endpoint that
   *   would exceed `boundFactor` × the average load (consistent hashing with bounded loads); other requests as
   *   `least-loaded`.
   * - `least-loaded`: the endpoint with the fewest outstanding requests (this replica's in-flight count; for `vllm`
   *   models, the engine's last gauge reading brought forward with this replica's sends since, ../routing/engineEstimate).
   * - `service`: always `backend`.
   */
  replicaChoice: z
    .strictObject({
      policy: z.enum(["prefix-affine", "least-loaded", "service"]).default("prefix-affine"),
      /** Bytes of the canonicalised prompt hashed (system prompt + first user turn, cut). Default 1024 (DEFAULT_PREFIX_BYTES). */
      prefixBytes: z.int().min(16).max(65_536).default(DEFAULT_PREFIX_BYTES),
      /** `c` of the bounded-load rule (≥ 1): an endpoint takes at most c × the average load. Default 1.25 (DEFAULT_BOUND_FACTOR, KubeAI's). */
      boundFactor: z.number().min(1).max(10).default(DEFAULT_BOUND_FACTOR),
    })
    .prefault({}),
  /**
   * Readiness mode `kubernetes` only: fail held and new requests at once (503 `model_cannot_start`) when the model
   * cannot start. `unschedulableGraceSeconds`: a replica unschedulable this long fails even without cluster-autoscaler
   * saying so (covers a normal GPU node boot).
   */
  failFast: z
    .strictObject({
      enabled: z.boolean().default(true),
      unschedulableGraceSeconds: seconds.default(900),
    })
    .prefault({}),
  /** A second version taking `trafficPercent` of the requests (docs/canary.md). Off when unset. */
  canary: canarySchema.optional(),
  /** SQS queues whose backlog is demand for this model (../queue/config.ts); off when unset. */
  queueScaling: queueScalingSchema.optional(),
});

/** The fields of `limits` (the Pulumi stack exposes some of them as they are). */
export const limitFields = {
  /** Requests held across all models at most; more get 503. */
  maxPendingTotal: z.int().positive().default(10_000),
  /** Largest request body accepted; larger gets 413. */
  maxBodyBytes: z.int().positive().default(10 * 1024 * 1024),
  /**
   * Bytes of request bodies held in memory at once, across all requests: bodies read to route by the OpenAI
   * `model` field (kept while held), and their decoded form while it is parsed. Beyond it, 503
   * `body_buffer_full` with Retry-After. Default 128 MiB.
   */
  maxBufferedBodyBytes: z.int().positive().default(128 * 1024 * 1024),
  /** Time a client has to send the request headers. */
  headersTimeoutSeconds: seconds.default(30),
  /**
   * Time a client has to send its whole request. A held request whose body is not yet read counts its
   * hold against this, so it must exceed every coldStartTimeoutSeconds; default max(300, longest + 60).
   */
  requestTimeoutSeconds: seconds.optional(),
};

export const activatorConfigSchema = z
  .strictObject({
    listeners: z
      .strictObject({
        /** HTTP proxy listener (client traffic). */
        proxy: listener(8080),
        /** KEDA external scaler gRPC listener. */
        scaler: listener(9090),
        /** Admin HTTP listener: /healthz, /readyz, /metrics, /queue. */
        admin: listener(9091),
      })
      .prefault({}),
    limits: z.strictObject(limitFields).prefault({}),
    readiness: z
      .strictObject({
        /** `kubernetes`: watch the model Service's EndpointSlices; `probe`: poll backend + readinessPath. */
        mode: z.enum(["kubernetes", "probe"]).default("kubernetes"),
      })
      .prefault({}),
    activation: z
      .strictObject({
        /** While a model has held or in-flight requests, StreamIsActive repeats `true` this often. */
        heartbeatSeconds: seconds.default(5),
      })
      .prefault({}),
    /**
     * The other activator replicas, which share their demand so that whichever replica KEDA talks to answers for the
     * whole cluster. Off when absent (a single replica). `static`: their admin `host:port`s (this replica's own
     * address may be listed; it is recognised and skipped); `kubernetes`: the ready and terminating endpoints of a
     * (headless) Service's EndpointSlices. A peer not heard from for `ttlSeconds` stops counting.
     */
    peers: z
      .strictObject({
        static: z.array(z.string().regex(/^[^\s/:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, "must be host:port")).optional(),
        kubernetes: z
          .strictObject({
            namespace: dnsLabel,
            /** Service whose EndpointSlices list the replicas. */
            service: dnsLabel,
            /** Admin port of the replicas. */
            port: z.int().min(1).max(65535).default(9091),
          })
          .optional(),
        /** How often a replica sends its demand to every peer even when nothing changed. */
        heartbeatSeconds: seconds.default(1),
        /** A peer whose last message is older than this is dropped: its demand stops counting. */
        ttlSeconds: seconds.default(3),
        /**
         * File holding a shared secret (a mounted Secret; relative to the config file's folder): peers send it as
         * `Authorization: Bearer <token>` and refuse messages without it. Without it any client of the admin port
         * could report demand.
         */
        tokenFile: z.string().trim().min(1, "must name the file holding the peers' shared token").optional(),
      })
      .refine((p) => (p.static !== undefined) !== (p.kubernetes !== undefined), "set exactly one of static or kubernetes")
      .refine((p) => p.ttlSeconds > p.heartbeatSeconds * 2, "ttlSeconds must exceed twice heartbeatSeconds (one lost message must not drop a peer)")
      .optional(),
    /** vLLM gauges (models with `vllm`): read every ready replica this often while the model is up. */
    engineMetrics: z
      .strictObject({
        intervalSeconds: seconds.default(2),
        /** Per scrape of one replica. */
        timeoutSeconds: seconds.default(1),
      })
      .prefault({}),
    /** How queue depths (models with `queueScaling`) are read (../queue/config.ts). */
    queueReads: queueReadsSchema,
    /**
     * API-key authentication of the proxy listener; off when absent. `apiKeysFile` lists the SHA-256 hex digests of
     * the accepted keys, one per line (see `./apiKeys.ts`); a relative path is taken from the config file's folder.
     */
    auth: z
      .strictObject({
        /** File of SHA-256 hex digests of the accepted keys (a mounted Secret); re-read when it changes. */
        apiKeysFile: z.string().trim().min(1, "must name the file of API key digests"),
      })
      .optional(),
    /**
     * CORS for browser apps (../proxy/cors.ts): origins allowed (`https://app.example.org`, or `*`), preflights
     * answered before authentication and routing. Default `*`, as vLLM's and OpenAI's own APIs; `[]`: off (the
     * stack writes `[]` unless its config lists origins).
     */
    cors: z
      .strictObject({
        allowedOrigins: z.array(z.union([z.literal("*"), z.url({ protocol: /^https?$/ }).refine((o) => new URL(o).origin === o, "an origin is scheme://host[:port], no path")])).default(["*"]),
        /** How long browsers may cache a preflight answer (Access-Control-Max-Age), seconds. */
        maxAgeSeconds: z.int().min(0).max(86_400).default(600),
      })
      .prefault({}),
    /** The OpenAI Batch API (`/v1/files`, `/v1/batches`), files and results in S3, chunks on SQS (./batch.ts); off when absent. */
    batch: batchConfigSchema.optional(),
    /** On SIGTERM, held and in-flight requests get this long to finish before the process exits. */
    shutdownGraceSeconds: z.number().min(0).default(30),
    /** pino log level. */
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
    /** The models behind the activator. */
    models: z.array(modelSchema),
  })
  .superRefine(crossCheck)
  .transform((config) => {
    const longestColdStart = Math.max(0, ...config.models.map((m) => m.coldStartTimeoutSeconds));
    const requestTimeoutSeconds = config.limits.requestTimeoutSeconds ?? Math.max(300, longestColdStart + 60);
    return { ...config, limits: { ...config.limits, requestTimeoutSeconds } };
  });

/** Validated configuration with every default filled in. */
export type ActivatorConfig = z.output<typeof activatorConfigSchema>;
/** What a configuration file may contain (defaults optional): what the Pulumi components generate. */
export type ActivatorConfigInput = z.input<typeof activatorConfigSchema>;
export type ModelConfig = ActivatorConfig["models"][number];

/** `<namespace>/<name>`: how KEDA (trigger metadata `model`), metrics and logs name a model. */
export function modelKey(model: { namespace: string; name: string }): string {
  return `${model.namespace}/${model.name}`;
}

/** The Kubernetes Service readiness watches: `serviceName`, or the first DNS label of the backend host. */
export function serviceNameOf(model: { backend: string; serviceName?: string }): string {
  return model.serviceName ?? new URL(model.backend).hostname.split(".")[0]!;
}

type RawConfig = {
  auth?: unknown;
  listeners: Record<"proxy" | "scaler" | "admin", { host: string; port: number }>;
  limits: { headersTimeoutSeconds: number; requestTimeoutSeconds?: number | undefined; maxBodyBytes: number; maxBufferedBodyBytes: number };
  models: z.output<typeof modelSchema>[];
};

/** Checks across keys: unique models and routes, a routing key per model, coherent timeouts and ports. */
function crossCheck(config: RawConfig, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });
  const seenKeys = new Map<string, number>();
  config.models.forEach((model, i) => {
    const key = modelKey(model);
    const first = seenKeys.get(key);
    if (first !== undefined) issue(["models", i, "name"], `duplicate model "${key}" (also models[${first}])`);
    else seenKeys.set(key, i);

    if (model.hosts.length === 0 && model.pathPrefix === undefined && model.openaiModels.length === 0 && model.kserve === undefined) {
      issue(["models", i], "no routing key: set hosts, pathPrefix, openaiModels or kserve");
    }
    if (model.canary) checkCanary(model, i, config.auth !== undefined, issue);
    if (config.limits.requestTimeoutSeconds !== undefined && model.coldStartTimeoutSeconds >= config.limits.requestTimeoutSeconds) {
      issue(["models", i, "coldStartTimeoutSeconds"], `must be below limits.requestTimeoutSeconds (${config.limits.requestTimeoutSeconds}), which also bounds holding`);
    }
  });
  config.models.forEach((model, i) => {
    const other = model.canary ? seenKeys.get(canaryKey(model)) : undefined;
    if (other !== undefined) issue(["models", i, "canary"], `its model key "${canaryKey(model)}" is already models[${other}]`);
  });
  for (const c of routeConflicts(config.models)) issue(["models", c.model, c.key, ...(c.index === undefined ? [] : [c.index])], c.message);
  const { headersTimeoutSeconds, requestTimeoutSeconds, maxBodyBytes, maxBufferedBodyBytes } = config.limits;
  if (maxBufferedBodyBytes < maxBodyBytes) {
    issue(["limits", "maxBufferedBodyBytes"], `must be at least limits.maxBodyBytes (${maxBodyBytes}), or no body of the largest size can be routed`);
  }
  if (requestTimeoutSeconds !== undefined && headersTimeoutSeconds > requestTimeoutSeconds) {
    issue(["limits", "headersTimeoutSeconds"], `must not exceed limits.requestTimeoutSeconds (${requestTimeoutSeconds})`);
  }
  const ports = new Map<number, string>();
  for (const name of ["proxy", "scaler", "admin"] as const) {
    const { port } = config.listeners[name];
    if (port === 0) continue;
    const other = ports.get(port);
    if (other) issue(["listeners", name, "port"], `port ${port} is already used by listeners.${other}`);
    else ports.set(port, name);
  }
}

/** `<namespace>/<name>-canary`: the canary's model key (KEDA trigger `model`, metrics, logs, `/queue`). */
export function canaryKey(model: { namespace: string; name: string }): string {
  return `${model.namespace}/${canaryName(model.name)}`;
}

/** `<name>-canary`: the canary's InferenceService name. */
export function canaryName(name: string): string {
  return `${name}-canary`;
}

/** The canary's own model config: the model's, with the canary's name, Service and no routing keys of its own. */
export function canaryModelConfig(model: ModelConfig): ModelConfig {
  const { canary, ...rest } = model;
  if (!canary) throw new Error(`model ${modelKey(model)} has no canary`);
  return {
    ...rest,
    name: canaryName(model.name),
    backend: canary.backend,
    serviceName: canary.serviceName,
    hosts: [],
    pathPrefix: undefined,
    openaiModels: [],
  };
}

function checkCanary(model: z.output<typeof modelSchema>, i: number, auth: boolean, issue: (path: (string | number)[], message: string) => void): void {
  const canary = model.canary!;
  if (!DNS_LABEL.test(canaryName(model.name))) issue(["models", i, "name"], `with a canary, at most 56 characters ("${canaryName(model.name)}" must be a DNS-1123 label)`);
  if (canary.backend === model.backend) issue(["models", i, "canary", "backend"], "must differ from the model's backend (the canary is its own Service)");
  if (canary.stickiness.by === "api-key" && !auth) issue(["models", i, "canary", "stickiness", "by"], "api-key needs auth.apiKeysFile; use header or none");
}

/** `["models", 1, "backend"]` → `models[1].backend`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || "(root)";
}

export type ParseResult = { ok: true; config: ActivatorConfig } | { ok: false; errors: string[] };

/** Validates parsed YAML/JSON data; every error is `key.path: message`, unknown keys included. */
export function parseActivatorConfig(data: unknown): ParseResult {
  const result = activatorConfigSchema.safeParse(data, {
    error: (iss) => (iss.code === "invalid_type" && iss.input === undefined ? "required" : undefined),
  });
  if (result.success) return { ok: true, config: result.data };
  const errors: string[] = [];
  for (const iss of result.error.issues) {
    if (iss.code === "unrecognized_keys") {
      for (const key of iss.keys) errors.push(`${formatPath([...iss.path, key])}: unknown key`);
    } else {
      errors.push(`${formatPath(iss.path)}: ${iss.message}`);
    }
  }
  return { ok: false, errors };
}
