/**
 * nginx as a child process with a generated config in its own temp dir (pid, logs, temp paths), `daemon off`,
 * one worker, 127.0.0.1 only. Two roles:
 * - `backend`: `return 200` with a small fixed JSON body: the fastest backend this machine has, so the warm-path
 *   figures measure the proxies, not the backend.
 * - `proxy`: the reference reverse proxy, `proxy_pass` to a keep-alive upstream (HTTP/1.1, `Connection ""`), the
 *   same X-Forwarded-* headers the activator sets, and no buffering under /sse so server-sent events flow through.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { findBinary, removeOnExit, spawnChild, type Spawned } from "./processes";

export const BACKEND_BODY = '{"ok":true}';

export type NginxRole = { role: "backend" } | { role: "proxy"; upstreamPort: number };

/** The whole nginx.conf for a role. */
export function nginxConfig(dir: string, port: number, role: NginxRole, runAsRoot: boolean): string {
  const server =
    role.role === "backend"
      ? `    location / {
      default_type application/json;
      return 200 '${BACKEND_BODY}';
    }`
      : `    location / {
      proxy_pass http://upstream_backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
    }
    location /sse {
      proxy_pass http://upstream_backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_buffering off;
    }`;
  const upstream =
    role.role === "proxy"
      ? `  upstream upstream_backend {
    server 127.0.0.1:${role.upstreamPort};
    keepalive 128;
    keepalive_requests 1000000;
  }
`
      : "";
  return `${runAsRoot ? "user root;\n" : ""}daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 16384;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events {
  worker_connections 8192;
}
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${upstream}  server {
    listen 127.0.0.1:${port};
${server}
  }
}
`;
}

export interface Nginx {
  readonly port: number;
  readonly process: Spawned;
  stop(): Promise<void>;
}

export const NGINX = findBinary("nginx");

/** Starts nginx pinned to `cpuList` and waits until it accepts connections (5 s at most). */
export async function startNginx(port: number, role: NginxRole, cpuList: string | undefined): Promise<Nginx> {
  if (!NGINX) throw new Error("nginx not found: apt-get install nginx-light wrk");
  const dir = removeOnExit(mkdtempSync(path.join(tmpdir(), `bench-nginx-${role.role}-`)));
  const conf = path.join(dir, "nginx.conf");
  writeFileSync(conf, nginxConfig(dir, port, role, process.getuid?.() === 0));
  const proc = spawnChild(NGINX, ["-p", dir, "-e", path.join(dir, "error.log"), "-c", conf], { cpuList });
  const stop = async () => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, 5000, () => proc.child.exitCode !== null);
  } catch (err) {
    await stop();
    throw new Error(`nginx (${role.role}) did not start: ${(err as Error).message}\n${proc.stderr()}`);
  }
  return { port, process: proc, stop };
}

/** Resolves once 127.0.0.1:port accepts a connection; rejects after timeoutMs or when `gone()` says the server died. */
export async function waitForPort(port: number, timeoutMs: number, gone: () => boolean = () => false): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (gone()) throw new Error("process exited");
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (performance.now() > deadline) throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
