/**
 * Stale upstream connections: a model server that closes idle keep-alive connections without saying when (no
 * Keep-Alive header; uvicorn's behaviour, 5 s by default, scaled down here to 300 ms), and requests sent one after
 * another ~300 ms ± 3 ms apart on one client connection, so they meet the server's close. Counts 5xx answers, and
 * among them those for requests the server never received. Two activator settings: `upstreamKeepAliveSeconds`
 * below the server's idle time (the rule: idle connections are dropped first), and above it (misconfigured: only
 * the idle time learned from the server's earlier closes keeps these requests off dying connections,
 * ../activator/src/holding/idleClose.ts). Smoke mode scales the idle time to 1 s (10 requests): the margin between
 * the pool's idle close (75 % of the server's) and the server's is then 250 ms, not 75 ms, so a loaded machine
 * delaying the activator's timer does not make the race the bench measures. nginx (`proxy_pass` to an upstream with a
 * keepalive pool, nginx's default idle time of 60 s for it) is measured in the same sweep as a reference.
 */
import http from "node:http";
import { IdleClosingBackend } from "../testing/activator/idleClosingBackend";
import { send } from "../testing/activator/http";
import { startActivator } from "./lib/activator";
import { startNginx } from "./lib/nginx";
import { freePort } from "../testing/activator/backend";
import { type Bench, type BenchContext, type BenchResult } from "./lib/report";

/** The server's idle close, ms: full runs and smoke runs. */
const IDLE_MS = { full: 300, smoke: 1000 };

interface Sweep {
  path: string;
  requests: number;
  ok: number;
  serverErrors: number;
  neverReceived: number;
  serverConnections: number;
}

async function sweep(url: string, backend: IdleClosingBackend, count: number, idleMs: number, headers: Record<string, string>): Promise<Omit<Sweep, "path" | "serverConnections">> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const body = JSON.stringify({ model: "llm", messages: [{ role: "user", content: "hi" }] });
  const post = () => send(url, { body, headers: { "content-type": "application/json", ...headers }, agent });
  await post(); // warm: held until the first readiness probe
  // The server's first idle close happens on an idle connection, before the sweep: a proxy learns a server's idle time
  // from that close (../activator/src/holding/idleClose.ts), and a request racing that very first close cannot be
  // told apart from one the server read (documented there: one race per backend and process). The sweep measures
  // what follows, for every path alike.
  await new Promise((r) => setTimeout(r, Math.round(idleMs * 1.5)));
  let ok = 0;
  let serverErrors = 0;
  let neverReceived = 0;
  for (let i = 0; i < count; i++) {
    await new Promise((r) => setTimeout(r, idleMs + (i % 7) - 3));
    const before = backend.received;
    const res = await post().catch(() => ({ status: 0 }));
    if (res.status === 200) ok++;
    else if (res.status >= 500 || res.status === 0) {
      serverErrors++;
      if (backend.received === before) neverReceived++;
    }
  }
  agent.destroy();
  return { requests: count, ok, serverErrors, neverReceived };
}

export const staleUpstream: Bench = {
  name: "stale-upstream",
  description: "requests racing a model server's idle keep-alive close: 5xx for requests it never received",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const count = ctx.smoke ? 10 : 150;
    const idleMs = ctx.smoke ? IDLE_MS.smoke : IDLE_MS.full;
    const serverIdle = idleMs / 1000;
    const below = ctx.smoke ? 0.8 : 0.25; // upstreamKeepAliveSeconds below the server's idle time
    const rows: Sweep[] = [];
    for (const [what, keepAlive] of [
      [`activator, upstreamKeepAliveSeconds ${below} (below the server's ${serverIdle})`, below],
      ["activator, upstreamKeepAliveSeconds 30 (above it: learned idle close only)", 30],
    ] as const) {
      const backend = await IdleClosingBackend.start(idleMs);
      const act = await startActivator(
        {
          readiness: { mode: "probe" },
          models: [{ name: "llm", namespace: "bench", backend: backend.url, readinessPath: "/health", openaiModels: ["llm"], upstreamKeepAliveSeconds: keepAlive }],
        },
        ctx.cores.proxy,
      );
      try {
        rows.push({ path: what, ...(await sweep(`${act.proxyUrl}/v1/chat/completions`, backend, count, idleMs, {})), serverConnections: backend.connections });
      } finally {
        await act.stop();
        await backend.stop();
      }
    }
    const backend = await IdleClosingBackend.start(idleMs);
    const nginxPort = await freePort();
    const nginx = await startNginx(nginxPort, { role: "proxy", upstreamPort: Number(new URL(backend.url).port) }, ctx.cores.proxy).catch((err: Error) => {
      ctx.log(`stale-upstream: nginx reference skipped: ${err.message}`);
      return null;
    });
    try {
      if (nginx) rows.push({ path: "nginx, upstream keepalive pool (reference)", ...(await sweep(`http://127.0.0.1:${nginxPort}/v1/chat/completions`, backend, count, idleMs, {})), serverConnections: backend.connections });
    } finally {
      await nginx?.stop();
      await backend.stop();
    }
    const activatorNeverReceived = rows.filter((r) => r.path.startsWith("activator")).reduce((a, r) => a + r.neverReceived, 0);
    const activator5xx = rows.filter((r) => r.path.startsWith("activator")).reduce((a, r) => a + r.serverErrors, 0);
    return {
      name: "stale-upstream",
      method: {
        backend: `raw HTTP/1.1 server closing a connection ${idleMs} ms after its last response, no Keep-Alive header (uvicorn-like)`,
        client: `one keep-alive connection, requests sequential, gaps of ${idleMs - 3}..${idleMs + 3} ms`,
        requestsPerSweep: count,
      },
      figures: { rows, activator5xx, activatorNeverReceived },
      tables: [
        {
          title: `Stale upstream sweep: ${count} requests ~${idleMs} ms apart against a server closing idle connections after ${idleMs} ms`,
          columns: ["proxy", "requests", "200", "5xx", "5xx the server never received", "server connections"],
          rows: rows.map((r) => [r.path, r.requests, r.ok, r.serverErrors, r.neverReceived, r.serverConnections]),
        },
      ],
      targets: [
        { what: "activator 5xx on the stale-connection sweep", target: "0", value: activator5xx, unit: "", met: activator5xx === 0 },
        { what: "activator 5xx for requests the server never received", target: "0", value: activatorNeverReceived, unit: "", met: activatorNeverReceived === 0 },
      ],
    };
  },
};
