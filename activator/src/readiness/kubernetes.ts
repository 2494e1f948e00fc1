/**
 * Kubernetes-mode readiness: one list + watch per model of the `discovery.k8s.io/v1` EndpointSlices labelled
 * `kubernetes.io/service-name=<serviceName>` in the model's namespace. Ready while any endpoint of any slice
 * is ready (`conditions.ready` nil counts as ready, as the API documents). The ready count is tracked per
 * slice, so ADDED/MODIFIED replace a slice's count and DELETED drops it.
 *
 * The watch resumes from the last resourceVersion when the server ends it normally (every
 * WATCH_TIMEOUT_SECONDS). On any error (list failure, watch failure, ERROR event such as 410 Gone) it
 * re-lists after a backoff (RETRY_MIN_MS doubling to RETRY_MAX_MS), keeping the last known state meanwhile;
 * so does a watch still open 30 s past its timeout (a dead connection the server could not end).
 */
import { DiscoveryV1Api, KubeConfig, Watch, type V1EndpointSlice } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { ReadinessTarget } from "./types";
import { ReadinessState } from "./state";

export const WATCH_TIMEOUT_SECONDS = 300;
/** A watch still open this long after WATCH_TIMEOUT_SECONDS is on a dead connection: abort and re-list. */
const WATCH_GRACE_MS = 30_000;
export const RETRY_MIN_MS = 200;
export const RETRY_MAX_MS = 30_000;
/** A watch the server ends sooner than this after opening counts as a failure (no hot reconnect loop). */
const MIN_HEALTHY_WATCH_MS = 1000;

export function readyEndpointCount(slice: V1EndpointSlice): number {
  let count = 0;
  for (const endpoint of slice.endpoints ?? []) if (endpoint.conditions?.ready !== false) count++;
  return count;
}

/** `http://<address>:<port>` of each ready endpoint (first address; the slice's first port), IPv6 in brackets. */
export function readyEndpointUrls(slice: V1EndpointSlice): string[] {
  const port = slice.ports?.[0]?.port;
  if (port === undefined) return [];
  const urls: string[] = [];
  for (const endpoint of slice.endpoints ?? []) {
    const ip = endpoint.addresses?.[0];
    if (ip !== undefined && endpoint.conditions?.ready !== false) urls.push(ip.includes(":") ? `http://[${ip}]:${port}` : `http://${ip}:${port}`);
  }
  return urls;
}

export class EndpointSliceReadiness extends ReadinessState {
  private readonly api: DiscoveryV1Api;
  private readonly watcher: Watch;
  private readonly namespace: string;
  private readonly labelSelector: string;
  private readonly watchPath: string;
  private readonly service: string;
  private readonly readyBySlice = new Map<string, number>();
  private readonly urlsBySlice = new Map<string, string[]>();
  private resourceVersion = "";
  /** Bumped on every (re)sync and on close: callbacks of an older list or watch are ignored. */
  private generation = 0;
  private listing = false;
  private watchAbort: AbortController | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private readyCount = 0;
  /** The ready endpoints, rebuilt on every change (a new array: readers may compare identity). */
  private endpointList: readonly string[] = [];
  readonly direct = true;

  constructor(target: ReadinessTarget, logger: Logger, kubeConfig?: KubeConfig) {
    super(target.modelKey, logger);
    const kc = kubeConfig ?? defaultKubeConfig();
    this.api = kc.makeApiClient(DiscoveryV1Api);
    this.watcher = new Watch(kc);
    this.namespace = target.namespace;
    this.service = `${target.namespace}/${target.serviceName}`;
    this.labelSelector = `kubernetes.io/service-name=${target.serviceName}`;
    this.watchPath = `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(target.namespace)}/endpointslices`;
    void this.sync();
  }

  /** Ready endpoints across the Service's slices (the holding module meters per-replica concurrency with it). */
  override get readyReplicas(): number {
    return this.readyCount;
  }

  override get endpoints(): readonly string[] {
    return this.endpointList;
  }

  /** Endpoint changes are pushed by the watch: there is nothing to speed up. */
  wake(): void {}

  /** Not ready until the API says otherwise: re-list now rather than trust a possibly stale slice. */
  markUnready(reason: string): void {
    if (this.closed) return;
    this.observe(false, `${reason}; re-listing EndpointSlices of Service ${this.service}`);
    // A list already under way, or a retry waiting out its backoff, will bring the fresh state.
    if (!this.listing && !this.retryTimer) void this.sync();
  }

  protected stop(): void {
    this.generation++;
    this.endWatch();
    clearTimeout(this.retryTimer);
  }

  private endWatch(): void {
    clearTimeout(this.watchdog);
    this.watchAbort?.abort();
    this.watchAbort = undefined;
  }

  /** List, then watch from the list's resourceVersion. */
  private async sync(): Promise<void> {
    const generation = ++this.generation;
    this.endWatch();
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.listing = true;
    try {
      const list = await this.api.listNamespacedEndpointSlice({ namespace: this.namespace, labelSelector: this.labelSelector });
      if (generation !== this.generation) return;
      this.readyBySlice.clear();
      this.urlsBySlice.clear();
      for (const slice of list.items) {
        this.readyBySlice.set(slice.metadata?.name ?? "", readyEndpointCount(slice));
        this.urlsBySlice.set(slice.metadata?.name ?? "", readyEndpointUrls(slice));
      }
      this.resourceVersion = list.metadata?.resourceVersion ?? "";
      this.evaluate("list");
    } catch (err) {
      if (generation === this.generation) this.retry(`listing EndpointSlices of Service ${this.service} failed: ${describe(err)}`);
      return;
    } finally {
      if (generation === this.generation) this.listing = false;
    }
    await this.watch(generation);
  }

  private async watch(generation: number): Promise<void> {
    const startedAt = performance.now();
    try {
      const controller = await this.watcher.watch(
        this.watchPath,
        {
          labelSelector: this.labelSelector,
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: WATCH_TIMEOUT_SECONDS,
        },
        (type: string, obj: V1EndpointSlice & { code?: number; message?: string }) => this.onEvent(generation, type, obj),
        (err: unknown) => this.onWatchEnd(generation, err, startedAt),
      );
      if (generation !== this.generation) {
        controller.abort();
        return;
      }
      this.watchAbort = controller;
      clearTimeout(this.watchdog);
      this.watchdog = setTimeout(() => {
        if (generation === this.generation) this.retry(`watch of EndpointSlices of Service ${this.service} outlived its timeout`);
      }, WATCH_TIMEOUT_SECONDS * 1000 + WATCH_GRACE_MS);
      this.watchdog.unref();
    } catch (err) {
      if (generation === this.generation) this.retry(`watching EndpointSlices of Service ${this.service} failed: ${describe(err)}`);
    }
  }

  private onEvent(generation: number, type: string, obj: V1EndpointSlice & { code?: number; message?: string }): void {
    if (generation !== this.generation) return;
    if (type === "ERROR") {
      // A Status object, typically 410 Gone (resourceVersion too old): start over from a fresh list.
      this.resourceVersion = "";
      this.retry(`watch of Service ${this.service} reported ${obj.code ?? "an error"}: ${obj.message ?? "no message"}`);
      return;
    }
    this.resourceVersion = obj.metadata?.resourceVersion ?? this.resourceVersion;
    this.failures = 0;
    if (type === "BOOKMARK") return;
    const name = obj.metadata?.name ?? "";
    if (type === "DELETED") {
      this.readyBySlice.delete(name);
      this.urlsBySlice.delete(name);
    } else {
      this.readyBySlice.set(name, readyEndpointCount(obj));
      this.urlsBySlice.set(name, readyEndpointUrls(obj));
    }
    this.evaluate(`${type} ${name}`);
  }

  private onWatchEnd(generation: number, err: unknown, startedAt: number): void {
    if (generation !== this.generation) return;
    clearTimeout(this.watchdog);
    this.watchAbort = undefined;
    if (err) {
      this.retry(`watch of EndpointSlices of Service ${this.service} failed: ${describe(err)}`);
    } else if (performance.now() - startedAt < MIN_HEALTHY_WATCH_MS) {
      this.retry(`watch of EndpointSlices of Service ${this.service} was closed by the server right after opening`);
    } else if (this.resourceVersion) {
      void this.watch(generation); // normal end of a long watch: resume where it stopped
    } else {
      void this.sync();
    }
  }

  /** Keeps the last known state, says why in lastObserved, and re-lists after the backoff. */
  private retry(problem: string): void {
    this.generation++;
    this.endWatch();
    this.listing = false;
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** this.failures);
    this.failures++;
    const observed = `${problem}; re-listing in ${delay} ms`;
    this.logger.warn({ model: this.modelKey, service: this.service }, observed);
    this.observe(this.ready, observed);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.sync(), delay);
    this.retryTimer.unref();
  }

  private replicasListener: (() => void) | undefined;

  onReplicasChange(listener: () => void): void {
    this.replicasListener = listener;
  }

  private evaluate(cause: string): void {
    let endpoints = 0;
    for (const count of this.readyBySlice.values()) endpoints += count;
    const before = this.readyCount;
    this.readyCount = endpoints;
    this.endpointList = [...new Set([...this.urlsBySlice.values()].flat())];
    this.observe(
      endpoints > 0,
      `EndpointSlices of Service ${this.service}: ${endpoints} ready endpoint(s) in ${this.readyBySlice.size} slice(s) (after ${cause})`,
    );
    // From 0 the ready promise releases the held requests; between two non-zero counts only this tells the holder.
    if (before > 0 && endpoints > 0 && endpoints !== before) this.replicasListener?.();
  }
}

function defaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

function describe(err: unknown): string {
  if (err && typeof err === "object") {
    const { code, statusCode, body, message } = err as { code?: unknown; statusCode?: unknown; body?: unknown; message?: unknown };
    const status = typeof code === "number" ? code : typeof statusCode === "number" ? statusCode : undefined;
    if (status !== undefined) {
      const detail = typeof body === "object" && body && "message" in body ? String((body as { message: unknown }).message) : "";
      return `HTTP ${status}${detail ? ` ${detail}` : ""}`;
    }
    if (typeof message === "string") return typeof code === "string" ? `${code} (${message})` : message;
  }
  return String(err);
}
