/**
 * A gRPC client built from our externalscaler.proto that plays KEDA against the activator's scaler.
 *
 *   const keda = new KedaClient("127.0.0.1:9090");
 *   const stream = keda.streamIsActive("default/llama");     // opens StreamIsActive for trigger metadata model=default/llama
 *   const first = await stream.next();                        // { result, at, epochMs }: the value sent on open
 *   const push = await stream.nextTrue(2000);                 // next `true` not yet consumed (rejects after 2 s)
 *   stream.onEvent((e) => { if (e.result) backend.start(); }); // "start the backend when told active"
 *   await keda.isActive("default/llama");                     // boolean
 *   await keda.getMetrics("default/llama");                   // [{ metricName, metricValue, metricValueFloat }]
 *   await keda.getMetricSpec("default/llama");                // [{ metricName, targetSize, targetSizeFloat }]
 *   stream.cancel(); keda.close();
 *
 * `at` is performance.now() in this process when the message was received (compare with an in-process
 * activator's arrival times); `epochMs` = performance.timeOrigin + at, comparable across processes on
 * the same machine. Unary errors reject with the grpc ServiceError (`code`, `details`). Pass `metadata`
 * to override the trigger metadata sent (e.g. {} to omit `model`).
 */
import * as grpc from "@grpc/grpc-js";
import {
  externalScalerService,
  type GetMetricSpecResponse,
  type GetMetricsResponse,
  type IsActiveResponse,
  type MetricSpec,
  type MetricValue,
  type ScaledObjectRef,
} from "../../activator/src/scaler/proto";

export interface StreamEvent {
  result: boolean;
  /** performance.now() at receipt. */
  at: number;
  /** Wall-clock ms at receipt (performance.timeOrigin + at). */
  epochMs: number;
}

export interface StreamEnd {
  code: grpc.status;
  details: string;
}

export interface RefOptions {
  /** ScaledObject name; default: the model's name part. */
  name?: string;
  /** ScaledObject namespace; default: the model's namespace part. */
  namespace?: string;
  /** Trigger metadata sent as scalerMetadata; default { model }. */
  metadata?: Record<string, string>;
}

function refFor(model: string, opts: RefOptions = {}): ScaledObjectRef {
  const [namespace = "", name = ""] = model.split("/");
  return {
    name: opts.name ?? name,
    namespace: opts.namespace ?? namespace,
    scalerMetadata: opts.metadata ?? { model },
  };
}

type Waiter = { accept: (e: StreamEvent) => boolean; resolve: (e: StreamEvent) => void };

export class IsActiveStream {
  /** Every message received, in order. */
  readonly events: StreamEvent[] = [];
  /** Resolves when the server ends the stream (OK, error status, or CANCELLED after cancel()). */
  readonly ended: Promise<StreamEnd>;
  private cursor = 0;
  private waiter: Waiter | undefined;
  private readonly listeners: Array<(e: StreamEvent) => void> = [];
  private endedWith: StreamEnd | undefined;

  constructor(private readonly call: grpc.ClientReadableStream<IsActiveResponse>) {
    call.on("data", (msg: IsActiveResponse) => {
      const at = performance.now();
      const event = { result: msg.result, at, epochMs: performance.timeOrigin + at };
      this.events.push(event);
      for (const listener of this.listeners) listener(event);
      this.deliver();
    });
    this.ended = new Promise((resolve) => {
      call.on("status", (s: grpc.StatusObject) => {
        this.endedWith = { code: s.code, details: s.details };
        resolve(this.endedWith);
      });
    });
    // Errors arrive as the status too; without a listener an "error" event would throw.
    call.on("error", () => undefined);
  }

  /** Called for every message as it arrives (in addition to the queue read by next/nextTrue). */
  onEvent(listener: (e: StreamEvent) => void): void {
    this.listeners.push(listener);
  }

  /** The next message not yet consumed. */
  next(timeoutMs = 5000): Promise<StreamEvent> {
    return this.take(() => true, timeoutMs, "a message");
  }

  /** Consumes messages up to and including the next `true`. */
  nextTrue(timeoutMs = 5000): Promise<StreamEvent> {
    return this.take((e) => e.result, timeoutMs, "a true message");
  }

  /** Consumes messages up to and including the next `false`. */
  nextFalse(timeoutMs = 5000): Promise<StreamEvent> {
    return this.take((e) => !e.result, timeoutMs, "a false message");
  }

  /** Marks everything received so far as consumed. */
  skipReceived(): void {
    this.cursor = this.events.length;
  }

  /** Cancels the call from the client side, as KEDA does when a ScaledObject goes away. */
  cancel(): void {
    this.call.cancel();
  }

  private take(accept: (e: StreamEvent) => boolean, timeoutMs: number, what: string): Promise<StreamEvent> {
    if (this.waiter) return Promise.reject(new Error("IsActiveStream: one next*() at a time"));
    return new Promise<StreamEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        const state = this.endedWith ? `stream ended: ${this.endedWith.code} ${this.endedWith.details}` : "stream open";
        reject(new Error(`no ${what} within ${timeoutMs} ms (${state}; received ${this.events.length})`));
      }, timeoutMs);
      this.waiter = {
        accept,
        resolve: (e) => {
          clearTimeout(timer);
          this.waiter = undefined;
          resolve(e);
        },
      };
      this.deliver();
    });
  }

  private deliver(): void {
    while (this.waiter && this.cursor < this.events.length) {
      const event = this.events[this.cursor++]!;
      if (this.waiter.accept(event)) this.waiter.resolve(event);
    }
  }
}

export class KedaClient {
  private readonly client: grpc.Client & Record<string, Function>;

  /** address: "host:port" of the activator's scaler listener. */
  constructor(address: string) {
    const Ctor = externalScalerService();
    this.client = new Ctor(address, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
  }

  streamIsActive(model: string, opts?: RefOptions): IsActiveStream {
    return new IsActiveStream(this.client.StreamIsActive(refFor(model, opts)));
  }

  async isActive(model: string, opts?: RefOptions): Promise<boolean> {
    const res = await this.unary<IsActiveResponse>("IsActive", refFor(model, opts));
    return res.result;
  }

  async getMetricSpec(model: string, opts?: RefOptions): Promise<MetricSpec[]> {
    const res = await this.unary<GetMetricSpecResponse>("GetMetricSpec", refFor(model, opts));
    return res.metricSpecs;
  }

  async getMetrics(model: string, metricName = "", opts?: RefOptions): Promise<MetricValue[]> {
    const res = await this.unary<GetMetricsResponse>("GetMetrics", { scaledObjectRef: refFor(model, opts), metricName });
    return res.metricValues;
  }

  close(): void {
    this.client.close();
  }

  private unary<T>(method: string, request: object): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.client[method]!(request, { deadline: Date.now() + 5000 }, (err: grpc.ServiceError | null, res: T) =>
        err ? reject(err) : resolve(res),
      );
    });
  }
}
