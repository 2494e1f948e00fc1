/**
 * Request bodies held in memory are bounded in bytes, across all requests (`limits.maxBufferedBodyBytes`), not only
 * in count: bodies read to route by `model` are kept while their model is cold; past the budget a request gets 503
 * `body_buffer_full` with Retry-After (delivered to a client still uploading), and the bytes come back to the
 * budget as held requests are forwarded or leave.
 */
import { strict as assert } from "node:assert";
import http from "node:http";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { TestBackend } from "../../testing/activator/backend";
import { postWith } from "../../testing/activator/clients";
import { config, model } from "../../testing/activator/config";
import { eventually } from "../../testing/activator/http";

const BODY = 300 * 1024;
const BUDGET = 1024 * 1024; // three bodies of 300 KiB fit, the fourth does not

describe("activator: bytes of held request bodies are bounded", function () {
  this.timeout(60_000);
  let act: ActivatorProcess;
  let backend: TestBackend;

  before(async () => {
    backend = await TestBackend.create(); // not started: the model is cold
    act = await ActivatorProcess.start(
      config([model("llm", backend.url, { openaiModels: ["llm"], coldStartTimeoutSeconds: 30 })], { limits: { maxBodyBytes: 512 * 1024, maxBufferedBodyBytes: BUDGET } }),
    );
  });
  after(async () => {
    await act.stop();
    await backend.stop();
  });

  const chat = (fill: string) => Buffer.from(JSON.stringify({ model: "llm", messages: [{ role: "user", content: fill.repeat(BODY) }] }));
  const held = (): Promise<number> => fetch(`${act.adminUrl}/queue`).then(async (r) => ((await r.json()) as { held: number }).held);

  it("holds bodies up to the byte budget, answers 503 + Retry-After beyond it, and frees the bytes on release", async () => {
    const pending: Promise<{ status: number }>[] = [];
    const requests: http.ClientRequest[] = [];
    for (const fill of ["a", "b", "c"]) {
      pending.push(
        new Promise((resolve, reject) => {
          const req = http.request(`${act.proxyUrl}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, agent: false });
          req.on("response", (res) => (res.resume(), res.on("end", () => resolve({ status: res.statusCode! }))));
          req.on("error", reject);
          req.end(chat(fill));
          requests.push(req);
        }),
      );
    }
    await eventually(async () => (await held()) === 3, "three requests held");
    const over = await postWith("node-http", `${act.proxyUrl}/v1/chat/completions`, chat("d"));
    assert.equal(over.status, 503, over.error ?? over.body);
    assert.equal(over.headers!["retry-after"], "1");
    const error = (JSON.parse(over.body!) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, "body_buffer_full");
    assert.match(error.message, /limits\.maxBufferedBodyBytes 1048576/);
    assert.equal(await held(), 3, "the refused one was never held");

    await backend.start();
    const statuses = (await Promise.all(pending)).map((r) => r.status);
    assert.deepEqual(statuses, [200, 200, 200], "held bodies were forwarded intact");
    // The budget is whole again: three more fit.
    for (const fill of ["e", "f", "g"]) assert.equal((await postWith("fetch", `${act.proxyUrl}/v1/chat/completions`, chat(fill))).status, 200);
  });

  it("returns the bytes of a held request whose client left", async () => {
    await backend.stop();
    await eventually(async () => !(((await (await fetch(`${act.adminUrl}/queue`)).json()) as { models: Record<string, { ready: boolean }> }).models["test/llm"]!.ready), "the model cold again", 10_000);
    for (let round = 0; round < 3; round++) {
      const reqs: http.ClientRequest[] = [];
      for (const fill of ["a", "b", "c"]) {
        const req = http.request(`${act.proxyUrl}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, agent: false });
        req.on("error", () => undefined);
        req.end(chat(fill));
        reqs.push(req);
      }
      await eventually(async () => (await held()) === 3, `three held (round ${round}): the bytes of the last round came back`);
      for (const req of reqs) req.destroy();
      await eventually(async () => (await held()) === 0, "all left");
    }
  });
});
