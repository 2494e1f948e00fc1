/**
 * KEDA external scaler (trigger type `external-push`) served over gRPC.
 *
 * - "Active" is defined once, in ./activity `activeSince`: demand now, or a request arrived or ended since the previous
 *   report to the same reader (each stream; the IsActive polls of each model).
 * - `StreamIsActive`: on open, sends the model's current state (KEDA expects an immediate value). Then it
 *   sends `true` the moment the activity reports "request arrived, no ready replica" (or "queue backlog turned
 *   active", ../queue) for the stream's model (event-driven, written synchronously from the event), `true` when a request finds a warm model idle (at most
 *   one per TRAFFIC_PUSH_MIN_MS; busy traffic rides the heartbeat), `true` again every heartbeat while the model is
 *   active, and `false` once when it is not. KEDA ignores a `false` on the stream; its polls decide scale-to-zero after the cooldownPeriod.
 * - `IsActive`: active since the previous IsActive for the model. `GetMetricSpec`: demand with the target concurrency per replica, then any further metric
 *   the activity reports (vLLM gauges) with its own target. `GetMetrics`: the value of the metric KEDA names (demand
 *   when the name is empty or unknown). KEDA creates one HPA metric per spec of the one trigger and the HPA takes the
 *   largest recommendation (kedacore/keda v2.20.2 pkg/scalers/external_scaler.go GetMetricSpecForScaling). Demand is
 *   the activity's: cluster-wide when replicas share it (../peers).
 * - The model is named by the trigger metadata key `model` ("<namespace>/<name>"): missing → INVALID_ARGUMENT,
 *   not configured → NOT_FOUND. A stream whose model disappears on config reload ends with NOT_FOUND.
 */
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { ActivityReports, MODEL_METADATA_KEY, type ModelActivity } from "./activity";
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
/**
 * A request that finds its model idle pushes `true` at once (KEDA's lastActiveTime follows light traffic as it
 * happens), unless the stream had such a push less than this long ago: each `true` is a RequestScale in KEDA, and a
 * client sending one request after another would otherwise cost one per request. Heartbeats are not counted: a
 * heartbeat's `true` told KEDA of earlier requests, not of this one.
 */
export const TRAFFIC_PUSH_MIN_MS = 1000;

export interface ScalerServerOptions {
  /** Interface to bind; default "0.0.0.0". */
  host?: string;
  /** Port to bind; 0 picks a free one (returned). */
  port: number;
  activity: ModelActivity;
  logger: Logger;
  /** Period of the `true` heartbeat while a model has demand, and of the demand-dropped check; default 1000 ms. */
  heartbeatMs?: number;
  /** The activity's clock, ms; default performance.now (tests inject one). */
  now?: () => number;
  /** Called once per request activation event pushed to at least one stream, with (push time − arrival) in seconds (not for a queue backlog's). */
  observePushLatency?: (modelKey: string, seconds: number) => void;
  /**
   * Called whenever KEDA calls in for a model (IsActive, GetMetricSpec, GetMetrics, a StreamIsActive opened). KEDA's
   * one connection has no keepalive (kedacore/keda v2.20.2 pkg/scalers/external_scaler.go dials without keepalive
   * parameters): a replica that hears nothing from KEDA while requests are held is how a stalled connection shows.
   */
  onKedaCall?: (modelKey: string) => void;
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
  /** performance.now() of the last `true` pushed for a request that found the model idle; -Infinity before. */
  lastTrafficPushAt: number;
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
  const now = opts.now ?? (() => performance.now());
  // Readers: each stream, and the IsActive polls of each model (keyed by the model key).
  const reports = new ActivityReports<OpenStream | string>(activity, heartbeatMs, now);

  function send(stream: OpenStream, result: boolean, at: number): void {
    // A client that stopped reading keeps the previous state; IsActive polling still reports the truth.
    if (stream.call.writableNeedDrain) return;
    stream.call.write({ result });
    stream.lastResult = result;
    stream.lastSentAt = at;
  }

  /** Reports the model's activity to the stream (a `false` only once in a row; nothing while it does not read). */
  function report(stream: OpenStream, at: number): void {
    if (stream.call.writableNeedDrain) return; // not reported: the activity stays to be told
    const active = reports.report(stream, stream.modelKey);
    if (active || stream.lastResult !== false) send(stream, active, at);
  }

  /**
   * A request arrived for the model (here, before it is counted, or at a peer). One that finds the model idle is told
   * at once, unless such a push went out within TRAFFIC_PUSH_MIN_MS; one that joins requests in flight rides the
   * heartbeat (the model is active anyway).
   */
  function onRequest(modelKey: string): void {
    const set = streamsByModel.get(modelKey);
    if (!set || activity.demand(modelKey) > 0) return;
    const at = now();
    for (const stream of set) {
      if (at - stream.lastTrafficPushAt < TRAFFIC_PUSH_MIN_MS) continue;
      stream.lastTrafficPushAt = at;
      report(stream, at);
    }
  }

  function forget(stream: OpenStream): void {
    reports.forget(stream);
    const set = streamsByModel.get(stream.modelKey);
    if (set?.delete(stream) && set.size === 0) streamsByModel.delete(stream.modelKey);
  }

  function onActivationNeeded(modelKey: string, arrivedAt?: number): void {
    const set = streamsByModel.get(modelKey);
    if (!set) return;
    const at = now();
    let pushed = false;
    for (const stream of set) {
      if (stream.lastResult === true && at - stream.lastSentAt < ACTIVATION_COALESCE_MS) continue;
      if (!stream.call.writableNeedDrain) reports.report(stream, modelKey); // the arrival is told by this `true`
      send(stream, true, at);
      pushed = true;
    }
    // Push latency is a request's (arrival → `true`); a backlog's activation has no arrival and is not observed.
    if (pushed && arrivedAt !== undefined) opts.observePushLatency?.(modelKey, (performance.now() - arrivedAt) / 1000);
  }

  function heartbeat(): void {
    const at = now();
    for (const [modelKey, set] of streamsByModel) {
      if (!activity.has(modelKey)) {
        for (const stream of set) {
          stream.call.emit("error", {
            code: grpc.status.NOT_FOUND,
            details: `model "${modelKey}" is no longer configured in the activator`,
          });
        }
        streamsByModel.delete(modelKey);
        reports.forget(modelKey);
        continue;
      }
      for (const stream of set) report(stream, at);
    }
  }

  const handlers: grpc.UntypedServiceImplementation = {
    IsActive(call: grpc.ServerUnaryCall<ScaledObjectRef, IsActiveResponse>, callback: grpc.sendUnaryData<IsActiveResponse>) {
      const resolved = resolveModel(call.request, activity);
      if ("error" in resolved) return rejectUnary(callback, resolved.error, "IsActive");
      opts.onKedaCall?.(resolved.modelKey);
      callback(null, { result: reports.report(resolved.modelKey, resolved.modelKey) });
    },

    GetMetricSpec(
      call: grpc.ServerUnaryCall<ScaledObjectRef, GetMetricSpecResponse>,
      callback: grpc.sendUnaryData<GetMetricSpecResponse>,
    ) {
      const resolved = resolveModel(call.request, activity);
      if ("error" in resolved) return rejectUnary(callback, resolved.error, "GetMetricSpec");
      opts.onKedaCall?.(resolved.modelKey);
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
      opts.onKedaCall?.(resolved.modelKey);
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
      const stream: OpenStream = { call, modelKey: resolved.modelKey, lastResult: undefined, lastSentAt: 0, lastTrafficPushAt: -Infinity };
      let set = streamsByModel.get(stream.modelKey);
      if (!set) streamsByModel.set(stream.modelKey, (set = new Set()));
      set.add(stream);
      call.on("cancelled", () => forget(stream));
      call.on("close", () => forget(stream));
      call.on("error", () => forget(stream));
      logger.debug({ model: stream.modelKey, peer: call.getPeer() }, "StreamIsActive opened");
      opts.onKedaCall?.(stream.modelKey);
      report(stream, now()); // KEDA expects a first value, `false` included
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
  const unsubscribeActivation = activity.onActivationNeeded(onActivationNeeded);
  const unsubscribeRequests = activity.onRequest?.(onRequest);
  const unsubscribe = () => {
    unsubscribeActivation();
    unsubscribeRequests?.();
  };
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
