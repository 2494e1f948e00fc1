/**
 * "A new model never boots a GPU node", for every node provisioner: a ValidatingAdmissionPolicy refuses to create a
 * GPU predictor pod until KEDA has checked the model's ScaledObject once.
 *
 * Why: KServe creates a new predictor Deployment with Kubernetes' default of one replica under the `external`
 * autoscaler class (kserve/kserve v0.20.0 reconcilers/deployment/deployment_reconciler.go L170-L172: `replicas` only
 * for class `none`), so a new GPU model's first pod would be pending before KEDA takes the Deployment to zero.
 * cluster-autoscaler can be told to wait (`pod-scale-up-delay`); Karpenter cannot: it provisions for any pod the
 * scheduler marked Unschedulable (kubernetes-sigs/karpenter v1.14.1 pkg/utils/pod/scheduling.go L102-L108,
 * `IsProvisionable`), within its 1-10 s batch window.
 *
 * How: KEDA initialises a ScaledObject's `Active` condition to `Unknown` (kedacore/keda v2.20.2
 * apis/keda/v1alpha1/condition_types.go L141-L143) and sets it to True or False only in its scale loop, after it has
 * scaled the target — to zero for a new, inactive ScaledObject, whose initial cooldown defaults to 0 s
 * (pkg/scaling/executor/scale_scaledobjects.go L84, L189-L229; scale_executor.go L35). Until then the policy refuses
 * the model's GPU pods, so no pod is pending and no provisioner sees one; the ReplicaSet retries, and by the time it
 * does KEDA has set zero replicas. Once KEDA has checked, the condition never returns to `Unknown` (the status
 * persists), so later cold starts are not delayed. A model whose ScaledObject is missing gets no GPU pod at all
 * (`parameterNotFoundAction: Deny`).
 */
import type { ModelConfig } from "../../config/models";
import { predictorLabels } from "./predictor";
import { scaledObjectType } from "./scaledObject";

export const firstReplicaPolicyName = "gpu-serverless-first-replica";

/**
 * How long a new binding takes to be enforced, ms: kube-apiserver compiles ValidatingAdmissionPolicies and their
 * bindings in a loop that runs once a second and only when its informers saw a change
 * (k8s.io/apiserver v0.33.13 pkg/admission/plugin/policy/generic/policy_source.go L193-L198, `policyRefreshInterval`
 * 1 s; L229-L253 `refreshPolicies`). Until then a pod the binding should refuse is admitted. The e2e suite measured
 * 314-1069 ms from applying a binding to the first refused pod. The stack therefore creates a GPU model's
 * InferenceService this long after its binding: twice the refresh interval, which leaves one second for each API
 * server's watch to deliver the binding.
 */
export const bindingEnforcedAfterMs = 2000;

/** CEL over the model's ScaledObject (`params`): KEDA has run its scale loop for it at least once. */
export const kedaHasCheckedExpression =
    "has(params.status) && has(params.status.conditions) && params.status.conditions.exists(c, c.type == 'Active' && (c.status == 'True' || c.status == 'False'))";

/** CEL over the pod (`object`): some container asks for NVIDIA GPUs. */
export const requestsGpuExpression =
    "object.spec.containers.exists(c, has(c.resources) && ((has(c.resources.limits) && 'nvidia.com/gpu' in c.resources.limits) || (has(c.resources.requests) && 'nvidia.com/gpu' in c.resources.requests)))";

/** The cluster-wide policy (one per cluster); each GPU model binds it with its own ScaledObject as the parameter. */
export function firstReplicaPolicy() {
    return {
        apiVersion: "admissionregistration.k8s.io/v1" as const,
        kind: "ValidatingAdmissionPolicy" as const,
        metadata: { name: firstReplicaPolicyName },
        spec: {
            failurePolicy: "Fail",
            paramKind: { apiVersion: scaledObjectType.apiVersion, kind: scaledObjectType.kind },
            matchConstraints: {
                resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] }],
            },
            matchConditions: [{ name: "requests-gpu", expression: requestsGpuExpression }],
            validations: [
                {
                    expression: kedaHasCheckedExpression,
                    messageExpression:
                        "'KEDA has not yet checked ScaledObject ' + params.metadata.name + ': the first replica of a new GPU model is refused so that no GPU node is bought for it (gpu-serverless first-replica policy)'",
                    reason: "Forbidden",
                },
            ],
        },
    };
}

/** The binding of one GPU model: its predictor pods, checked against its ScaledObject. */
export function firstReplicaBinding(model: Pick<ModelConfig, "name" | "namespace" | "gpus">) {
    if (model.gpus <= 0) throw new Error(`model ${model.name}: the first-replica policy is for GPU models (gpus > 0)`);
    return {
        apiVersion: "admissionregistration.k8s.io/v1" as const,
        kind: "ValidatingAdmissionPolicyBinding" as const,
        // Cluster-scoped: namespace and name together, so two namespaces' models of one name do not collide.
        metadata: { name: `${firstReplicaPolicyName}-${model.namespace}-${model.name}`.slice(0, 253) },
        spec: {
            policyName: firstReplicaPolicyName,
            // The ScaledObject is named after the model (scaledObject.ts).
            paramRef: { name: model.name, namespace: model.namespace, parameterNotFoundAction: "Deny" },
            matchResources: {
                namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": model.namespace } },
                objectSelector: { matchLabels: { "serving.kserve.io/inferenceservice": predictorLabels(model)["serving.kserve.io/inferenceservice"] } },
            },
            validationActions: ["Deny"],
        },
    };
}
