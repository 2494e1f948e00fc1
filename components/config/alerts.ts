/**
 * Stack key `alerts`: the thresholds of the alerts the stack ships (`components/manifests/operations/alertRules.ts`). Every
 * threshold has a default; durations are Prometheus durations (`5m`, `1h`).
 */
import { z } from "zod";
import { prometheusDurationProblem } from "../domain/checks";

const quote = (v: unknown) => JSON.stringify(v);
const duration = z.string().check((ctx) => {
    const problem = prometheusDurationProblem(ctx.value);
    if (problem !== undefined) ctx.issues.push({ code: "custom", input: ctx.value, message: problem });
});
const notA = (what: string) => (iss: { code: string; input?: unknown }) => (iss.code === "invalid_type" ? `${quote(iss.input)} is not ${what}` : undefined);
const positive = z.number({ error: notA("a number") }).positive({ error: (iss) => `${quote(iss.input)} must be above 0` });
const fraction = (iss: { input?: unknown }) => `${quote(iss.input)} must be a fraction above 0 and below 1, e.g. 0.9`;
const ratio = z.number({ error: notA("a number") }).gt(0, { error: fraction }).lt(1, { error: fraction });
const count = z.int({ error: notA("a whole number") }).min(1, { error: (iss) => `${quote(iss.input)} must be 1 or more` });

/** A strict object whose unknown keys are named with the known ones (as schema.ts's sections do). */
function section<S extends z.ZodRawShape>(shape: S) {
    const known = Object.keys(shape).join(", ");
    return z.strictObject(shape, { error: (iss) => (iss.code === "unrecognized_keys" ? `unknown key; known keys: ${known}` : undefined) });
}

export const alertsSchema = section({
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
}).prefault({});

export type AlertThresholds = z.output<typeof alertsSchema>;

/** Stack keys of this module. */
export const alertStackKeys = {
    /** Alert thresholds; see docs/operations.md "Alerts". */
    alerts: alertsSchema,
};
