/**
 * A client process for the held-capacity bench: opens `count` requests to the activator, each on its own
 * connection (they are all held at once), and reports over IPC:
 *   { type: "sent", count }                    once every request is written
 *   { type: "done", ok, failures, lastEndEpochMs } once every request is answered (or failed)
 * A request is ok when it gets 200 and the backend's echo of its own unique URL, i.e. it was answered and
 * answered correctly.
 *
 *   node -r ts-node/register/transpile-only bench/lib/holdClient.ts URL HOST COUNT ID TIMEOUT_MS
 */
import http from "node:http";

const [url, host, countArg, id, timeoutArg] = process.argv.slice(2);
const count = Number(countArg);
const timeoutMs = Number(timeoutArg);
/** Connections being opened at once: stays well under the listen backlog, so no SYN is dropped and retried. */
const OPENING_AT_ONCE = 200;

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const failures: Record<string, number> = {};
let ok = 0;
let finished = 0;
let sent = 0;
let lastEnd = 0;

function fail(reason: string): void {
  failures[reason] = (failures[reason] ?? 0) + 1;
}

function one(i: number): Promise<void> {
  const path = `/held/${id}/${i}`;
  return new Promise<void>((resolveWritten) => {
    let written = false;
    const markWritten = () => {
      if (!written) {
        written = true;
        sent++;
        resolveWritten();
      }
    };
    const req = http.get(`${url}${path}`, { agent, headers: { host } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => {
        if (res.statusCode !== 200) fail(`HTTP ${res.statusCode}`);
        else if ((JSON.parse(body) as { url?: string }).url !== path) fail("wrong body");
        else ok++;
        complete();
      });
      res.on("error", (err) => {
        fail(err.message);
        complete();
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error("client timeout")));
    req.on("finish", markWritten);
    req.on("error", (err) => {
      fail((err as NodeJS.ErrnoException).code ?? err.message);
      markWritten();
      complete();
    });
  });
}

function complete(): void {
  finished++;
  lastEnd = performance.timeOrigin + performance.now();
  if (finished === count) {
    process.send!({ type: "done", ok, failures, lastEndEpochMs: lastEnd }, () => process.exit(0));
  }
}

async function main(): Promise<void> {
  let next = 0;
  const opener = async () => {
    while (next < count) await one(next++);
  };
  await Promise.all(Array.from({ length: Math.min(OPENING_AT_ONCE, count) }, opener));
  process.send!({ type: "sent", count: sent });
}

process.on("disconnect", () => process.exit(1)); // the bench went away: do not linger
void main();
