/**
 * A client process for the held-bodies bench: sends `count` POST requests at once, each on its own connection,
 * each with a body of `bytes` bytes (an OpenAI chat request naming `model`, or opaque bytes), and reports over IPC:
 *   { type: "sent", count }                         once every request was started
 *   { type: "done", statuses, errors, lastEndEpochMs } once every request was answered, or failed without answer
 * `statuses` counts answers by HTTP status; `errors` counts requests that got no answer (EPIPE, ECONNRESET...):
 * those are the lost ones.
 *
 *   node -r ts-node/register/transpile-only bench/lib/burstClient.ts URL PATHS COUNT BYTES MODEL TIMEOUT_MS
 * PATHS: comma-separated request paths used in turn; MODEL: "-" for opaque bodies.
 */
import http from "node:http";

const [url, pathsArg, countArg, bytesArg, model, timeoutArg] = process.argv.slice(2);
const paths = pathsArg!.split(",");
const count = Number(countArg);
const bytes = Number(bytesArg);
const timeoutMs = Number(timeoutArg);
/** Connections being opened at once: under the listen backlog, so no SYN is dropped and retried. */
const OPENING_AT_ONCE = 200;

const body =
  model === "-"
    ? Buffer.alloc(bytes, 0x61)
    : Buffer.from(JSON.stringify({ model, messages: [{ role: "user", content: "a".repeat(Math.max(0, bytes - 60 - model!.length)) }] }));
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const statuses: Record<string, number> = {};
const errors: Record<string, number> = {};
let finished = 0;
let lastEnd = 0;

function complete(): void {
  finished++;
  lastEnd = performance.timeOrigin + performance.now();
  // Stays until the bench disconnects (then exits): an exit racing the IPC message could lose it.
  if (finished === count) process.send!({ type: "done", statuses, errors, lastEndEpochMs: lastEnd });
}

function one(i: number): Promise<void> {
  return new Promise<void>((started) => {
    let answered = false;
    const req = http.request(`${url}${paths[i % paths.length]}`, {
      method: "POST",
      agent,
      headers: { "content-type": "application/json", "content-length": body.length },
    });
    req.on("response", (res) => {
      answered = true;
      res.resume();
      res.on("end", () => {
        statuses[res.statusCode!] = (statuses[res.statusCode!] ?? 0) + 1;
        complete();
      });
      res.on("error", (err: NodeJS.ErrnoException) => {
        errors[err.code ?? err.message] = (errors[err.code ?? err.message] ?? 0) + 1;
        complete();
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error("client timeout")));
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (answered) return;
      errors[err.code ?? err.message] = (errors[err.code ?? err.message] ?? 0) + 1;
      complete();
    });
    req.on("socket", () => started());
    req.end(body);
  });
}

async function main(): Promise<void> {
  let next = 0;
  const opener = async () => {
    while (next < count) await one(next++);
  };
  await Promise.all(Array.from({ length: Math.min(OPENING_AT_ONCE, count) }, opener));
  process.send!({ type: "sent", count });
}

process.on("disconnect", () => process.exit(1));
void main();
