/**
 * keepInvisible (activator/src/batch/runner.ts): while a chunk runs, its SQS message is kept hidden by
 * ChangeMessageVisibility every third of `visibilitySeconds`, never asking past SQS's 12 hours since receipt (AWS
 * rejects such a call rather than clamping it): the last extension asks only for what is left, then it stops and
 * says so once. Against a recording SQS client and an injected clock (real timers: 1 s between extensions).
 */
import { strict as assert } from "node:assert";
import type { ChangeMessageVisibilityCommand } from "@aws-sdk/client-sqs";
import { keepInvisible, SQS_MAX_VISIBILITY_SECONDS, VISIBILITY_MARGIN_SECONDS } from "../../../activator/src/batch/runner";
import { batchConfigSchema } from "../../../activator/src/config/batch";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("activator: batch runner keeps a chunk message hidden within SQS's 12 hours since receipt", () => {
  it("asks visibilitySeconds while far from the limit, then only what is left, then stops and logs once", async () => {
    const receivedAt = 1_000_000;
    const limit = SQS_MAX_VISIBILITY_SECONDS - VISIBILITY_MARGIN_SECONDS;
    // The clock as each tick reads it: just received; 2 s short of the limit; at it; (no more ticks expected).
    const clock = [receivedAt, receivedAt + (limit - 2) * 1000, receivedAt + limit * 1000];
    let tick = 0;
    const asked: { seconds: number; elapsed: number }[] = [];
    const warnings: string[] = [];
    const timer = keepInvisible({
      sqs: { send: async (c: ChangeMessageVisibilityCommand) => void asked.push({ seconds: c.input.VisibilityTimeout!, elapsed: (clock[tick - 1]! - receivedAt) / 1000 }) } as never,
      queueUrl: "http://sqs.local/q", receiptHandle: "r", visibilitySeconds: 3, receivedAt,
      now: () => clock[Math.min(tick++, 2)]!,
      logger: { warn: (_o: unknown, msg?: string) => void warnings.push(msg ?? "") } as never,
    });
    try {
      await sleep(4500); // ticks at 1, 2, 3 and 4 s
    } finally {
      clearInterval(timer);
    }
    assert.deepEqual(asked.map((a) => a.seconds), [3, 2], "the full timeout, then the 2 s left");
    for (const a of asked) assert.ok(a.elapsed + a.seconds <= SQS_MAX_VISIBILITY_SECONDS, `asked ${a.seconds} s at ${a.elapsed} s since receipt`);
    assert.equal(warnings.length, 1, "one warning at the limit, and no call after it");
    assert.match(warnings[0]!, /12-hour/);
    assert.equal(tick, 3, "it stopped reading the clock (its timer is cleared)");
  });

  it("visibilitySeconds is at most 32 400: its first extension, a third in, stays within 12 h", () => {
    assert.equal(batchConfigSchema.parse({ bucket: "b-1", queueUrl: "http://q", runner: { visibilitySeconds: 32_400 } }).runner.visibilitySeconds, 32_400);
    assert.throws(() => batchConfigSchema.parse({ bucket: "b-1", queueUrl: "http://q", runner: { visibilitySeconds: 32_401 } }), /32400|32 400|<=/);
  });
});
