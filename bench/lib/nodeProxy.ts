/**
 * The floor of a Node.js reverse proxy, as a reference for the warm-path bench: `node:http` server + one undici
 * keep-alive Pool, the same two libraries and the same dispatch API the activator uses, and nothing else (no
 * routing, holding, metrics or header rewriting). What the activator costs beyond this is its own; what this
 * costs beyond nginx is Node's.
 *
 *   node bench/lib/nodeProxy.ts PORT UPSTREAM_PORT     (prints "listening" once bound)
 */
import http from "node:http";
import { createRequire } from "node:module";
import * as path from "node:path";

/** The part of undici 7's dispatch API used here (the activator's undici, not whatever version the root hoists). */
interface Handler {
  onRequestStart(controller: unknown): void;
  onResponseStart(controller: unknown, status: number, headers: Record<string, string | string[] | undefined>): void;
  onResponseData(controller: unknown, chunk: Buffer): void;
  onResponseEnd(): void;
  onResponseError(controller: unknown, err: Error): void;
}
interface UndiciPool {
  dispatch(options: { path: string; method: string; headers: http.IncomingHttpHeaders; body: http.IncomingMessage | null }, handler: Handler): boolean;
}
const undici = createRequire(path.resolve(__dirname, "../../activator/package.json"))("undici") as {
  Pool: new (origin: string, options: { keepAliveTimeout: number }) => UndiciPool;
};

const [port, upstreamPort] = process.argv.slice(2).map(Number);
const pool = new undici.Pool(`http://127.0.0.1:${upstreamPort}`, { keepAliveTimeout: 30_000 });

class Forward implements Handler {
  constructor(private readonly res: http.ServerResponse) {}
  onRequestStart(): void {}
  onResponseStart(_c: unknown, status: number, headers: Record<string, string | string[] | undefined>): void {
    const out: string[] = [];
    for (const name in headers) {
      const value = headers[name];
      if (typeof value === "string" && name !== "connection" && name !== "keep-alive" && name !== "transfer-encoding") out.push(name, value);
    }
    this.res.writeHead(status, out);
  }
  onResponseData(_c: unknown, chunk: Buffer): void {
    this.res.write(chunk);
  }
  onResponseEnd(): void {
    this.res.end();
  }
  onResponseError(_c: unknown, err: Error): void {
    this.res.destroy(err);
  }
}

const server = http.createServer((req, res) => {
  pool.dispatch({ path: req.url!, method: req.method!, headers: req.headers, body: req.method === "GET" ? null : req }, new Forward(res));
});
server.keepAliveTimeout = 65_000;
server.listen(port, "127.0.0.1", () => process.stdout.write("listening\n"));
process.on("SIGTERM", () => process.exit(0));
