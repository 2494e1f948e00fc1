/**
 * Stack key `alerts`: the thresholds of the alerts the stack ships (`components/operations/alertRules.ts`). Every
 * threshold has a default; durations are Prometheus durations (`5m`, `1h`).
 */
import { z } from "zod";
import { prometheusDurationProblem } from "../values/checks";

const quote = (v: unknown) => JSON.stringify(v);
const duration = z.string().check((ctx) => {
    const problem = prometheusDurationProblem(ctx.value);
    if (problem !== undefined) ctx.issues.push({ code: "custom", input: ctx.value, message: problem });
});
const positive = z.number({ error: (iss) => `${quote(iss.input)} is not a number` }).positive();
const ratio = z
    .number({ error: (iss) => `${quote(iss.input)} is not a number` })
    .gt(0, { error: "must be a fraction above 0 and below 1, e.g. 0.9" })
    .lt(1, { error: "must be a fraction above 0 and below 1, e.g. 0.9" });
const count = z.int({ error: (iss) => `${quote(iss.input)} is not a whole number` }).min(1);

export const alertsSchema = z
    .strictObject({
        /** Requests held for one model (summed over activator replicas) above which `ModelHeldRequestsHigh` fires. Default 20. */
        heldRequests: count.default(20),
        /** How long the held queue must stay above `heldRequests`. Default 5m. */
        heldRequestsFor: duration.default("5m"),
        /** Cold starts ending in `timeout` or `failed` within `coldStartFailuresWindow` that fire `ModelColdStartsFailing`. Default 1. */
        coldStartFailures: count.default(1),
        /** Window over which cold-start failures are counted. Default 30m. */
        coldStartFailuresWindow: duration.default("30m"),
        /** Used / total framebuffer of one GPU above which `GpuMemoryNearlyFull` fires (5 minutes). Default 0.95 (vLLM takes 0.9 up front). */
        gpuMemoryUsage: ratio.default(0.95),
        /** How long KEDA must keep reporting scaler or ScaledObject errors before `KedaScalerErrors`/`KedaScaledObjectErrors` fire. Default 10m. */
        kedaErrorsFor: duration.default("10m"),
        /** A scale-to-zero model with replicas and no request for this long (at least its cooldown + polling + 2 minutes) fires `ModelPinnedWhileIdle`. Default 15m. */
        modelIdleFor: duration.default("15m"),
        /** Activator working-set memory / its memory limit above which `ActivatorMemoryNearLimit` fires (5 minutes). Default 0.85. */
        activatorMemoryUsage: ratio.default(0.85),
        /** Activator container restarts within 15 minutes that fire `ActivatorRestarting`. Default 1. */
        activatorRestarts: count.default(1),
        /** p99 of the activator's forward → response-headers latency, in seconds, above which `ModelLatencyHigh` fires. Default 30. */
        latencyP99Seconds: positive.default(30),
        /** Share of a model's answered requests with a 5xx status above which `ModelErrorRateHigh` fires. Default 0.05. */
        errorRatio: ratio.default(0.05),
        /** How long latency or error rate must stay above its threshold. Default 10m. */
        degradedFor: duration.default("10m"),
    })
    .prefault({});

export type AlertThresholds = z.output<typeof alertsSchema>;

/** Stack keys of this module. */
export const alertStackKeys = {
    /** Alert thresholds; see README "Alerts". */
    alerts: alertsSchema,
};
