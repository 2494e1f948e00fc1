/**
 * Early answers to clients still uploading: a chat request with an 11.5 MiB body against the default 10 MiB
 * limit (`limits.maxBodyBytes`), answered 413 before its body is read, sent by the clients SDKs sit on, each of
 * which writes the whole body before reading: Node `http`, Node's `fetch` (undici), Python `http.client`. Counts
 * how many tries received the 413 (the rest saw a reset or EPIPE instead).
 */
import { TestBackend } from "../testing/activator/backend";
import { CLIENTS, postWith } from "../testing/activator/clients";
import { startActivator } from "./lib/activator";
import { type Bench, type BenchContext, type BenchResult } from "./lib/report";

export const earlyErrors: Bench = {
  name: "early-errors",
  description: "a 413 answered before the body is read reaches Node http, fetch and Python http.client mid-upload",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const tries = ctx.smoke ? 2 : 20;
    const backend = await TestBackend.create();
    await backend.start();
    const act = await startActivator(
      { readiness: { mode: "probe" }, models: [{ name: "llm", namespace: "bench", backend: backend.url, readinessPath: "/health", openaiModels: ["llm"] }] },
      ctx.cores.proxy,
    );
    const body = Buffer.from(JSON.stringify({ model: "llm", messages: [{ role: "user", content: "a".repeat(Math.floor(11.5 * 1024 * 1024)) }] }));
    const rows: { client: string; tries: number; received413: number; other: Record<string, number> }[] = [];
    try {
      for (const client of CLIENTS) {
        const other: Record<string, number> = {};
        let received413 = 0;
        for (let i = 0; i < tries; i++) {
          const outcome = await postWith(client, `${act.proxyUrl}/v1/chat/completions`, body);
          if (outcome.status === 413 && outcome.body?.includes('"code":"body_too_large"')) received413++;
          else other[outcome.error ?? String(outcome.status)] = (other[outcome.error ?? String(outcome.status)] ?? 0) + 1;
        }
        rows.push({ client, tries, received413, other });
      }
    } finally {
      await act.stop();
      await backend.stop();
    }
    const missed = rows.reduce((a, r) => a + r.tries - r.received413, 0);
    return {
      name: "early-errors",
      method: { bodyBytes: body.length, limit: "10 MiB (default limits.maxBodyBytes)", triesPerClient: tries },
      figures: { rows, missed },
      tables: [
        {
          title: `Early 413 for an ${(body.length / 1024 / 1024).toFixed(1)} MiB upload over the 10 MiB limit, ${tries} tries per client`,
          columns: ["client", "tries", "received the 413", "saw instead"],
          rows: rows.map((r) => [r.client, r.tries, r.received413, JSON.stringify(r.other)]),
        },
      ],
      targets: CLIENTS.map((client) => {
        const r = rows.find((x) => x.client === client)!;
        return { what: `${client} receives the 413`, target: `${r.tries} of ${r.tries}`, value: r.received413, unit: "", met: r.received413 === r.tries };
      }),
    };
  },
};
