/**
 * A plain node:http client for activator tests: any Host header (fetch forbids setting it), chunk arrival
 * times (SSE), and the instant the response head arrived (first byte).
 */
import http from "node:http";
import net from "node:net";

export interface Chunk {
  /** performance.now() at receipt. */
  at: number;
  data: string;
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** performance.now() when the status line and headers arrived. */
  firstByteAt: number;
  chunks: Chunk[];
  /** Set when the response was cut (backend failure relayed as a reset). */
  error?: Error;
}

export interface SendOptions {
  method?: string;
  headers?: http.OutgoingHttpHeaders;
  body?: string | Buffer;
  agent?: http.Agent;
  /** Send the body with Transfer-Encoding: chunked (no Content-Length). */
  chunked?: boolean;
  /** Called with the request once sent, e.g. to destroy it while held. */
  onRequest?: (req: http.ClientRequest) => void;
}

export const keepAliveAgent = (): http.Agent => new http.Agent({ keepAlive: true, maxSockets: Infinity });

export function send(url: string, opts: SendOptions = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? (opts.body !== undefined ? "POST" : "GET"), headers: opts.headers, agent: opts.agent });
    req.on("error", reject);
    req.on("response", (res) => {
      const firstByteAt = performance.now();
      const chunks: Chunk[] = [];
      res.setEncoding("utf8");
      res.on("data", (data: string) => chunks.push({ at: performance.now(), data }));
      const done = (error?: Error) =>
        resolve({ status: res.statusCode!, headers: res.headers, body: chunks.map((c) => c.data).join(""), firstByteAt, chunks, ...(error ? { error } : {}) });
      res.on("end", () => done());
      res.on("error", (err) => done(err));
      res.on("aborted", () => done(new Error("response aborted")));
    });
    if (opts.body !== undefined) {
      if (opts.chunked) {
        req.setHeader("transfer-encoding", "chunked");
        req.write(opts.body);
      } else {
        req.setHeader("content-length", Buffer.byteLength(opts.body));
        req.write(opts.body);
      }
    }
    req.end();
    opts.onRequest?.(req);
  });
}

/** `send` and parse the JSON body. */
export async function sendJson<T = Record<string, unknown>>(url: string, opts: SendOptions = {}): Promise<HttpResult & { json: T }> {
  const res = await send(url, opts);
  let json: T;
  try {
    json = JSON.parse(res.body) as T;
  } catch {
    throw new Error(`HTTP ${res.status} body is not JSON: ${res.body.slice(0, 200)}`);
  }
  return { ...res, json };
}

/** SSE `data:` payloads of a body, in order. */
export function sseData(body: string): string[] {
  return body
    .split("\n\n")
    .map((event) => event.trim())
    .filter((event) => event.startsWith("data: "))
    .map((event) => event.slice("data: ".length));
}

/**
 * Writes `text` as is on a fresh connection to 127.0.0.1:port (malformed or pipelined requests no client
 * library sends) and resolves with everything received once the server closes the connection, or after
 * `waitMs`. `closeAfterMs` destroys the connection from the client side that long after writing.
 */
export function sendRaw(port: number, text: string, opts: { waitMs?: number; closeAfterMs?: number } = {}): Promise<{ received: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.write(text);
      if (opts.closeAfterMs !== undefined) setTimeout(() => socket.destroy(), opts.closeAfterMs);
    });
    let received = "";
    let closedByServer = true;
    socket.on("data", (d: Buffer) => (received += d.toString("latin1")));
    socket.on("error", () => undefined);
    const timer = setTimeout(() => {
      closedByServer = false;
      socket.destroy();
    }, opts.waitMs ?? 2000);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ received, closedByServer: closedByServer && opts.closeAfterMs === undefined });
    });
  });
}

/** Polls `check` every `intervalMs` until it returns true, failing after timeoutMs with `what`. */
export async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 3000, intervalMs = 10): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Percentile (0–100) of numbers, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
