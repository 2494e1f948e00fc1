/**
 * One list + watch of a Kubernetes collection, kept alive: @kubernetes/client-node's ListWatch (an informer cache),
 * restarted after a backoff whenever it fails (it stops itself on any error but 410 Gone, which it handles by
 * re-listing). `onChange` runs after every add, update and delete with the whole cached list.
 */
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "pino";

const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 30_000;

export interface KeptInformer<T> {
  list(): readonly T[];
  close(): void;
}

export interface InformerSpec<T extends KubernetesObject> {
  /** API path of the collection, e.g. `/api/v1/namespaces/models/pods`. */
  path: string;
  list(): Promise<KubernetesListObject<T>>;
  labelSelector?: string;
  fieldSelector?: string;
  /** For logs: what is watched. */
  what: string;
}

export function keepInformer<T extends KubernetesObject>(
  kc: KubeConfig,
  spec: InformerSpec<T>,
  onChange: (items: readonly T[]) => void,
  logger: Logger,
): KeptInformer<T> {
  const informer = new ListWatch<T>(spec.path, new Watch(kc), spec.list, false, spec.labelSelector, spec.fieldSelector);
  let closed = false;
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;
  const changed = () => {
    failures = 0;
    onChange(informer.list());
  };
  informer.on("add", changed);
  informer.on("update", changed);
  informer.on("delete", changed);
  const restart = (err: unknown) => {
    if (closed) return;
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** failures++);
    logger.warn({ watch: spec.what, err: describe(err), retryInMs: delay }, "watch failed; restarting");
    clearTimeout(retry);
    retry = setTimeout(start, delay);
    retry.unref();
  };
  const start = () => {
    if (closed) return;
    informer.start().then(() => onChange(informer.list()), restart);
  };
  informer.on("error", restart);
  start();
  return {
    list: () => informer.list(),
    close() {
      closed = true;
      clearTimeout(retry);
      void informer.stop();
    },
  };
}

function describe(err: unknown): string {
  if (err && typeof err === "object") {
    const { code, statusCode, message } = err as { code?: unknown; statusCode?: unknown; message?: unknown };
    const status = typeof code === "number" ? code : typeof statusCode === "number" ? statusCode : undefined;
    if (status !== undefined) return `HTTP ${status}`;
    if (typeof message === "string") return message;
  }
  return String(err);
}
