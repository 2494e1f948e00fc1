/**
 * No request the model server may have received is sent twice (issue 21, field case 20): over real sockets, a model
 * server that reads a request, works on it and drops the connection without answering. A POST is answered 502
 * `upstream_connection_lost` with `x-should-retry: false` (the OpenAI SDKs retry 5xx otherwise) and delivered once; an
 * idempotent method (RFC 9110 §9.2.2) is sent again once, on a fresh connection.
 */
import { strict as assert } from "node:assert";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { TestBackend } from "../../testing/activator/backend";
import { config, model } from "../../testing/activator/config";
import { keepAliveAgent, sendJson } from "../../testing/activator/http";

interface ErrorBody {
  error: { code: string; message: string; model?: string };
}

describe("activator: no request sent twice that the model server may have received", function () {
  this.timeout(30_000);
  const agent = keepAliveAgent();
  let backend: TestBackend;
  let act: ActivatorProcess;

  before(async () => {
    backend = await TestBackend.create();
    await backend.start();
    act = await ActivatorProcess.start(config([model("llm", backend.url)]));
  });
  after(async () => {
    agent.destroy();
    await act.stop();
    await backend.stop();
  });

  /** The server reads the request, works 200 ms on it, then resets the connection without a response byte. */
  const dies = { host: "llm.test", "x-backend-delay": "200", "x-backend-crash": "0", "content-type": "application/json" };

  it("answers a POST whose connection died after it was sent 502, once delivered, telling SDKs not to retry", async () => {
    await sendJson(`${act.proxyUrl}/warm`, { headers: { host: "llm.test" }, agent }); // a pooled connection to reuse
    for (const fresh of [false, true]) {
      backend.resetCounts();
      const res = await sendJson<ErrorBody>(`${act.proxyUrl}/v1/chat/completions`, { body: '{"model":"llm"}', headers: dies, agent });
      assert.equal(backend.requests, 1, `delivered once (${fresh ? "second try" : "first"})`);
      assert.equal(res.status, 502);
      assert.equal(res.json.error.code, "upstream_connection_lost");
      assert.equal(res.headers["x-should-retry"], "false");
      assert.match(res.json.error.message, /test\/llm backend closed the connection before answering \(\w+\) after the POST request was sent: it may have received it, so it is not sent again/);
    }
  });

  it("sends an idempotent request (PUT, GET) again once on a fresh connection", async () => {
    for (const method of ["PUT", "GET"]) {
      backend.resetCounts();
      const res = await sendJson<ErrorBody>(`${act.proxyUrl}/v1/files/x`, { method, headers: dies, agent });
      assert.equal(backend.requests, 2, `${method}: the first try and one more`);
      assert.equal(res.status, 502);
      assert.equal(res.json.error.code, "upstream_unavailable", "both tries failed: the backend itself fails");
      assert.equal(res.headers["x-should-retry"], undefined, "an idempotent request may be retried by the client");
    }
  });
});
