/**
 * KServe's own REST paths through the real activator process: a sklearn-style model called the way KServe's examples
 * call it (`POST /v1/models/iris:predict`, KServe v0.20.0 python/kserve/kserve/protocol/rest/v1_endpoints.py), and by
 * the Open Inference Protocol (`/v2/models/<name>/infer`, v2_endpoints.py), reaches that model's backend on any host;
 * host routes still come first; a path no model answers gets a 404 naming the routes that would work.
 */
import { strict as assert } from "node:assert";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { TestBackend } from "../../testing/activator/backend";
import { config, model } from "../../testing/activator/config";
import { keepAliveAgent, sendJson } from "../../testing/activator/http";

type Echo = { method: string; url: string; body: string; port: number };
type ErrorBody = { error: { code: string; message: string; routes: string[]; models: string[] } };

describe("activator: KServe v1 and v2 REST paths", function () {
  this.timeout(30_000);
  const agent = keepAliveAgent();
  let act: ActivatorProcess;
  const b: Record<"iris" | "resnet" | "exact" | "llm", TestBackend> = {} as never;

  before(async () => {
    for (const name of ["iris", "resnet", "exact", "llm"] as const) {
      b[name] = await TestBackend.create();
      await b[name].start();
    }
    act = await ActivatorProcess.start(
      config([
        // What the stack writes for a sklearn model (v1 and v2) and for a Triton one (v2 only): no host, no prefix.
        model("iris", b.iris.url, { hosts: [], kserve: { modelName: "iris", protocols: ["v1", "v2"] } }),
        model("resnet", b.resnet.url, { hosts: [], kserve: { modelName: "resnet", protocols: ["v2"] } }),
        model("exact", b.exact.url, { hosts: ["api.example.com"] }),
        model("llm", b.llm.url, { openaiModels: ["llm-a"] }),
      ]),
    );
  });
  after(async () => {
    agent.destroy();
    await act.stop();
    await Promise.all(Object.values(b).map((backend) => backend.stop()));
  });

  const call = (path: string, host: string, method = "POST", body?: string) =>
    sendJson<Echo & ErrorBody>(`${act.proxyUrl}${path}`, { method, ...(body === undefined ? {} : { body }), headers: { host, "content-type": "application/json" }, agent });

  it("sends KServe's v1 predict, explain and model-ready calls to the model of that name, path and body unchanged", async () => {
    const instances = '{"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}';
    for (const [method, path] of [
      ["POST", "/v1/models/iris:predict"],
      ["POST", "/v1/models/iris:explain"],
      ["GET", "/v1/models/iris"],
    ] as const) {
      const res = await call(path, "iris-predictor.models.example", method, method === "POST" ? instances : undefined);
      assert.equal(res.status, 200, res.body);
      assert.equal(res.json.port, b.iris.port, `${method} ${path}`);
      assert.equal(res.json.url, path);
      assert.equal(res.json.method, method);
      if (method === "POST") assert.equal(res.json.body, instances);
    }
  });

  it("sends the Open Inference Protocol (v2) paths under /v2/models/<name> to that model, on any host", async () => {
    for (const [path, backend] of [
      ["/v2/models/iris/infer", b.iris],
      ["/v2/models/iris/versions/1/infer", b.iris],
      ["/v2/models/resnet/infer", b.resnet],
      ["/v2/models/resnet/ready", b.resnet],
    ] as const) {
      const res = await call(path, "anything.local", "POST", '{"inputs": []}');
      assert.equal(res.status, 200, res.body);
      assert.equal(res.json.port, backend.port, path);
    }
  });

  it("leaves host routes first and OpenAI's GET /v1/models/{id} to the activator", async () => {
    const hosted = await call("/v1/models/iris:predict", "api.example.com", "POST", "{}");
    assert.equal(hosted.json.port, b.exact.port, "the host route wins over the KServe path");
    const openai = await sendJson<{ id: string; object: string }>(`${act.proxyUrl}/v1/models/llm-a`, { agent });
    assert.equal(openai.status, 200);
    assert.deepEqual([openai.json.id, openai.json.object], ["llm-a", "model"]);
    assert.equal(b.llm.requests, 0, "answered from the routing table, no model woken");
  });

  it("answers a KServe path no model serves with 404 no_route naming the routes that would work", async () => {
    const before = b.resnet.requests;
    // resnet's runtime speaks v2 only: its v1 path is not routed, and the error says what is.
    const res = await call("/v1/models/resnet:predict", "client.example", "POST", "{}");
    assert.equal(res.status, 404, res.body);
    assert.equal(res.json.error.code, "no_route");
    assert.equal(b.resnet.requests, before, "no model woken");
    const { routes, message } = res.json.error;
    for (const expected of ["POST */v1/models/iris:predict", "GET */v1/models/iris", "*/v2/models/iris", "*/v2/models/resnet", "api.example.com/"]) {
      assert.ok(routes.includes(expected), `${expected} in ${routes.join("; ")}`);
      assert.ok(message.includes(expected), `${expected} in ${message}`);
    }
    assert.ok(routes.some((r) => r.startsWith("POST /v1/chat/completions") && r.includes('"llm-a"')), routes.join("; "));
    assert.ok(!routes.some((r) => r.includes("/v1/models/resnet")), routes.join("; "));
    assert.equal(new Set(routes).size, routes.length, "each route once");
  });
});
