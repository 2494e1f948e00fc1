/**
 * Early answers (413, 401, 404, 503 given before the request body is read) reach clients that write the whole
 * body before reading: the connection is closed in stages (RFC 9112 §9.6), not reset under their upload. And
 * `Expect: 100-continue` is not granted to a request already refused.
 */
import { strict as assert } from "node:assert";
import http from "node:http";
import net from "node:net";
import { apiKeyDigest } from "../../activator/src/config/apiKeys";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { TestBackend } from "../../testing/activator/backend";
import { CLIENTS, postWith, type ClientOutcome } from "../../testing/activator/clients";
import { config, model } from "../../testing/activator/config";
import { eventually, sendRaw } from "../../testing/activator/http";

type ErrorBody = { error: { code: string; message: string; type: string } };

const KEY = "early-errors-test-key-0123456789";
const LIMIT = 64 * 1024;
/** Far more than the kernel buffers between client and activator: the client is mid-upload when answered. */
const BIG = Buffer.from(JSON.stringify({ model: "llm", messages: [{ role: "user", content: "a".repeat(6 * 1024 * 1024) }] }));

describe("activator: early error answers reach clients still uploading", function () {
  this.timeout(120_000);
  let act: ActivatorProcess;
  let authed: ActivatorProcess;
  let backend: TestBackend;

  before(async () => {
    backend = await TestBackend.create();
    await backend.start();
    const models = [model("llm", backend.url, { openaiModels: ["llm"] }), model("cold", "http://127.0.0.1:9", { pathPrefix: "/cold", maxPending: 1 })];
    act = await ActivatorProcess.start(config(models, { limits: { maxBodyBytes: LIMIT, maxBufferedBodyBytes: LIMIT } }));
    authed = await ActivatorProcess.start(config(models, { auth: { apiKeysFile: "keys/digests" } }), { files: { "keys/digests": `${apiKeyDigest(KEY)}\n` } });
  });
  after(async () => {
    await act.stop();
    await authed.stop();
    await backend.stop();
  });

  const expectAnswer = (outcome: ClientOutcome, status: number, code: string, who: string): void => {
    assert.equal(outcome.error, undefined, `${who} saw ${outcome.error} instead of the ${status}`);
    assert.equal(outcome.status, status, `${who}: ${outcome.body}`);
    assert.equal((JSON.parse(outcome.body!) as ErrorBody).error.code, code, who);
  };

  for (const client of CLIENTS) {
    it(`${client} receives the 413 for a declared body over the limit (3 tries)`, async () => {
      for (let i = 0; i < 3; i++) {
        const outcome = await postWith(client, `${act.proxyUrl}/v1/chat/completions`, BIG);
        expectAnswer(outcome, 413, "body_too_large", client);
        assert.match((JSON.parse(outcome.body!) as ErrorBody).error.message, /limits\.maxBodyBytes/, "the 413 names the key that raises the limit");
      }
    });

    it(`${client} receives the 401 without an API key, and the 404 for an unrouted path, while uploading`, async () => {
      expectAnswer(await postWith(client, `${authed.proxyUrl}/v1/chat/completions`, BIG), 401, "unauthorized", client);
      expectAnswer(await postWith(client, `${authed.proxyUrl}/nowhere`, BIG, { authorization: `Bearer ${KEY}` }), 404, "no_route", client);
    });
  }

  it("answers the 503 of a full queue to every client still uploading", async () => {
    // /cold holds one request at most; the first one is held (its body unread), the second gets 503 at once.
    // On the activator with the default 10 MiB limit, so the 4 MiB uploads below are not over it.
    const auth = { authorization: `Bearer ${KEY}` };
    const held = http.request(`${authed.proxyUrl}/cold/first`, { method: "POST", headers: { "content-length": 32 * 1024, ...auth }, agent: false });
    held.on("error", () => undefined);
    held.end(Buffer.alloc(32 * 1024, "x"));
    try {
      await eventually(async () => ((await (await fetch(`${authed.adminUrl}/queue`)).json()) as { held: number }).held === 1, "the first request held");
      for (const client of CLIENTS) {
        const res = await postWith(client, `${authed.proxyUrl}/cold/second`, Buffer.alloc(4 * 1024 * 1024, "y"), auth);
        expectAnswer(res, 503, "model_queue_full", client);
      }
    } finally {
      held.destroy();
    }
  });

  it("does not grant Expect: 100-continue to a request already refused, and grants it to one that is served", async () => {
    const head = (length: number) =>
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\n\r\n`;
    const refused = await sendRaw(act.proxyPort, head(LIMIT + 1), { waitMs: 1500 });
    assert.match(refused.received, /^HTTP\/1\.1 413 /, "a final answer, no 100 first");
    assert.doesNotMatch(refused.received, /100 Continue/);

    const body = JSON.stringify({ model: "llm", messages: [] });
    const granted = await new Promise<string>((resolve) => {
      const socket = net.connect(act.proxyPort, "127.0.0.1", () => socket.write(head(Buffer.byteLength(body))));
      let received = "";
      socket.on("data", (d: Buffer) => {
        received += d.toString();
        if (received.startsWith("HTTP/1.1 100") && !received.includes("200 OK") && received.endsWith("\r\n\r\n")) socket.write(body);
        if (/HTTP\/1\.1 200[\s\S]*\r\n\r\n[\s\S]*\}$/.test(received)) {
          socket.destroy();
          resolve(received);
        }
      });
      setTimeout(() => (socket.destroy(), resolve(received)), 5000);
    });
    assert.match(granted, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /, "100 Continue, then the backend's answer");
  });
});
