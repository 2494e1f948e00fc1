/** The activator config schema (shared with the Pulumi components): defaults, and errors naming the key. */
import { strict as assert } from "node:assert";
import { ConfigError, parseConfigText } from "../../../activator/src/config/load";
import { modelKey, parseActivatorConfig, serviceNameOf, type ActivatorConfig } from "../../../activator/src/config/schema";

const base = { name: "a", namespace: "ns", backend: "http://a-predictor.ns.svc.cluster.local", readinessPath: "/health", hosts: ["a.test"] };
const withModels = (...models: Record<string, unknown>[]) => ({ models });

function valid(input: unknown): ActivatorConfig {
  const result = parseActivatorConfig(input);
  if (!result.ok) assert.fail(`expected valid, got:\n${result.errors.join("\n")}`);
  return result.config;
}

describe("activator config schema", () => {
  it("fills every default", () => {
    const config = valid(withModels(base));
    assert.deepEqual(config.listeners, {
      proxy: { host: "0.0.0.0", port: 8080 },
      scaler: { host: "0.0.0.0", port: 9090 },
      admin: { host: "0.0.0.0", port: 9091 },
    });
    assert.deepEqual(config.limits, {
      maxPendingTotal: 10_000,
      maxBodyBytes: 10 * 1024 * 1024,
      maxBufferedBodyBytes: 128 * 1024 * 1024,
      headersTimeoutSeconds: 30,
      requestTimeoutSeconds: 360,
    });
    assert.equal(config.readiness.mode, "kubernetes");
    assert.equal(config.activation.heartbeatSeconds, 5);
    assert.equal(config.shutdownGraceSeconds, 30);
    assert.equal(config.logLevel, "info");
    assert.deepEqual(config.models[0], {
      ...base,
      openaiModels: [],
      maxPending: 1000,
      coldStartTimeoutSeconds: 300,
      requestTimeoutSeconds: 300,
      targetConcurrency: 10,
      upstreamKeepAliveSeconds: 4,
      replicaChoice: { policy: "prefix-affine", prefixBytes: 1024, boundFactor: 1.25 },
      failFast: { enabled: true, unschedulableGraceSeconds: 900 },
    });
    assert.equal(config.peers, undefined, "a single replica unless peers are configured");
    assert.deepEqual(config.engineMetrics, { intervalSeconds: 2, timeoutSeconds: 1 });
  });

  it("fills peer and vLLM defaults", () => {
    const config = valid({ ...withModels({ ...base, vllm: {} }), peers: { kubernetes: { namespace: "act", service: "activator-pods" } } });
    assert.deepEqual(config.peers, { kubernetes: { namespace: "act", service: "activator-pods", port: 9091 }, heartbeatSeconds: 1, ttlSeconds: 3 });
    assert.deepEqual(config.models[0]!.vllm, { waitingRequestsPerReplica: 5, kvCacheUsage: 0.8, metricsPath: "/metrics" });
  });

  it("derives the client request timeout from the longest cold start unless set", () => {
    const cases: [models: Record<string, unknown>[], limits: Record<string, unknown>, expected: number][] = [
      [[base], {}, 360],
      [[{ ...base, coldStartTimeoutSeconds: 900 }], {}, 960],
      [[{ ...base, coldStartTimeoutSeconds: 10 }], {}, 300],
      [[{ ...base, coldStartTimeoutSeconds: 10 }], { requestTimeoutSeconds: 40 }, 40],
      [[], {}, 300],
    ];
    for (const [models, limits, expected] of cases) {
      assert.equal(valid({ models, limits }).limits.requestTimeoutSeconds, expected, JSON.stringify({ models, limits }));
    }
  });

  it("accepts the same host on different path prefixes, and lowercases hosts", () => {
    const config = valid(
      withModels(
        { ...base, hosts: ["API.Example.com"] },
        { ...base, name: "b", hosts: ["api.example.com"], pathPrefix: "/b" },
        { ...base, name: "c", hosts: [], pathPrefix: "/b" },
        { ...base, name: "d", hosts: ["*.example.com"], openaiModels: ["d-1"] },
        { ...base, namespace: "other", hosts: [], openaiModels: ["a-1"] },
      ),
    );
    assert.deepEqual(config.models[0]!.hosts, ["api.example.com"]);
  });

  it("leaves authentication off unless auth.apiKeysFile is set", () => {
    assert.equal(valid(withModels(base)).auth, undefined);
    assert.deepEqual(valid({ ...withModels(base), auth: { apiKeysFile: " /etc/activator-api-keys/digests " } }).auth, {
      apiKeysFile: "/etc/activator-api-keys/digests",
    });
  });

  const errorCases: [what: string, input: unknown, expected: string[]][] = [
    ["missing models", {}, ["models: required"]],
    ["missing name", withModels({ ...base, name: undefined }), ["models[0].name: required"]],
    ["name not DNS-1123", withModels({ ...base, name: "Bad_Name" }), ["models[0].name: must be a DNS-1123 label (lowercase letters, digits and '-', at most 63)"]],
    ["backend not a URL", withModels({ ...base, backend: "nope" }), ['models[0].backend: not a URL: "nope"']],
    ["backend scheme", withModels({ ...base, backend: "ftp://x" }), ['models[0].backend: must be http:// or https://, got "ftp:"']],
    [
      "backend with a path",
      withModels({ ...base, backend: "http://x/v1" }),
      ["models[0].backend: must be an origin only (scheme://host[:port]), without path, query or credentials"],
    ],
    ["host with port", withModels({ ...base, hosts: ["a.test:80"] }), ["models[0].hosts[0]: must be a host name or *.domain, without a port"]],
    ["bad path prefix", withModels({ ...base, pathPrefix: "/a/" }), ["models[0].pathPrefix: must start with / and have no trailing /, ? or #"]],
    ["readiness path", withModels({ ...base, readinessPath: "health" }), ["models[0].readinessPath: must start with /"]],
    ["zero maxPending", withModels({ ...base, maxPending: 0 }), ["models[0].maxPending: Too small: expected number to be >0"]],
    ["unknown top-level key", { ...withModels(base), modles: [] }, ["modles: unknown key"]],
    ["unknown nested key", { ...withModels(base), listeners: { proxy: { prot: 1 } } }, ["listeners.proxy.prot: unknown key"]],
    ["unknown model key", withModels({ ...base, maxPendng: 3 }), ["models[0].maxPendng: unknown key"]],
    ["readiness mode", { ...withModels(base), readiness: { mode: "magic" } }, ['readiness.mode: Invalid option: expected one of "kubernetes"|"probe"']],
    ["duplicate model", withModels(base, { ...base, hosts: ["b.test"] }), ['models[1].name: duplicate model "ns/a" (also models[0])']],
    [
      "duplicate OpenAI model",
      withModels({ ...base, openaiModels: ["x"] }, { ...base, name: "b", hosts: [], openaiModels: ["x"] }),
      ['models[1].openaiModels[0]: OpenAI model "x" is already routed to models[0]'],
    ],
    [
      "duplicate host route",
      withModels(base, { ...base, name: "b", hosts: ["c.test", "a.test"] }),
      ['models[1].hosts[1]: host "a.test" with path prefix "/" is already routed to models[0]'],
    ],
    [
      "duplicate path prefix",
      withModels({ ...base, hosts: [], pathPrefix: "/p" }, { ...base, name: "b", hosts: [], pathPrefix: "/p" }),
      ['models[1].pathPrefix: any host with path prefix "/p" is already routed to models[0]'],
    ],
    ["no routing key", withModels({ ...base, hosts: [] }), ["models[0]: no routing key: set hosts, pathPrefix, openaiModels or kserve"]],
    [
      "a body budget smaller than one body",
      { ...withModels(base), limits: { maxBodyBytes: 2048, maxBufferedBodyBytes: 1024 } },
      ["limits.maxBufferedBodyBytes: must be at least limits.maxBodyBytes (2048), or no body of the largest size can be routed"],
    ],
    ["zero upstream keep-alive", withModels({ ...base, upstreamKeepAliveSeconds: 0 }), ["models[0].upstreamKeepAliveSeconds: Too small: expected number to be >0"]],
    [
      "port used twice",
      { ...withModels(base), listeners: { proxy: { port: 9000 }, admin: { port: 9000 } } },
      ["listeners.admin.port: port 9000 is already used by listeners.proxy"],
    ],
    [
      "request timeout shorter than a cold start",
      { ...withModels(base), limits: { requestTimeoutSeconds: 100 } },
      ["models[0].coldStartTimeoutSeconds: must be below limits.requestTimeoutSeconds (100), which also bounds holding"],
    ],
    ["peers without a source", { ...withModels(base), peers: {} }, ["peers: set exactly one of static or kubernetes"]],
    ["peers with both sources", { ...withModels(base), peers: { static: ["a:1"], kubernetes: { namespace: "a", service: "b" } } }, ["peers: set exactly one of static or kubernetes"]],
    ["peer without a port", { ...withModels(base), peers: { static: ["10.0.0.1"] } }, ["peers.static[0]: must be host:port"]],
    ["peer TTL within two heartbeats", { ...withModels(base), peers: { static: ["a:1"], heartbeatSeconds: 1, ttlSeconds: 2 } }, ["peers: ttlSeconds must exceed twice heartbeatSeconds (one lost message must not drop a peer)"]],
    ["KV-cache target over 1", withModels({ ...base, vllm: { kvCacheUsage: 80 } }), ["models[0].vllm.kvCacheUsage: Too big: expected number to be <=1"]],
    ["auth without its keys file", { ...withModels(base), auth: {} }, ["auth.apiKeysFile: required"]],
    ["auth with an empty keys file path", { ...withModels(base), auth: { apiKeysFile: " " } }, ["auth.apiKeysFile: must name the file of API key digests"]],
    ["auth with keys inline", { ...withModels(base), auth: { apiKeysFile: "/k", keys: ["secret"] } }, ["auth.keys: unknown key"]],
    ["auth as a bare path", { ...withModels(base), auth: "/k" }, ["auth: Invalid input: expected object, received string"]],
    [
      "headers timeout over request timeout",
      { ...withModels({ ...base, coldStartTimeoutSeconds: 5 }), limits: { requestTimeoutSeconds: 10, headersTimeoutSeconds: 20 } },
      ["limits.headersTimeoutSeconds: must not exceed limits.requestTimeoutSeconds (10)"],
    ],
  ];
  for (const [what, input, expected] of errorCases) {
    it(`refuses ${what}, naming the key`, () => {
      const result = parseActivatorConfig(input);
      assert.equal(result.ok, false);
      if (!result.ok) assert.deepEqual(result.errors, expected);
    });
  }

  it("names models and their Services", () => {
    assert.equal(modelKey(base), "ns/a");
    assert.equal(serviceNameOf(base), "a-predictor");
    assert.equal(serviceNameOf({ ...base, serviceName: "custom" }), "custom");
  });
});

describe("activator config file parsing", () => {
  it("reads YAML and JSON alike", () => {
    const yaml = parseConfigText("c.yaml", "models:\n  - name: a\n    namespace: ns\n    backend: http://a.ns\n    readinessPath: /h\n    hosts: [a.test]\n");
    const json = parseConfigText("c.json", JSON.stringify(withModels({ ...base, backend: "http://a.ns", readinessPath: "/h" })));
    assert.deepEqual(yaml, json);
  });

  it("reports syntax errors and schema errors as ConfigError lines", () => {
    const cases: [file: string, text: string, expected: RegExp][] = [
      ["c.yaml", "models: [", /^not valid YAML: /],
      ["c.json", "{", /^not valid JSON: /],
      ["c.yaml", "", /^models: required$/],
      ["c.yaml", "models: []\nlogLevel: loud", /^logLevel: Invalid option/],
    ];
    for (const [file, text, expected] of cases) {
      assert.throws(
        () => parseConfigText(file, text),
        (err: unknown) => err instanceof ConfigError && err.errors.length === 1 && expected.test(err.errors[0]!),
        `${file}: ${text}`,
      );
    }
  });
});
