/**
 * The batch runner: receives chunk messages from SQS (./objects.ts `ChunkMessage`), sends each of the chunk's lines
 * through the activator's own proxy listener (`batch.runner.activatorUrl`), so routing, holding through a cold
 * start and waking the model are the interactive path's code, writes the chunk's output and error lines and its
 * `done/` marker to S3 (./store.ts), finalises the batch after its last chunk (./progress.ts), and only then deletes
 * the message: a runner that dies mid-chunk (or mid-finalisation) leaves it to reappear after the visibility timeout,
 * and the chunk is run again (its result objects written again), or, when its marker is already there, only the
 * finalisation. While a message is being worked on, its visibility timeout is extended every third of
 * `visibilitySeconds` (ChangeMessageVisibility, `keepInvisible`), so a chunk held through a long cold start is not
 * handed to a second runner meanwhile, up to SQS's 12 hours since receipt.
 *
 * - Cancel: a chunk of a `cancelling` batch is drained (deleted unrun, counted in neither completed nor failed).
 * - completion_window: a chunk run after `expires_at` writes each line to the error file as `batch_expired`, and
 *   the batch ends `expired`.
 * - Yielding: every `POLL_MS` the activator's admin `/queue` is read; while any model's `engineWaiting`
 *   (vLLM's `num_requests_waiting`) is above `yieldWaitingAbove`, lines go one at a time instead of `concurrency`.
 *
 * Output lines are OpenAI's: `{"id","custom_id","response":{"status_code","request_id","body"},"error":null}`; a
 * non-2xx answer goes to the error file with its response, a line that got no answer with
 * `"response":null,"error":{"code","message"}`.
 */
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { Agent, request } from "undici";
import type { BatchConfig } from "../config/batch";
import { finalizeIfDone } from "./progress";
import { unixSeconds, type BatchRecord, type ChunkMessage } from "./objects";
import type { BatchStore } from "./store";

/** Chunks one runner works on at once (their lines share `concurrency`). */
export const CHUNKS_AT_ONCE = 2;

/** How often the admin `/queue` is read for engine queue gauges, ms. */
export const POLL_MS = 2000;

export interface RunnerDeps {
  store: BatchStore;
  config: BatchConfig;
  logger: Logger;
  /** API key the runner presents to the activator (with `auth`); its digest must be in the keys file. */
  apiKey?: string | undefined;
  now?: () => number;
}

export interface ChunkResult {
  completed: number;
  failed: number;
  drained: boolean;
  expired: boolean;
}

export class BatchRunner {
  /** Lines being sent right now; the most at once so far (tests, the bench). */
  active = 0;
  maxActive = 0;
  /** ChangeMessageVisibility calls made to keep messages in progress hidden (tests). */
  visibilityExtensions = 0;
  /** Whether an engine gauge says interactive requests are waiting (then one line at a time). */
  yielding = false;
  private stopped = false;
  private readonly agent: Agent;
  private readonly now: () => number;
  private poller: NodeJS.Timeout | null = null;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly deps: RunnerDeps) {
    this.now = deps.now ?? Date.now;
    this.agent = new Agent({ connections: deps.config.runner.concurrency, keepAliveTimeout: 4000 });
  }

  /**
   * Receives and runs chunks until `stop()`; chunks in progress are finished first. `CHUNKS_AT_ONCE` receive loops
   * share the line limit, so one chunk's S3 reads and writes overlap another's lines.
   */
  async run(): Promise<void> {
    await this.startPolling(); // the first reading comes before the first line
    await Promise.all(Array.from({ length: CHUNKS_AT_ONCE }, () => this.receiveLoop()));
  }

  private async receiveLoop(): Promise<void> {
    const { store, config, logger } = this.deps;
    while (!this.stopped) {
      let messages;
      let receivedAt = 0;
      try {
        const out = await store.sqs.send(new ReceiveMessageCommand({ QueueUrl: store.queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: config.runner.waitSeconds, VisibilityTimeout: config.runner.visibilitySeconds }));
        messages = out.Messages ?? [];
        receivedAt = this.now(); // a little after SQS's own receipt time: VISIBILITY_MARGIN_SECONDS covers it
      } catch (err) {
        logger.warn({ err: (err as Error).message }, "SQS receive failed; retrying in 1 s");
        await sleep(1000);
        continue;
      }
      for (const m of messages) {
        const extending = keepInvisible({
          sqs: store.sqs, queueUrl: store.queueUrl, receiptHandle: m.ReceiptHandle, visibilitySeconds: config.runner.visibilitySeconds,
          receivedAt, now: this.now, logger, onExtend: () => this.visibilityExtensions++,
        });
        try {
          const chunk = JSON.parse(m.Body ?? "") as ChunkMessage;
          const result = await this.runChunk(chunk);
          logger.debug({ batch: chunk.batch_id, chunk: chunk.chunk, ...result }, "chunk done");
          await finalizeIfDone(store, chunk.batch_id, logger, this.now);
          clearInterval(extending);
          await store.sqs.send(new DeleteMessageCommand({ QueueUrl: store.queueUrl, ReceiptHandle: m.ReceiptHandle }));
        } catch (err) {
          clearInterval(extending);
          logger.warn({ err: (err as Error).message, message: m.MessageId }, "chunk failed; it is received again after its visibility timeout");
          // Make it visible again soon rather than after the whole visibility timeout.
          await store.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: store.queueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 5 })).catch(() => undefined);
        }
      }
    }
  }

  stop(): void {
    this.stopped = true;
  }

  async close(): Promise<void> {
    this.stop();
    if (this.poller) clearInterval(this.poller);
    await this.agent.close();
  }

  /** Runs one chunk and writes its results and marker (not the message deletion); a chunk already done is not run again. */
  async runChunk(m: ChunkMessage): Promise<ChunkResult> {
    const { store } = this.deps;
    const record = await store.getJson<BatchRecord>(store.batchRecordKey(m.batch_id));
    if (record === null) throw new Error(`batch ${m.batch_id} has no record`);
    if (await store.chunkDone(m.batch_id, m.chunk)) return { completed: 0, failed: 0, drained: false, expired: false };
    if (record.status === "cancelling" || record.status === "cancelled" || record.status === "failed") {
      await store.put(store.doneKey(m.batch_id, m.chunk, 0, 0, false), "");
      return { completed: 0, failed: 0, drained: true, expired: false };
    }
    const input = await store.read(store.fileContentKey(record.input_file_id), [m.start, m.end]);
    const expired = unixSeconds(this.now()) >= record.expires_at;
    let results: { ok: boolean; text: string }[];
    if (input === null) {
      // The input file was deleted (DELETE /v1/files/{id}) before this chunk ran: its lines fail, the batch still ends.
      results = Array.from({ length: m.lines ?? linesOfChunk(m, record, this.deps.config.linesPerChunk) }, (_, i) => inputDeletedLine(m.first_line + i));
    } else {
      const lines = (await streamText(input.body)).split("\n").filter((l) => l.trim() !== "");
      results = await Promise.all(lines.map((line, i) => (expired ? expiredLine(line) : this.limited(() => this.send(line, m.first_line + i)))));
    }
    const out = results.filter((r) => r.ok).map((r) => r.text);
    const err = results.filter((r) => !r.ok).map((r) => r.text);
    if (out.length > 0) await store.put(store.partKey(m.batch_id, m.chunk, "out"), `${out.join("\n")}\n`, "application/jsonl");
    if (err.length > 0) await store.put(store.partKey(m.batch_id, m.chunk, "err"), `${err.join("\n")}\n`, "application/jsonl");
    await store.put(store.doneKey(m.batch_id, m.chunk, out.length, err.length, expired), "");
    return { completed: out.length, failed: err.length, drained: false, expired };
  }

  /** One line through the activator; `ok` when the answer was 2xx. */
  private async send(line: string, n: number): Promise<{ ok: boolean; text: string }> {
    const id = `batch_req_${randomBytes(12).toString("hex")}`;
    let parsed: { custom_id: string; url: string; body: unknown };
    try {
      parsed = JSON.parse(line) as typeof parsed;
    } catch (e) {
      return { ok: false, text: JSON.stringify({ id, custom_id: null, response: null, error: { code: "invalid_json", message: `line ${n}: ${(e as Error).message}` } }) };
    }
    const { config, apiKey } = this.deps;
    try {
      const res = await request(`${config.runner.activatorUrl}${parsed.url}`, {
        method: "POST",
        dispatcher: this.agent,
        headers: { "content-type": "application/json", ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
        body: JSON.stringify(parsed.body),
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      const raw = await res.body.text();
      let body: unknown = raw;
      try {
        body = JSON.parse(raw);
      } catch {
        // a non-JSON answer is kept as text
      }
      const requestId = res.headers["x-request-id"];
      const response = { status_code: res.statusCode, request_id: typeof requestId === "string" ? requestId : id, body };
      return { ok: res.statusCode >= 200 && res.statusCode < 300, text: JSON.stringify({ id, custom_id: parsed.custom_id, response, error: null }) };
    } catch (e) {
      return { ok: false, text: JSON.stringify({ id, custom_id: parsed.custom_id, response: null, error: { code: "request_failed", message: (e as Error).message } }) };
    }
  }

  /** Runs `task` when a slot is free: `concurrency` slots, one while yielding to interactive traffic. */
  private async limited<T>(task: () => Promise<T>): Promise<T> {
    while (this.active >= (this.yielding ? 1 : this.deps.config.runner.concurrency)) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      return await task();
    } finally {
      this.active--;
      this.waiters.shift()?.();
    }
  }

  private startPolling(): Promise<void> {
    const adminUrl = this.deps.config.runner.adminUrl;
    if (adminUrl === undefined) return Promise.resolve();
    const poll = async (): Promise<void> => {
      try {
        const res = await request(`${adminUrl}/queue`, { dispatcher: this.agent, headersTimeout: 1000, bodyTimeout: 1000 });
        const queue = (await res.body.json()) as { models?: Record<string, { engineWaiting?: number }> };
        this.yielding = shouldYield(queue, this.deps.config.runner.yieldWaitingAbove);
      } catch {
        this.yielding = false; // no reading: run at full concurrency rather than stall
      }
      for (const wake of this.waiters.splice(0)) wake();
    };
    this.poller = setInterval(() => void poll(), POLL_MS);
    this.poller.unref();
    return poll();
  }
}

/** SQS's longest visibility since a message's receipt: a ChangeMessageVisibility past it is rejected, not clamped. */
export const SQS_MAX_VISIBILITY_SECONDS = 43_200;
/** Extensions stop this far short of that limit (the receipt time is read when ReceiveMessage answers). */
export const VISIBILITY_MARGIN_SECONDS = 30;

export interface VisibilityKeeping {
  sqs: Pick<SQSClient, "send">;
  queueUrl: string;
  receiptHandle: string | undefined;
  /** What each extension asks for, seconds; every third of it one is sent. */
  visibilitySeconds: number;
  /** When the message was received, ms (`now`'s clock). */
  receivedAt: number;
  now: () => number;
  logger: Pick<Logger, "warn">;
  onExtend?: () => void;
}

/**
 * Keeps a message hidden while its chunk runs: every third of `visibilitySeconds`, a ChangeMessageVisibility to
 * min(`visibilitySeconds`, what is left of SQS's 12 hours since receipt − `VISIBILITY_MARGIN_SECONDS`) from now
 * (AWS SQS developer guide, "Amazon SQS visibility timeout": the 12-hour maximum counts from receipt, and a longer
 * extension is rejected). At that limit it stops and logs once: the message may then be received again and its
 * chunk run twice (its objects written again, unchanged). A failed extension is logged. Clear the returned timer
 * when the chunk is done.
 */
export function keepInvisible(k: VisibilityKeeping): NodeJS.Timeout {
  const timer = setInterval(() => {
    const left = SQS_MAX_VISIBILITY_SECONDS - VISIBILITY_MARGIN_SECONDS - (k.now() - k.receivedAt) / 1000;
    const seconds = Math.min(k.visibilitySeconds, Math.floor(left));
    if (seconds < 1) {
      clearInterval(timer);
      k.logger.warn({ limitSeconds: SQS_MAX_VISIBILITY_SECONDS }, "a chunk message reached SQS's 12-hour visibility limit since receipt; it is no longer kept hidden and may run again on another runner");
      return;
    }
    k.onExtend?.();
    k.sqs
      .send(new ChangeMessageVisibilityCommand({ QueueUrl: k.queueUrl, ReceiptHandle: k.receiptHandle, VisibilityTimeout: seconds }))
      .catch((err: Error) => k.logger.warn({ err: err.message }, "could not extend a chunk message's visibility timeout"));
  }, (k.visibilitySeconds * 1000) / 3);
  timer.unref();
  return timer;
}

/** True when some model's engine reports more than `above` waiting requests (admin `/queue` `engineWaiting`). */
export function shouldYield(queue: { models?: Record<string, { engineWaiting?: number }> }, above: number): boolean {
  return Object.values(queue.models ?? {}).some((m) => (m.engineWaiting ?? 0) > above);
}

function expiredLine(line: string): { ok: false; text: string } {
  let customId: unknown = null;
  try {
    customId = (JSON.parse(line) as { custom_id?: unknown }).custom_id ?? null;
  } catch {
    // named null
  }
  const id = `batch_req_${randomBytes(12).toString("hex")}`;
  return { ok: false, text: JSON.stringify({ id, custom_id: customId, response: null, error: { code: "batch_expired", message: "This request could not be executed before the completion window expired." } }) };
}

/**
 * Lines of a chunk whose message was queued before messages carried `lines` (the input file, which held the chunk
 * index, is gone): the last chunk ends at the batch's `request_counts.total`; chunk k > 0 starts at k × L + 1 (the
 * upload cut every L = `linesPerChunk` lines, ./lines.ts), so L = (first_line − 1) / k; chunk 0 of several takes
 * the configured `linesPerChunk` (as it was when the batch was created, unless it changed since).
 */
export function linesOfChunk(m: ChunkMessage, record: Pick<BatchRecord, "chunkCount" | "request_counts">, linesPerChunk: number): number {
  const toEnd = record.request_counts.total - m.first_line + 1;
  if (m.chunk >= record.chunkCount - 1) return Math.max(0, toEnd);
  const perChunk = m.chunk > 0 ? (m.first_line - 1) / m.chunk : linesPerChunk;
  return Math.max(0, Math.min(perChunk, toEnd));
}

function inputDeletedLine(n: number): { ok: false; text: string } {
  const id = `batch_req_${randomBytes(12).toString("hex")}`;
  return { ok: false, text: JSON.stringify({ id, custom_id: null, response: null, error: { code: "input_file_deleted", message: `line ${n}: the batch's input file was deleted before this line ran` } }) };
}

async function streamText(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c);
  return Buffer.concat(chunks).toString("utf8");
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
