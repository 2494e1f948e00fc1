/**
 * A small HTTP model backend for activator tests and benches, on 127.0.0.1.
 *
 *   const backend = await TestBackend.create();        // a free port is chosen now; nothing listens yet
 *   backend.url                                        // "http://127.0.0.1:<port>" (fixed, usable in configs)
 *   await backend.start();  or  backend.startAfter(300) // listen now / after a delay (resolves once listening)
 *   backend.listeningAt                                // performance.now() when it started listening
 *   backend.ready = false                              // readiness path answers 503 until set back to true
 *   backend.requests / backend.readinessRequests / backend.maxActive   // counters (resetCounts() zeroes them)
 *   await backend.stop()                               // close and reset every open connection; start() again later
 *
 * Answers:
 * - `GET <readinessPath>` (default "/health"): 200 {"status":"ok"} when ready, else 503 {"status":"loading"}.
 * - SSE (`text/event-stream`) when the path ends with "/sse", `?sse=1`, `Accept: text/event-stream`, or a JSON
 *   body with `"stream": true` (OpenAI style): `chunks` events `data: {"index":i,"t":<epoch ms>}` every
 *   `interval` ms, then `data: [DONE]`.
 * - Anything else: 200 JSON echo {method, url, headers, body (utf-8), bodyBytes, port}.
 * - `Upgrade: websocket` (with `Connection: upgrade`): 101 with the RFC 6455 Sec-WebSocket-Accept, then every byte
 *   received is echoed back (`upgrades` counts them; `lastUpgradeUrl` is the request target).
 * Controls, from the query string or an `x-backend-<name>` header (header wins): `delay` ms before answering,
 * `status` code, `chunks` (default 5), `interval` ms (default 10), `crash` = number of chunks sent before the
 * connection is reset (JSON: 0 resets before any byte, ≥1 after the headers and half the body).
 */
import { createHash } from "node:crypto";
import http from "node:http";
import net from "node:net";

export interface BackendOptions {
  /** Port to listen on; default: a free port picked by create(). */
  port?: number;
  /** Readiness path; default "/health". */
  readinessPath?: string;
}

/** Ports freePort() has handed out in this process: the kernel may offer a closed one again. */
const handedOut = new Set<number>();

/**
 * A port that was free a moment ago on 127.0.0.1, and never handed out before in this process. The kernel can give
 * a port it just gave (once closed) to the next `listen(0)`; two backends sharing one would make a model look ready
 * when another backend starts.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    });
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

export class TestBackend {
  /** Readiness path answers 200 when true. */
  ready = true;
  /** Requests answered other than readiness checks. */
  requests = 0;
  readinessRequests = 0;
  /** Highest number of non-readiness requests being answered at once. */
  maxActive = 0;
  /** WebSocket upgrades accepted. */
  upgrades = 0;
  lastUpgradeUrl = "";
  /** performance.now() when the server last started listening. */
  listeningAt: number | undefined;
  readonly url: string;
  readonly readinessPath: string;
  private active = 0;
  private server: http.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    readonly port: number,
    opts: BackendOptions,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.readinessPath = opts.readinessPath ?? "/health";
  }

  static async create(opts: BackendOptions = {}): Promise<TestBackend> {
    return new TestBackend(opts.port ?? (await freePort()), opts);
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = http.createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 30_000;
    server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => this.upgrade(req, socket, head));
    server.on("connection", (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      // A deep accept queue: benches release thousands of held requests at once onto one backend shared by many
      // models (one pool of up to 256 connections each); with Node's default 511 the kernel drops connections the
      // activator has already written a request on, which it then (rightly) answers 502 and does not send again.
      server.listen({ port: this.port, host: "127.0.0.1", backlog: 4096 }, () => resolve());
    });
    this.server = server;
    this.listeningAt = performance.now();
  }

  startAfter(delayMs: number): Promise<void> {
    return new Promise((resolve, reject) => setTimeout(() => this.start().then(resolve, reject), delayMs));
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.resetAndDestroy();
    await closed;
  }

  resetCounts(): void {
    this.requests = 0;
    this.readinessRequests = 0;
    this.maxActive = 0;
  }

  private upgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    this.upgrades++;
    this.lastUpgradeUrl = req.url ?? "";
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    const accept = createHash("sha1").update(`${req.headers["sec-websocket-key"] ?? ""}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    if (head.length > 0) socket.write(head);
    socket.on("data", (d: Buffer) => socket.write(d));
    socket.on("end", () => socket.end()); // the client closed: so do we
    socket.on("error", () => undefined);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://backend");
    if (req.method === "GET" && url.pathname === this.readinessPath) {
      this.readinessRequests++;
      req.resume();
      sendJson(res, this.ready ? 200 : 503, { status: this.ready ? "ok" : "loading" });
      return;
    }
    this.requests++;
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    res.once("close", () => this.active--);
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const control = (name: string): string | undefined => {
        const header = req.headers[`x-backend-${name}`];
        return (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get(name) ?? undefined;
      };
      const delay = Number(control("delay") ?? 0);
      const answer = () => {
        if (res.destroyed) return;
        if (wantsSse(req, url, body, control("sse"))) this.sse(res, control);
        else this.echo(req, res, body, control);
      };
      if (delay > 0) setTimeout(answer, delay);
      else answer();
    });
  }

  private echo(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, control: (n: string) => string | undefined): void {
    const payload = Buffer.from(
      JSON.stringify({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: body.toString("utf8"),
        bodyBytes: body.length,
        port: this.port,
      }),
    );
    const crash = control("crash");
    if (crash === "0") {
      req.socket.resetAndDestroy();
      return;
    }
    res.writeHead(Number(control("status") ?? 200), { "content-type": "application/json", "content-length": payload.length });
    if (crash !== undefined) {
      res.write(payload.subarray(0, payload.length >> 1), () => req.socket.resetAndDestroy());
      return;
    }
    res.end(payload);
  }

  private sse(res: http.ServerResponse, control: (n: string) => string | undefined): void {
    const total = Number(control("chunks") ?? 5);
    const interval = Number(control("interval") ?? 10);
    const crashRaw = control("crash");
    const crashAfter = crashRaw === undefined ? Infinity : Number(crashRaw);
    if (crashAfter === 0) {
      res.socket?.resetAndDestroy();
      return;
    }
    res.writeHead(Number(control("status") ?? 200), {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
    });
    let index = 0;
    const tick = () => {
      if (res.destroyed) return;
      if (index >= crashAfter) {
        res.socket?.resetAndDestroy();
        return;
      }
      if (index >= total) {
        res.end("data: [DONE]\n\n");
        return;
      }
      res.write(`data: ${JSON.stringify({ index, t: performance.timeOrigin + performance.now() })}\n\n`);
      index++;
      timer = setTimeout(tick, interval);
    };
    let timer = setTimeout(tick, 0);
    res.once("close", () => clearTimeout(timer));
  }
}

function wantsSse(req: http.IncomingMessage, url: URL, body: Buffer, flag: string | undefined): boolean {
  if (flag === "1" || url.pathname.endsWith("/sse")) return true;
  if ((req.headers.accept ?? "").includes("text/event-stream")) return true;
  if (body.length > 0 && (req.headers["content-type"] ?? "").includes("json")) {
    try {
      return (JSON.parse(body.toString("utf8")) as { stream?: unknown }).stream === true;
    } catch {
      return false;
    }
  }
  return false;
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const payload = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { "content-type": "application/json", "content-length": payload.length });
  res.end(payload);
}
