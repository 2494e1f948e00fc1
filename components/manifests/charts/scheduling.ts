/**
 * Where add-on pods run: controllers on the system node group, GPU daemons on the A100 node groups (which carry the
 * `nvidia.com/gpu=true:NoSchedule` taint so nothing else lands there). Plain data shared by the values builders.
 */
import { ArgsOwner, argsError, labelKeyProblem, labelValueProblem } from "../../domain/checks";

/** Node labels a pod requires, all of them (Kubernetes `nodeSelector`). */
export type NodeSelector = Readonly<Record<string, string>>;

/** A Kubernetes toleration, as plain data (checked by {@link checkTolerations}). */
export interface Toleration {
    readonly key: string;
    /** `Equal` or `Exists`. */
    readonly operator: string;
    /** Required with `Equal`, absent with `Exists`. */
    readonly value?: string;
    /** `NoSchedule`, `PreferNoSchedule` or `NoExecute`; absent tolerates every effect. */
    readonly effect?: string;
}

/**
 * A node affinity that requires every label of `selector`. Charts whose default affinity expects other labels (the
 * NVIDIA device plugin waits for node-feature-discovery labels we do not install) get theirs replaced by this one.
 */
export function requiredNodeAffinity(selector: NodeSelector) {
    return {
        nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                    { matchExpressions: Object.entries(selector).map(([key, value]) => ({ key, operator: "In", values: [value] })) },
                ],
            },
        },
    };
}

/** Where a GPU daemon runs: our A100 nodes, through their taint. */
export interface GpuPlacement {
    /** Labels of our GPU nodes. */
    readonly gpuNodeSelector: NodeSelector;
    /** Tolerations for the GPU node taint. */
    readonly gpuTolerations: readonly Toleration[];
}

/** Chart values `affinity` and `tolerations` for a DaemonSet that must run on every GPU node and nowhere else. */
export function onGpuNodes(placement: GpuPlacement) {
    // Helm replaces lists, so these tolerations replace the chart's defaults rather than add to them.
    return { affinity: requiredNodeAffinity(placement.gpuNodeSelector), tolerations: [...placement.gpuTolerations] };
}

/** Label keys and values must be valid Kubernetes labels; `nonEmpty` when an empty selector would match every node. */
export function checkNodeSelector(owner: ArgsOwner, field: string, selector: NodeSelector, nonEmpty: boolean): void {
    if (selector === null || typeof selector !== "object" || Array.isArray(selector)) {
        throw argsError(owner, field, "required: a map of node labels");
    }
    const entries = Object.entries(selector);
    if (nonEmpty && entries.length === 0) {
        throw argsError(owner, field, `must name at least one node label, e.g. {"gpu-serverless.io/accelerator": "nvidia-a100"}`);
    }
    for (const [key, value] of entries) {
        const problem = labelKeyProblem(key) ?? labelValueProblem(value);
        if (problem !== undefined) throw argsError(owner, `${field}[${JSON.stringify(key)}]`, problem);
    }
}

const taintEffects = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/** GPU daemons need at least one toleration (the GPU taint); each needs a key, `Equal` a value and `Exists` none. */
export function checkTolerations(owner: ArgsOwner, field: string, tolerations: readonly Toleration[]): void {
    if (!Array.isArray(tolerations) || tolerations.length === 0) {
        throw argsError(owner, field, "must tolerate the GPU node taint, e.g. nvidia.com/gpu=true:NoSchedule");
    }
    tolerations.forEach((t, i) => {
        const at = `${field}[${i}]`;
        if (!t.key || labelKeyProblem(t.key) !== undefined) throw argsError(owner, at, `key ${JSON.stringify(t.key)} is not a valid taint key`);
        if (t.operator === "Equal" && (!t.value || labelValueProblem(t.value) !== undefined)) {
            throw argsError(owner, at, `operator Equal needs a valid value, got ${JSON.stringify(t.value)}`);
        }
        if (t.operator === "Exists" && t.value !== undefined) throw argsError(owner, at, "operator Exists takes no value");
        if (t.operator !== "Equal" && t.operator !== "Exists") {
            throw argsError(owner, at, `operator ${JSON.stringify(t.operator)} is not Equal or Exists`);
        }
        if (t.effect !== undefined && !taintEffects.includes(t.effect)) {
            throw argsError(owner, at, `effect ${JSON.stringify(t.effect)} is not NoSchedule, PreferNoSchedule or NoExecute`);
        }
    });
}
