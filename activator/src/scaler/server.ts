/**
 * KEDA external scaler (trigger type `external-push`) served over gRPC.
 *
 * - `StreamIsActive`: on open, sends the model's current state (KEDA expects an immediate value). Then it
 *   sends `true` the moment the activity reports "request arrived, no ready replica" for the stream's
 *   model (event-driven, written synchronously from the event), `true` again every heartbeat while the
 *   model has held or in-flight requests, and `false` once when demand has dropped to zero. KEDA handles
 *   `false` like an inactive poll: it scales to zero only after the ScaledObject's cooldownPeriod.
 * - `IsActive`: demand > 0. `GetMetricSpec`: demand with the target concurrency per replica, then any further metric
 *   the activity reports (vLLM gauges) with its own target. `GetMetrics`: the value of the metric KEDA names (demand
 *   when the name is empty or unknown). KEDA creates one HPA metric per spec of the one trigger and the HPA takes the
 *   largest recommendation (kedacore/keda v2.20.2 pkg/scalers/external_scaler.go GetMetricSpecForScaling). Demand is
 *   the activity's: cluster-wide when replicas share it (../peers).
 * - The model is named by the trigger metadata key `model` ("<namespace>/<name>"): missing → INVALID_ARGUMENT,
 *   not configured → NOT_FOUND. A stream whose model disappears on config reload ends with NOT_FOUND.
 */
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { MODEL_METADATA_KEY, type ModelActivity } from "./activity";
import {
  externalScalerService,
  type GetMetricSpecResponse,
  type GetMetricsRequest,
  type GetMetricsResponse,
  type IsActiveResponse,
  type ScaledObjectRef,
} from "./proto";

/** Default heartbeat: how often a stream repeats `true` while its model has demand. */
export const DEFAULT_HEARTBEAT_MS = 1000;
/**
 * Activation events for a model arrive once per cold request, so a burst of hundreds would write hundreds
 * of identical `true`s (each one a RequestScale in KEDA). A stream whose last message was `true` less than
 * this long ago skips the event: KEDA already has it.
 */
export const ACTIVATION_COALESCE_MS = 20;

export interface ScalerServerOptions {
  /** Interface to bind; default "0.0.0.0". */
  host?: string;
  /** Port to bind; 0 picks a free one (returned). */
  port: number;
  activity: ModelActivity;
  logger: Logger;
  /** Period of the `true` heartbeat while a model has demand, and of the demand-dropped check; default 1000 ms. */
  heartbeatMs?: number;
  /** Called once per activation event that was pushed to at least one stream, with (push time − arrival) in seconds. */
  observePushLatency?: (modelKey: string, seconds: number) => void;
}

export interface ScalerServer {
  port: number;
  /** Open StreamIsActive streams (KEDA's connection to the scaler Service lands on one replica: it holds them all). */
  openStreams(): number;
  /** Ends every open stream (status OK: KEDA reconnects), then shuts down, forcing after graceMs. */
  close(graceMs: number): Promise<void>;
}

interface OpenStream {
  readonly call: grpc.ServerWritableStream<ScaledObjectRef, IsActiveResponse>;
  readonly modelKey: string;
  /** Last value written, undefined before the first. */
  lastResult: boolean | undefined;
  /** performance.now() of the last write. */
  lastSentAt: number;
}

/** The metric name reported to KEDA for a model: external metric names must not contain "/" or ".". */
export function metricNameFor(modelKey: string, suffix = "demand"): string {
  return `activator-${suffix}-${modelKey.replace(/[^A-Za-z0-9-]/g, "-")}`;
}

type Resolved = { modelKey: string } | { error: Partial<grpc.StatusObject> };

function resolveModel(ref: ScaledObjectRef | null | undefined, activity: ModelActivity): Resolved {
  const scaledObject = ref ? `${ref.namespace}/${ref.name}` : "(none)";
  const modelKey = ref?.scalerMetadata?.[MODEL_METADATA_KEY];
  if (!modelKey) {
    return {
      error: {
        code: grpc.status.INVALID_ARGUMENT,
        details: `ScaledObject ${scaledObject}: trigger metadata key "${MODEL_METADATA_KEY}" is missing; set it to "<namespace>/<name>" of a model served by the activator`,
      },
    };
  }
  if (!activity.has(modelKey)) {
    return {
      error: {
        code: grpc.status.NOT_FOUND,
        details: `ScaledObject ${scaledObject}: model "${modelKey}" (trigger metadata "${MODEL_METADATA_KEY}") is not configured in the activator`,
      },
    };
  }
  return { modelKey };
}

export async function startScalerServer(opts: ScalerServerOptions): Promise<ScalerServer> {
  const { activity, logger } = opts;
  const heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const streamsByModel = new Map<string, Set<OpenStream>>();

  function send(stream: OpenStream, result: boolean, now: number): void {
    // A client that stopped reading keeps the previous state; IsActive polling still reports the truth.
    if (stream.call.writableNeedDrain) return;
    stream.call.write({ result });
    stream.lastResult = result;
    stream.lastSentAt = now;
  }

  function forget(stream: OpenStream): void {
    const set = streamsByModel.get(stream.modelKey);
    if (set?.delete(stream) && set.size === 0) streamsByModel.delete(stream.modelKey);
  }

  function onActivationNeeded(modelKey: string, arrivedAt: number): void {
    const set = streamsByModel.get(modelKey);
    if (!set) return;
    const now = performance.now();
    let pushed = false;
    for (const stream of set) {
      if (stream.lastResult === true && now - stream.lastSentAt < ACTIVATION_COALESCE_MS) continue;
      send(stream, true, now);
      pushed = true;
    }
    if (pushed) opts.observePushLatency?.(modelKey, (performance.now() - arrivedAt) / 1000);
  }

  function heartbeat(): void {
    const now = performance.now();
    for (const [modelKey, set] of streamsByModel) {
      if (!activity.has(modelKey)) {
        for (const stream of set) {
          stream.call.emit("error", {
            code: grpc.status.NOT_FOUND,
            details: `model "${modelKey}" is no longer configured in the activator`,
          });
        }
        streamsByModel.delete(modelKey);
        continue;
      }
      const active = activity.demand(modelKey) > 0;
      for (const stream of set) {
        if (active || stream.lastResult !== false) send(stream, active, now);
      }
    }
  }

  const handlers: grpc.UntypedServiceImplementation = {
    IsActive(call: grpc.ServerUnaryCall<ScaledObjectRef, IsActiveResponse>, callback: grpc.sendUnaryData<IsActiveResponse>) {
      const resolved = resolveModel(call.request, activity);
      if ("error" in resolved) return rejectUnary(callback, resolved.error, "IsActive");
      callback(null, { result: activity.demand(resolved.modelKey) > 0 });
    },

    GetMetricSpec(
      call: grpc.ServerUnaryCall<ScaledObjectRef, GetMetricSpecResponse>,
      callback: grpc.sendUnaryData<GetMetricSpecResponse>,
    ) {
      const resolved = resolveModel(call.request, activity);
      if ("error" in resolved) return rejectUnary(callback, resolved.error, "GetMetricSpec");
      const key = resolved.modelKey;
      const target = activity.targetConcurrency(key);
      const spec = (metricName: string, t: number) => ({ metricName, targetSize: Math.max(1, Math.round(t)), targetSizeFloat: t });
      callback(null, {
        metricSpecs: [spec(metricNameFor(key), target), ...(activity.extraMetrics?.(key) ?? []).map((m) => spec(metricNameFor(key, m.suffix), m.target))],
      });
    },

    GetMetrics(call: grpc.ServerUnaryCall<GetMetricsRequest, GetMetricsResponse>, callback: grpc.sendUnaryData<GetMetricsResponse>) {
      const resolved = resolveModel(call.request.scaledObjectRef, activity);
      if ("error" in resolved) return rejectUnary(callback, resolved.error, "GetMetrics");
      const key = resolved.modelKey;
      const asked = call.request.metricName;
      const extra = asked ? activity.extraMetrics?.(key).find((m) => metricNameFor(key, m.suffix) === asked) : undefined;
      const value = extra ? extra.value : activity.demand(key);
      callback(null, {
        // metricValue is an int64: a fraction (KV-cache usage) travels in metricValueFloat, which KEDA prefers when > 0.
        metricValues: [{ metricName: asked || metricNameFor(key), metricValue: Math.round(value), metricValueFloat: value }],
      });
    },

    StreamIsActive(call: grpc.ServerWritableStream<ScaledObjectRef, IsActiveResponse>) {
      const resolved = resolveModel(call.request, activity);
      if ("error" in resolved) {
        logger.warn({ rpc: "StreamIsActive", details: resolved.error.details }, "scaler request refused");
        call.emit("error", resolved.error);
        return;
      }
      const stream: OpenStream = { call, modelKey: resolved.modelKey, lastResult: undefined, lastSentAt: 0 };
      let set = streamsByModel.get(stream.modelKey);
      if (!set) streamsByModel.set(stream.modelKey, (set = new Set()));
      set.add(stream);
      call.on("cancelled", () => forget(stream));
      call.on("close", () => forget(stream));
      call.on("error", () => forget(stream));
      logger.debug({ model: stream.modelKey, peer: call.getPeer() }, "StreamIsActive opened");
      send(stream, activity.demand(stream.modelKey) > 0, performance.now());
    },
  };

  function rejectUnary(callback: grpc.sendUnaryData<never>, error: Partial<grpc.StatusObject>, rpc: string): void {
    logger.warn({ rpc, details: error.details }, "scaler request refused");
    callback(error, null);
  }

  const server = new grpc.Server();
  server.addService(externalScalerService().service, handlers);
  const host = opts.host ?? "0.0.0.0";
  const address = host.includes(":") ? `[${host}]:${opts.port}` : `${host}:${opts.port}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, boundPort) =>
      err ? reject(new Error(`scaler gRPC listener could not bind ${address}: ${err.message}`)) : resolve(boundPort),
    );
  });
  const unsubscribe = activity.onActivationNeeded(onActivationNeeded);
  const timer = setInterval(heartbeat, heartbeatMs);
  timer.unref();
  logger.info({ address: host, port, heartbeatMs }, "KEDA external scaler listening");

  let closing: Promise<void> | undefined;
  return {
    port,
    openStreams() {
      let n = 0;
      for (const set of streamsByModel.values()) n += set.size;
      return n;
    },
    close(graceMs: number): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(timer);
        unsubscribe();
        for (const set of streamsByModel.values()) for (const stream of set) stream.call.end();
        streamsByModel.clear();
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return closing;
    },
  };
}
