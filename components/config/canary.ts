/**
 * A model's canary, deployed: a second InferenceService `<name>-canary` beside the model's own, built by the same
 * model builders (ServerlessModel: InferenceService, ScaledObject with one `external-push` trigger plus the model's
 * `cron` pre-warm triggers, ServiceMonitor, NetworkPolicy, ServiceAccount, storage credentials). The activator splits
 * the traffic between them (activator/src/holding/canary.ts); each scales to zero on its own.
 *
 * Why not KServe's own canary (checked against kserve/kserve at tag v0.20.0):
 * - `spec.predictor.canaryTrafficPercent` is read only by the Knative reconciler
 *   (pkg/controller/v1beta1/inferenceservice/reconcilers/knative/ksvc_reconciler.go:134, Knative revision traffic
 *   weights); the Standard (RawDeployment) path this stack uses never reads it, so it is silently ignored there
 *   (kserve/kserve#5335, #4074).
 * - `spec.canary[]` (Standard mode only, kserve/kserve#5672) runs each canary as a Deployment with a fixed replica
 *   count: `buildCanaryPredictor` zeroes `maxReplicas`, `scaleTarget`, `scaleMetric`, `autoScaling` and sets
 *   `minReplicas` to `canaryReplicaCount` = the canary's own minReplicas, else ceil(stable minReplicas ×
 *   trafficPercent / 100), 0 for a stable at 0 (pkg/controller/v1beta1/inferenceservice/components/predictor.go:886-906),
 *   and the validator refuses autoscaling fields on a canary (pkg/apis/serving/v1beta1/inference_service_validation.go:236-247).
 *   While a canary exists the stable's minReplicas becomes max(minReplicas − canary replicas, 1) (predictor.go:795-803).
 *   With `autoscalerClass: external` KServe writes no `replicas` (deployment_reconciler.go), so the canary Deployment
 *   gets the API server's default of 1 and nothing scales it: it could not scale to zero (tests/e2e/canary.e2e.ts
 *   checks this against the real controller). Its traffic weight needs Gateway API HTTPRoutes, which our
 *   activator-fronted stack does not route through.
 * So each version is a separate InferenceService with its own ScaledObject, at zero independently.
 */
import { canaryName } from "../../activator/src/index";
import { canaryLlmFormats, type ModelConfig } from "./models";


/**
 * The canary of `model` as a model of its own: name `<name>-canary`, the canary's weights, arguments, resources and
 * replica bounds (each defaulting to the model's), the model's format, runtime, cold-start budget, pre-warm windows
 * and credentials, and the model's served name (LLMs: `routing.openaiModels[0]`; KServe Python servers: a
 * `--model_name=<name>` argument before the canary's own); no canary. Its routing keys are not used: the activator
 * routes to the model and draws the version. Throws when the model has no canary.
 */
export function canaryVersion(model: ModelConfig): ModelConfig {
    const { canary, ...stable } = model;
    if (!canary) throw new Error(`model ${model.namespace}/${model.name} has no canary`);
    return {
        ...stable,
        name: canaryName(model.name),
        storageUri: canary.storageUri,
        runtimeArgs: canary.runtimeArgs ?? model.runtimeArgs,
        gpus: canary.gpus ?? model.gpus,
        cpu: canary.cpu ?? model.cpu,
        memory: canary.memory ?? model.memory,
        minReplicas: canary.minReplicas,
        maxReplicas: canary.maxReplicas ?? model.maxReplicas,
        // The stable's served name (./../manifests/model/predictor.ts servedModelName): the same requests reach either version.
        ...(canaryLlmFormats.includes(model.format)
            ? { routing: { ...model.routing, openaiModels: [model.routing.openaiModels[0] ?? model.name] } }
            : { runtimeArgs: [`--model_name=${model.name}`, ...(canary.runtimeArgs ?? model.runtimeArgs)] }),
        prewarm: model.prewarm.map((p) => ({ ...p, desiredReplicas: Math.min(p.desiredReplicas, canary.maxReplicas ?? model.maxReplicas) })),
    };
}

/** Every InferenceService the models deploy: each model, followed by its canary when it has one. */
export function deployedVersions(models: readonly ModelConfig[]): ModelConfig[] {
    return models.flatMap((m) => (m.canary ? [m, canaryVersion(m)] : [m]));
}
