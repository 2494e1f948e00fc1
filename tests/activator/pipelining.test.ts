/**
 * Protocol edges over real sockets (issue 21 §4, field cases 25 and 29):
 * - responses stay in request order (RFC 9112 §9.3.2): a malformed request pipelined behind valid ones is answered
 *   400 only after their responses, never in their place;
 * - a response the model server cut looks cut to every client: an HTTP/1.0 client, whose body is delimited by the
 *   connection close, reads a reset (ECONNRESET), not a clean close.
 */
import { strict as assert } from "node:assert";
import net from "node:net";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { TestBackend } from "../../testing/activator/backend";
import { config, model } from "../../testing/activator/config";
import { sendRaw } from "../../testing/activator/http";

/** HTTP/1.1 status codes read on one connection, in order (interim 1xx left out). */
const statuses = (received: string): number[] =>
  [...received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])).filter((s) => s >= 200);

interface RawOutcome {
  received: string;
  /** "reset" (ECONNRESET), "fin" (the server closed cleanly) or "timeout". */
  ending: "reset" | "fin" | "timeout";
}

/** Writes `text` on a fresh connection and reports how the server ended it. */
function rawEnding(port: number, text: string): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(text));
    let received = "";
    const timer = setTimeout(() => done("timeout"), 5000);
    const done = (ending: RawOutcome["ending"]): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ received, ending });
    };
    socket.on("data", (d: Buffer) => (received += d.toString("latin1")));
    socket.on("end", () => done("fin"));
    socket.on("error", (e: NodeJS.ErrnoException) => done(e.code === "ECONNRESET" ? "reset" : "timeout"));
  });
}

describe("activator: pipelined requests and cut responses", function () {
  this.timeout(30_000);
  let backend: TestBackend;
  let act: ActivatorProcess;

  before(async () => {
    backend = await TestBackend.create();
    await backend.start();
    act = await ActivatorProcess.start(config([model("llm", backend.url)]));
  });
  after(async () => {
    await act.stop();
    await backend.stop();
  });

  const slowPost = (n: number) => `POST /v1/x?delay=300&n=${n} HTTP/1.1\r\nHost: llm.test\r\nContent-Length: 2\r\n\r\n{}`;

  it("answers a malformed request pipelined behind valid ones after their responses, in order", async () => {
    for (const malformed of [
      "GET /x HTTP/1.1\r\nHost: llm.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "GET /x HTTP/1.1\r\nHost: llm.test\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    ]) {
      backend.resetCounts();
      const { received, closedByServer } = await sendRaw(act.proxyPort, slowPost(1) + slowPost(2) + malformed, { waitMs: 5000 });
      assert.deepEqual(statuses(received), [200, 200, 400], received);
      assert.equal(backend.requests, 2, "both valid requests reached the model server");
      const bodies = received.split(/HTTP\/1\.1 \d{3} /).slice(1);
      assert.match(bodies[0]!, /n=1/, "the first response answers the first request");
      assert.match(bodies[1]!, /n=2/, "the second response answers the second request");
      assert.match(bodies[2]!, /"code":"malformed_request"/);
      assert.ok(closedByServer, "the connection is closed after the 400");
    }
  });

  it("answers a request that turns malformed mid-body at once, its own 400", async () => {
    backend.resetCounts();
    const { received } = await sendRaw(act.proxyPort, "POST /v1/x HTTP/1.1\r\nHost: llm.test\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\nzz\r\n");
    assert.deepEqual(statuses(received), [400], received);
    assert.match(received, /"code":"malformed_request"/);
  });

  it("ends a stream the model server cut with a reset for an HTTP/1.0 client, and a whole one with a clean close", async () => {
    const cut = await rawEnding(act.proxyPort, "GET /v1/x?sse=1&chunks=5&crash=2 HTTP/1.0\r\nHost: llm.test\r\n\r\n");
    assert.match(cut.received, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(cut.received, /transfer-encoding|content-length/i, "close-delimited: nothing else frames the body");
    assert.match(cut.received, /"index":1/, "what the model server sent before the cut arrives");
    assert.equal(cut.ending, "reset", "the cut reads as a reset, not as the end of the answer");

    const whole = await rawEnding(act.proxyPort, "GET /v1/x?sse=1&chunks=3 HTTP/1.0\r\nHost: llm.test\r\n\r\n");
    assert.match(whole.received, /data: \[DONE\]/);
    assert.equal(whole.ending, "fin", "a complete close-delimited answer ends with a clean close");
  });

  it("cuts a length-framed answer to an HTTP/1.0 client visibly too", async () => {
    const cut = await rawEnding(act.proxyPort, "GET /v1/x?crash=1 HTTP/1.0\r\nHost: llm.test\r\n\r\n");
    const declared = Number(/content-length: (\d+)/i.exec(cut.received)?.[1]);
    const body = cut.received.slice(cut.received.indexOf("\r\n\r\n") + 4);
    assert.ok(body.length < declared, `fewer bytes (${body.length}) than declared (${declared})`);
    assert.notEqual(cut.ending, "timeout");
  });
});
