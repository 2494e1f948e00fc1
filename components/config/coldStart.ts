/**
 * The cold-start budget of a model at zero: how long each phase of its first request may take, and their sum, the
 * hold budget (`coldStartTimeoutSeconds`, how long the activator holds the request before answering 504).
 *
 * Phases, in order, for a GPU model (a CPU model skips the first: it has no scale-up delay; it runs on the system
 * nodes, and when those are full cluster-autoscaler adds one, bounded by the same `--max-node-provision-time`):
 * 1. scale-up delay: cluster-autoscaler ignores a new predictor pod this long (`pod-scale-up-delay`, see
 *    manifests/model/inferenceService.ts), so that KEDA can take a brand-new model back to zero before a GPU node is bought;
 * 2. node provisioning: a p4d/p4de boots and joins; bounded by cluster-autoscaler's `--max-node-provision-time`,
 *    after which it gives up on the group (so the hold must last longer, or the failure is never seen);
 * 3. image pull: the runtime image (the Hugging Face/vLLM and Triton images are 5-15 GB) through the NAT gateway;
 * 4. weight download: KServe's storage initializer fetches `storageUri` into the pod;
 * 5. server start: the model server loads the weights (into GPU memory) and starts; the startup probe allows this
 *    phase only, so a server that hangs is restarted instead of holding requests forever.
 */

/** Per-phase budgets a model may set (`models[].coldStart`), in seconds. */
export interface ColdStartPhases {
    imagePullSeconds: number;
    downloadSeconds: number;
    startupSeconds: number;
}

/** Defaults per kind of model: LLM (GPU), other GPU model, CPU model. */
export const coldStartDefaults = {
    llm: { imagePullSeconds: 600, downloadSeconds: 600, startupSeconds: 600 },
    gpu: { imagePullSeconds: 600, downloadSeconds: 300, startupSeconds: 300 },
    cpu: { imagePullSeconds: 180, downloadSeconds: 180, startupSeconds: 120 },
} as const satisfies Record<string, ColdStartPhases>;

/** cluster-autoscaler's `--max-node-provision-time` when the stack does not set one, in seconds (10m). */
export const defaultNodeProvisionSeconds = 600;

/**
 * Seconds cluster-autoscaler leaves a new GPU predictor pod alone. KEDA checks a ScaledObject's triggers as soon as
 * it starts scaling it, then every `pollingSeconds` (kedacore/keda v2.20.2 pkg/scaling/scale_handler.go
 * `startScaleLoop`), and scales an inactive target with no `initialCooldownPeriod` to zero at once
 * (pkg/scaling/executor/scale_scaledobjects.go `scaleToZeroOrIdle`): one polling interval plus 15 s covers a first
 * check that fails; at least 30 s.
 */
export function scaleUpDelaySeconds(model: { pollingSeconds: number; gpus: number }): number {
    return model.gpus > 0 ? Math.max(30, model.pollingSeconds + 15) : 0;
}

export interface ColdStartBudget extends ColdStartPhases {
    scaleUpDelaySeconds: number;
    nodeProvisionSeconds: number;
    /** The sum: the hold budget unless the model sets `coldStartTimeoutSeconds`. */
    totalSeconds: number;
}

/** The budget of each phase and their sum, for a model with these phases and a cluster giving nodes `nodeProvisionSeconds`. */
export function coldStartBudget(
    model: { gpus: number; pollingSeconds: number; coldStart: ColdStartPhases },
    nodeProvisionSeconds: number,
): ColdStartBudget {
    // Every model may wait for a node: a GPU model for an A100 node, a CPU model for a system node when those are full.
    const phases = {
        scaleUpDelaySeconds: scaleUpDelaySeconds(model),
        nodeProvisionSeconds,
        ...model.coldStart,
    };
    const totalSeconds = phases.scaleUpDelaySeconds + phases.nodeProvisionSeconds + phases.imagePullSeconds + phases.downloadSeconds + phases.startupSeconds;
    return { ...phases, totalSeconds };
}

/** A Go duration such as `10m`, `1h30m` or `90s` in seconds. */
export function goDurationSeconds(duration: string): number {
    const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration);
    if (!m || duration === "") throw new Error(`"${duration}" is not a duration like 10m`);
    return (+(m[1] ?? 0)) * 3600 + (+(m[2] ?? 0)) * 60 + +(m[3] ?? 0);
}
