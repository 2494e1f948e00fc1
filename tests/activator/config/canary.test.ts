/** The activator config's `models[].canary`: defaults, the canary's own model config, and one-line errors naming the key. */
import { strict as assert } from "node:assert";
import { canaryKey, canaryModelConfig, parseActivatorConfig, type ActivatorConfig } from "../../../activator/src/config/schema";

const base = { name: "a", namespace: "ns", backend: "http://a-predictor.ns.svc.cluster.local", readinessPath: "/health", hosts: ["a.test"] };
const canary = { backend: "http://a-canary-predictor.ns.svc.cluster.local", trafficPercent: 10 };
const auth = { auth: { apiKeysFile: "keys/digests" } };

function valid(input: unknown): ActivatorConfig {
  const result = parseActivatorConfig(input);
  if (!result.ok) assert.fail(`expected valid, got:\n${result.errors.join("\n")}`);
  return result.config;
}
function errors(input: unknown): string[] {
  const result = parseActivatorConfig(input);
  assert.equal(result.ok, false, "expected errors");
  return (result as { errors: string[] }).errors;
}

describe("activator config: canary", () => {
  it("fills defaults: sticky by API key digest, strict cold policy", () => {
    const config = valid({ ...auth, models: [{ ...base, canary }] });
    assert.deepEqual(config.models[0]!.canary, { ...canary, stickiness: { by: "api-key", header: "x-session-id" }, coldPolicy: "strict" });
  });

  it("the canary's own model config: key <ns>/<name>-canary, its Service, no routes, the model's limits", () => {
    const model = valid({ ...auth, models: [{ ...base, targetConcurrency: 4, canary }] }).models[0]!;
    const own = canaryModelConfig(model);
    assert.equal(canaryKey(model), "ns/a-canary");
    assert.equal(own.name, "a-canary");
    assert.equal(own.backend, canary.backend);
    assert.deepEqual([own.hosts, own.openaiModels, own.pathPrefix], [[], [], undefined]);
    assert.equal(own.targetConcurrency, 4);
  });

  it("lowercases the session header name", () => {
    const config = valid({ models: [{ ...base, canary: { ...canary, stickiness: { by: "header", header: "X-Session" } } }] });
    assert.equal(config.models[0]!.canary!.stickiness.header, "x-session");
  });

  const cases: Array<[string, unknown, string]> = [
    ["trafficPercent above 100", { models: [{ ...base, canary: { ...canary, trafficPercent: 101 } }] }, "models[0].canary.trafficPercent: must be between 0 and 100"],
    ["trafficPercent missing", { models: [{ ...base, canary: { backend: canary.backend, stickiness: { by: "none" } } }] }, "models[0].canary.trafficPercent: required"],
    ["api-key stickiness without auth", { models: [{ ...base, canary }] }, "models[0].canary.stickiness.by: api-key needs auth.apiKeysFile; use header or none"],
    ["a bad header name", { models: [{ ...base, canary: { ...canary, stickiness: { by: "header", header: "x session" } } }] }, "models[0].canary.stickiness.header: must be an HTTP header name such as x-session-id"],
    ["an unknown cold policy", { ...auth, models: [{ ...base, canary: { ...canary, coldPolicy: "eager" } }] }, 'models[0].canary.coldPolicy: Invalid option: expected one of "strict"|"stable-first"'],
    ["the model's own backend", { ...auth, models: [{ ...base, canary: { ...canary, backend: base.backend } }] }, "models[0].canary.backend: must differ from the model's backend (the canary is its own Service)"],
    ["an unknown key", { ...auth, models: [{ ...base, canary: { ...canary, weight: 3 } }] }, "models[0].canary.weight: unknown key"],
    ["a name too long for -canary", { ...auth, models: [{ ...base, name: "x".repeat(60), canary }] }, `models[0].name: with a canary, at most 56 characters ("${"x".repeat(60)}-canary" must be a DNS-1123 label)`],
    [
      "a canary key taken by another model",
      { ...auth, models: [{ ...base, canary }, { ...base, name: "a-canary", hosts: ["b.test"] }] },
      'models[0].canary: its model key "ns/a-canary" is already models[1]',
    ],
  ];
  for (const [what, input, message] of cases) {
    it(`refuses ${what} in one line naming the key`, () => {
      assert.ok(errors(input).includes(message), `${message}\nnot in:\n${errors(input).join("\n")}`);
    });
  }
});
