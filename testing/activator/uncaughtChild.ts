/**
 * A child process for tests of the lifecycle's uncaught-error policy (activator/src/lifecycle/lifecycle.ts), run with
 * ts-node: a Lifecycle on the real clock and process events, fake parts whose held count is HELD, the activator's
 * real metrics registry; then the error THROW names ("exception" or "rejection") escapes 20 ms in.
 *
 * stdout: pino JSON lines, then `METRIC <the activator_uncaught_exceptions_total lines>` and `EXIT <code>` when the
 * lifecycle exits, or `KEPT RUNNING` after 500 ms (exit code 0) when it does not.
 */
import pino from "pino";
import { systemClock } from "../../activator/src/base/clock";
import { createMetrics } from "../../activator/src/base/metrics";
import { attachToProcess, Lifecycle } from "../../activator/src/lifecycle/lifecycle";

const logger = pino(pino.destination({ dest: 1, sync: true }));
const metrics = createMetrics({ forEachModel() {} });
const counts = { held: Number(process.env["HELD"] ?? 0), inFlight: 0 };

async function report(): Promise<void> {
  const text = await metrics.registry.metrics();
  const lines = text.split("\n").filter((l) => l.startsWith("activator_uncaught_exceptions_total"));
  process.stdout.write(`METRIC ${lines.join(" | ")}\n`);
}

const lifecycle = new Lifecycle(
  {
    counts: () => counts,
    stopAccepting: () => logger.info("stopAccepting"),
    rejectAllHeld: () => logger.info("rejectAllHeld"),
    cutConnections: () => logger.info("cutConnections"),
    closeRest: async () => logger.info("closeRest"),
  },
  {
    logger,
    clock: systemClock,
    graceMs: () => 200,
    exit: (code) => void report().then(() => (process.stdout.write(`EXIT ${code}\n`), process.exit(code))),
    countUncaught: (kind) => metrics.uncaughtExceptions.inc({ kind }),
  },
);
attachToProcess(lifecycle);
lifecycle.serving();

const keepAlive = setInterval(() => undefined, 1000);
setTimeout(() => {
  if (process.env["THROW"] === "rejection") void Promise.reject(new Error("planted rejection"));
  else throw new Error("planted exception");
}, 20);
setTimeout(() => {
  if (lifecycle.phase !== "serving") return;
  clearInterval(keepAlive);
  void report().then(() => process.stdout.write("KEPT RUNNING\n"));
}, 500);
