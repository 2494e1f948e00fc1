/**
 * A model server that closes idle keep-alive connections on its own, without telling clients how long it keeps
 * them (no `Keep-Alive: timeout=` header): what uvicorn does (vLLM, KServe's Python servers, MLServer; default
 * 5 s). Raw HTTP/1.1 over node:net, so its close races a reused connection exactly as a real one does.
 *
 *   const be = await IdleClosingBackend.start(300);  // closes a connection 300 ms after its last response
 *   be.url / be.received (requests answered, readiness probes excluded) / be.connections / await be.stop()
 */
import net from "node:net";

export class IdleClosingBackend {
  received = 0;
  connections = 0;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly url: string,
  ) {}

  static async start(idleMs: number): Promise<IdleClosingBackend> {
    let self: IdleClosingBackend | undefined;
    const server = net.createServer((socket) => self!.serve(socket, idleMs));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    self = new IdleClosingBackend(server, `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    return self;
  }

  private serve(socket: net.Socket, idleMs: number): void {
    this.connections++;
    this.sockets.add(socket);
    let buffered = "";
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => socket.destroy(), idleMs);
    };
    arm();
    socket.on("data", (data: Buffer) => {
      clearTimeout(timer);
      buffered += data.toString("latin1");
      let end: number;
      while ((end = buffered.indexOf("\r\n\r\n")) >= 0) {
        const head = buffered.slice(0, end);
        const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) break;
        buffered = buffered.slice(end + 4 + length);
        if (head.split(" ")[1] !== "/health") this.received++;
        const body = '{"ok":true}';
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      }
      arm();
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      this.sockets.delete(socket);
    });
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
