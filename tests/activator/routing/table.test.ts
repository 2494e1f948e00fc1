/** The routing table: host precedence, longest path prefix on segment boundaries, OpenAI ids. */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { buildRouteTable, hostOf, matchHostPath, pathOf, type RouteKeys } from "../../../activator/src/routing/table";

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
});
