/** The routing table: host precedence, longest path prefix on segment boundaries, OpenAI ids. */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { routeConflicts } from "../../../activator/src/routing/conflicts";
import { buildRouteTable, hostOf, kservePaths, matchHostPath, matchKServePath, pathOf, type RouteKeys } from "../../../activator/src/routing/table";

const route = (target: string, keys: Partial<RouteKeys>) => ({ keys: { hosts: [], openaiModels: [], ...keys }, target });

describe("activator routing table", () => {
  const table = buildRouteTable([
    route("exact", { hosts: ["api.example.com"] }),
    route("exact-v2", { hosts: ["api.example.com"], pathPrefix: "/v2" }),
    route("exact-v2-deep", { hosts: ["api.example.com"], pathPrefix: "/v2/models/iris" }),
    route("wild", { hosts: ["*.example.com"] }),
    route("wild-eu", { hosts: ["*.eu.example.com"] }),
    route("wild-docs", { hosts: ["*.example.com"], pathPrefix: "/docs" }),
    route("any-iris", { pathPrefix: "/iris" }),
    route("only-exact-prefix", { hosts: ["narrow.test"], pathPrefix: "/only" }),
    route("llm", { openaiModels: ["llm-a", "llm-b"] }),
    route("llm2", { openaiModels: ["llm-c"], hosts: ["llm.test"] }),
  ]);

  const cases: [host: string, url: string, expected: string | undefined][] = [
    ["api.example.com", "/", "exact"],
    ["api.example.com", "/v2", "exact-v2"],
    ["api.example.com", "/v2/", "exact-v2"],
    ["api.example.com", "/v2?x=1", "exact-v2"],
    ["api.example.com", "/v2x", "exact"],
    ["api.example.com", "/v2/models/iris/infer", "exact-v2-deep"],
    ["api.example.com", "/v2/models/irises", "exact-v2"],
    ["api.example.com", "/docs", "exact"],
    ["x.example.com", "/", "wild"],
    ["x.y.example.com", "/docs/a", "wild-docs"],
    ["a.eu.example.com", "/docs", "wild-eu"],
    ["example.com", "/", undefined],
    ["xexample.com", "/", undefined],
    ["other.test", "/iris", "any-iris"],
    ["other.test", "/iris/1", "any-iris"],
    ["other.test", "/irises", undefined],
    ["narrow.test", "/only/x", "only-exact-prefix"],
    ["narrow.test", "/iris", "any-iris"],
    ["narrow.test", "/", undefined],
    ["", "/iris", "any-iris"],
    ["llm.test", "/v1/chat/completions", "llm2"],
    ["other.test", "/v1/chat/completions", undefined],
  ];
  for (const [host, url, expected] of cases) {
    it(`${host || "(no host)"}${url} → ${expected ?? "no route"}`, () => {
      assert.equal(matchHostPath(table, host, url), expected);
    });
  }

  it("maps OpenAI model ids and lists them in configuration order", () => {
    assert.equal(table.openai.get("llm-b"), "llm");
    assert.equal(table.openai.get("llm-c"), "llm2");
    assert.equal(table.openai.get("nope"), undefined);
    assert.deepEqual(table.openaiIds, ["llm-a", "llm-b", "llm-c"]);
  });

  it("normalizes Host headers and strips query strings", () => {
    const hosts: [string | undefined, string][] = [
      ["api.example.com", "api.example.com"],
      ["API.Example.COM:8080", "api.example.com"],
      ["[::1]:8080", "[::1]"],
      ["[::1]", "[::1]"],
      ["", ""],
      [undefined, ""],
    ];
    for (const [header, expected] of hosts) assert.equal(hostOf(header), expected, String(header));
    assert.equal(pathOf("/a/b?c=d?e"), "/a/b");
    assert.equal(pathOf("/a"), "/a");
  });

  it("always picks the longest whole-segment prefix (property)", () => {
    const segment = fc.constantFrom("a", "b", "ab");
    const pathArb = fc.array(segment, { minLength: 0, maxLength: 4 }).map((s) => "/" + s.join("/"));
    fc.assert(
      fc.property(fc.uniqueArray(pathArb, { minLength: 1, maxLength: 6 }), pathArb, fc.boolean(), (prefixes, url, withQuery) => {
        const t = buildRouteTable(prefixes.map((p) => route(p, { pathPrefix: p })));
        const request = withQuery ? `${url}?q=${url}` : url;
        const segmentsOf = (p: string) => p.split("/").filter(Boolean);
        const urlSegments = segmentsOf(url);
        const matching = prefixes.filter((p) => segmentsOf(p).every((s, i) => urlSegments[i] === s));
        const longest = matching.sort((x, y) => segmentsOf(y).length - segmentsOf(x).length)[0];
        assert.equal(matchHostPath(t, "h", request), longest);
      }),
    );
  });

  describe("KServe REST paths (KServe v0.20.0 protocol/rest/v1_endpoints.py, v2_endpoints.py)", () => {
    const kt = buildRouteTable([
      route("iris", { kserve: { modelName: "iris", protocols: ["v1", "v2"] } }),
      route("resnet", { kserve: { modelName: "resnet", protocols: ["v2"] } }),
      route("v1only", { kserve: { modelName: "old_model.v1", protocols: ["v1"] } }),
    ]);
    const kcases: [url: string, expected: string | undefined][] = [
      ["/v1/models/iris:predict", "iris"],
      ["/v1/models/iris:explain", "iris"],
      ["/v1/models/iris", "iris"],
      ["/v1/models/iris?verbose=1", "iris"],
      ["/v1/models/iris:train", undefined],
      ["/v1/models/iris/extra", undefined],
      ["/v1/models/irises:predict", undefined],
      ["/v1/models/old_model.v1:predict", "v1only"],
      ["/v2/models/iris/infer", "iris"],
      ["/v2/models/iris", "iris"],
      ["/v2/models/iris/versions/3/infer", "iris"],
      ["/v2/models/iris/ready", "iris"],
      ["/v2/models/irises/infer", undefined],
      ["/v2/models/resnet/infer", "resnet"],
      ["/v1/models/resnet:predict", undefined],
      ["/v2/models/old_model.v1/infer", undefined],
      ["/v1/models", undefined],
      ["/v1/chat/completions", undefined],
      ["/iris", undefined],
    ];
    for (const [url, expected] of kcases) {
      it(`${url} → ${expected ?? "no route"}`, () => assert.equal(matchKServePath(kt, url), expected));
    }

    it("lists each protocol's paths for the 404's route list", () => {
      assert.deepEqual(kservePaths({ modelName: "iris", protocols: ["v1", "v2"] }), [
        "GET */v1/models/iris",
        "POST */v1/models/iris:predict",
        "POST */v1/models/iris:explain",
        "*/v2/models/iris",
      ]);
      assert.deepEqual(kservePaths({ modelName: "resnet", protocols: ["v2"] }), ["*/v2/models/resnet"]);
    });

    it("refuses a KServe name routed twice under one protocol, and a v1 name that is also an OpenAI model", () => {
      const keys = (k: Partial<RouteKeys>): RouteKeys => ({ hosts: [], openaiModels: [], ...k });
      const conflicts = routeConflicts([
        keys({ kserve: { modelName: "iris", protocols: ["v1", "v2"] } }),
        keys({ kserve: { modelName: "iris", protocols: ["v2"] } }),
        keys({ openaiModels: ["iris"] }),
        keys({ openaiModels: ["resnet"] }),
        keys({ kserve: { modelName: "resnet", protocols: ["v2"] } }),
      ]).map((c) => `${c.model} ${c.key} ${c.owner}: ${c.message}`);
      assert.deepEqual(conflicts, [
        '1 kserve 0: KServe model "iris" (protocol v2) is already routed to models[0]',
        '0 kserve 2: KServe v1 model "iris" is also an OpenAI model of models[2]: GET /v1/models/iris would answer for both',
      ]);
    });
  });
});
