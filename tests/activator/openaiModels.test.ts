/**
 * OpenAI's model endpoints answered from the routing table: `GET /v1/models` and `GET /v1/models/{id}`
 * (`client.models.retrieve`), for ids with `/` and `:`, raw or percent-encoded, in OpenAI's object and error shapes.
 */
import { strict as assert } from "node:assert";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { TestBackend } from "../../testing/activator/backend";
import { config, model } from "../../testing/activator/config";
import { send, sendJson } from "../../testing/activator/http";

type ModelObject = { id: string; object: string; created: number; owned_by: string };
type ErrorBody = { error: { message: string; type: string; param: string | null; code: string } };

describe("activator: OpenAI model endpoints", function () {
  this.timeout(30_000);
  const ids = ["meta-org/Llama-3.1-8B-Instruct", "llama3:8b", "plain-model"];
  let act: ActivatorProcess;
  let backend: TestBackend;

  before(async () => {
    backend = await TestBackend.create();
    await backend.start();
    act = await ActivatorProcess.start(config(ids.map((id, i) => model(`m${i}`, backend.url, { openaiModels: [id] }))));
  });
  after(async () => {
    await act.stop();
    await backend.stop();
  });

  it("returns the model object for every listed id, raw or percent-encoded, without waking a model", async () => {
    const list = await sendJson<{ object: string; data: ModelObject[] }>(`${act.proxyUrl}/v1/models`);
    assert.deepEqual(
      list.json.data.map((m) => m.id),
      ids,
    );
    for (const [i, id] of ids.entries()) {
      for (const path of [`/v1/models/${id}`, `/v1/models/${encodeURIComponent(id)}`]) {
        const res = await sendJson<ModelObject>(`${act.proxyUrl}${path}?x=1`);
        assert.equal(res.status, 200, `${path}: ${res.body}`);
        assert.deepEqual(res.json, { id, object: "model", created: 0, owned_by: `test/m${i}` });
      }
    }
    const head = await send(`${act.proxyUrl}/v1/models/llama3:8b`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(backend.requests, 0, "no model server was asked");
  });

  it("answers an unknown id with OpenAI's 404 model_not_found error", async () => {
    const res = await sendJson<ErrorBody>(`${act.proxyUrl}/v1/models/org%2Fnope:1`);
    assert.equal(res.status, 404);
    assert.equal(res.json.error.code, "model_not_found");
    assert.equal(res.json.error.type, "invalid_request_error");
    assert.equal(res.json.error.param, "model");
    assert.match(res.json.error.message, /The model 'org\/nope:1' does not exist/);
  });
});
