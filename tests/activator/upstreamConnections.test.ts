/**
 * A request no model server received must not fail. Sweeps requests across the moment a model server closes an
 * idle keep-alive connection (no Keep-Alive hint, like uvicorn): whether the activator's idle timeout is below the
 * server's (the default) or not (a misconfigured one), no request the server never received is answered with an
 * error. (A replica that refuses connections is held again: see proxy.test.ts.)
 */
import { strict as assert } from "node:assert";
import http from "node:http";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { config, model } from "../../testing/activator/config";
import { send } from "../../testing/activator/http";
import { IdleClosingBackend } from "../../testing/activator/idleClosingBackend";

/** The server's idle close. The pool keeps sockets 75 % of it once learned: a 125 ms margin, which a loaded machine's
 * timer delays do not eat (at 200 ms, 50 ms of margin was eaten once in CI). */
const IDLE_MS = 500;
const SWEEP = 40;

describe("activator: stale upstream keep-alive connections", function () {
  this.timeout(120_000);

  it("answers every request the server never received when its idle close races a reused connection", async () => {
    // The activator is told to keep idle connections longer than the server here (a misconfigured
    // upstreamKeepAliveSeconds): it learns the server's idle close from the first one (let happen before the sweep) and closes its own sooner, so
    // reused connections do not meet the server's close (a POST that did could not be sent again: noReplay.test.ts).
    const backend = await IdleClosingBackend.start(IDLE_MS);
    const act = await ActivatorProcess.start(config([model("llm", backend.url, { openaiModels: ["llm"], upstreamKeepAliveSeconds: 30 })]));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const body = JSON.stringify({ model: "llm", messages: [{ role: "user", content: "hi" }] });
      const post = () => send(`${act.proxyUrl}/v1/chat/completions`, { body, headers: { "content-type": "application/json" }, agent });
      assert.equal((await post()).status, 200, "warm-up");
      // The first idle close is only learned from (../../activator/src/holding/idleClose.ts): a request racing that very
      // first close cannot be told from one the server read, so it gets a 502, not a replay. Let it happen on an idle
      // connection, then sweep.
      await new Promise((r) => setTimeout(r, IDLE_MS * 2));
      assert.equal((await post()).status, 200, "after the first idle close");
      const failures: string[] = [];
      for (let i = 0; i < SWEEP; i++) {
        await new Promise((r) => setTimeout(r, IDLE_MS + (i % 7) - 3)); // across the server's close: -3 .. +3 ms
        const before = backend.received;
        const res = await post();
        if (res.status !== 200) failures.push(`#${i}: ${res.status} (server ${backend.received > before ? "received it" : "never received it"}) ${res.body.slice(0, 120)}`);
      }
      assert.deepEqual(failures, [], `${failures.length} of ${SWEEP} failed`);
      const learned = act.logs.find((l) => l.msg?.startsWith("backend closes idle connections sooner"));
      assert.ok(learned && Math.abs((learned["idleCloseMs"] as number) - IDLE_MS) < 50, `the server's idle close was learned: ${JSON.stringify(learned)}`);
      assert.ok(backend.connections > SWEEP / 2, `the server did close connections under the sweep (${backend.connections} connections)`);
    } finally {
      agent.destroy();
      await act.stop();
      await backend.stop();
    }
  });
});
