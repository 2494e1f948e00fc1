/** Config builders for activator process tests (probe readiness: no Kubernetes here). */
import type { ActivatorConfigInput } from "../../activator/src/config/schema";

type ModelInput = ActivatorConfigInput["models"][number];

/** A model `test/<name>` in front of `backend`, routed by host `<name>.test` unless routing keys are given. */
export function model(name: string, backend: string, extra: Partial<ModelInput> = {}): ModelInput {
  const routed = extra.hosts !== undefined || extra.pathPrefix !== undefined || extra.openaiModels !== undefined;
  return { name, namespace: "test", backend, readinessPath: "/health", ...(routed ? {} : { hosts: [`${name}.test`] }), ...extra };
}

export function config(models: ModelInput[], extra: Partial<ActivatorConfigInput> = {}): Record<string, unknown> {
  return { readiness: { mode: "probe" }, ...extra, models };
}
