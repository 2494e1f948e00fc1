/**
 * Readiness mode `kubernetes`: watches, per model namespace and shared by its models, the predictor Pods and
 * ReplicaSets (label `serving.kserve.io/inferenceservice`, which KServe sets on the pod template), the Events about
 * Pods, and the InferenceServices; after every change it diagnoses each model of the namespace (./causes) and reports
 * a changed cause at once. Read only: `list` and `watch` on pods, events, replicasets and inferenceservices in the
 * model namespaces (RBAC in components/manifests/activator/workload.ts).
 */
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { KeptInformer } from "../kube/informer";
import { diagnose, nextGraceDeadline, type Cause, type EventLike, type InferenceServiceLike, type PodLike, type ReplicaSetLike } from "./causes";
import type { ModelFailure } from "./failure";

/** The label KServe puts on an InferenceService's pods, valued with its name. */
export const ISVC_LABEL = "serving.kserve.io/inferenceservice";

export interface HealthTarget {
  modelKey: string;
  namespace: string;
  /** InferenceService name (the model's name in this stack). */
  inferenceService: string;
  unschedulableGraceMs: number;
}

export interface HealthWatch {
  readonly failure: ModelFailure | null;
  close(): void;
}

interface Subscriber {
  target: HealthTarget;
  failure: ModelFailure | null;
  onChange(failure: ModelFailure | null): void;
  timer?: NodeJS.Timeout;
}

interface NamespaceWatch {
  pods: KeptInformer<KubernetesObject>;
  replicaSets: KeptInformer<KubernetesObject>;
  events: KeptInformer<KubernetesObject>;
  isvcs: KeptInformer<KubernetesObject>;
  subscribers: Set<Subscriber>;
}

const same = (a: Cause | null, b: Cause | null) => a?.cause === b?.cause && a?.object === b?.object && a?.message === b?.message;

export class HealthWatcher {
  private readonly namespaces = new Map<string, NamespaceWatch>();

  constructor(
    private readonly kubeConfig: () => KubeConfig,
    private readonly logger: Logger,
  ) {}

  watch(target: HealthTarget, onChange: (failure: ModelFailure | null) => void): HealthWatch {
    const ns = this.namespace(target.namespace);
    const sub: Subscriber = { target, failure: null, onChange };
    ns.subscribers.add(sub);
    this.evaluate(ns, sub);
    return {
      get failure() {
        return sub.failure;
      },
      close: () => {
        clearTimeout(sub.timer);
        ns.subscribers.delete(sub);
        if (ns.subscribers.size === 0) {
          for (const informer of [ns.pods, ns.replicaSets, ns.events, ns.isvcs]) informer.close();
          this.namespaces.delete(target.namespace);
        }
      },
    };
  }

  private namespace(namespace: string): NamespaceWatch {
    let ns = this.namespaces.get(namespace);
    if (ns) return ns;
    // Loaded on first use, as the readiness watch does: runs without Kubernetes never pay for the client.
    const k8s = require("@kubernetes/client-node") as typeof import("@kubernetes/client-node");
    const { keepInformer } = require("../kube/informer") as typeof import("../kube/informer");
    const kc = this.kubeConfig();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const base = `/api/v1/namespaces/${encodeURIComponent(namespace)}`;
    const subscribers = new Set<Subscriber>();
    const changed = () => {
      const current = this.namespaces.get(namespace);
      if (current) for (const sub of current.subscribers) this.evaluate(current, sub);
    };
    const fieldSelector = "involvedObject.kind=Pod";
    ns = {
      subscribers,
      pods: keepInformer(kc, { path: `${base}/pods`, labelSelector: ISVC_LABEL, list: () => core.listNamespacedPod({ namespace, labelSelector: ISVC_LABEL }), what: `Pods in ${namespace}` }, changed, this.logger),
      replicaSets: keepInformer(
        kc,
        {
          path: `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/replicasets`,
          labelSelector: ISVC_LABEL,
          list: () => apps.listNamespacedReplicaSet({ namespace, labelSelector: ISVC_LABEL }),
          what: `ReplicaSets in ${namespace}`,
        },
        changed,
        this.logger,
      ),
      events: keepInformer(kc, { path: `${base}/events`, fieldSelector, list: () => core.listNamespacedEvent({ namespace, fieldSelector }), what: `Events in ${namespace}` }, changed, this.logger),
      isvcs: keepInformer(
        kc,
        {
          path: `/apis/serving.kserve.io/v1beta1/namespaces/${encodeURIComponent(namespace)}/inferenceservices`,
          list: () => custom.listNamespacedCustomObject({ group: "serving.kserve.io", version: "v1beta1", namespace, plural: "inferenceservices" }),
          what: `InferenceServices in ${namespace}`,
        },
        changed,
        this.logger,
      ),
    };
    this.namespaces.set(namespace, ns);
    return ns;
  }

  private evaluate(ns: NamespaceWatch, sub: Subscriber): void {
    const { target } = sub;
    const ours = (o: KubernetesObject) => o.metadata?.labels?.[ISVC_LABEL] === target.inferenceService;
    const pods = ns.pods.list().filter(ours) as PodLike[];
    const replicaSets = ns.replicaSets.list().filter(ours) as ReplicaSetLike[];
    const inferenceService = (ns.isvcs.list() as InferenceServiceLike[]).find((i) => i.metadata?.name === target.inferenceService);
    const now = Date.now();
    const cause = diagnose({ pods, replicaSets, events: ns.events.list() as EventLike[], inferenceService, now, unschedulableGraceMs: target.unschedulableGraceMs });
    clearTimeout(sub.timer);
    const deadline = cause ? undefined : nextGraceDeadline(pods, target.unschedulableGraceMs, replicaSets);
    if (deadline !== undefined) {
      sub.timer = setTimeout(() => this.evaluate(ns, sub), Math.max(0, deadline - now));
      sub.timer.unref();
    }
    if (same(sub.failure, cause)) return;
    const keepSince = sub.failure && cause && sub.failure.cause === cause.cause && sub.failure.object === cause.object;
    sub.failure = cause ? { ...cause, since: keepSince ? sub.failure!.since : new Date(now).toISOString() } : null;
    if (cause) this.logger.warn({ model: target.modelKey, ...cause }, "model cannot start: held and new requests are answered 503");
    else this.logger.info({ model: target.modelKey }, "model start failure cleared");
    sub.onChange(sub.failure);
  }
}
