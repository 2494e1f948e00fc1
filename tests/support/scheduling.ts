/**
 * Kubernetes scheduling rules, as the scheduler applies them to a pod and a node, for tests that reason about where
 * add-on pods land: node affinity / nodeSelector (k8s.io/component-helpers/scheduling/corev1/nodeaffinity: terms
 * ORed, expressions within a term ANDed; In, NotIn, Exists, DoesNotExist, Gt, Lt) and taint toleration
 * (k8s.io/api/core/v1 Toleration.ToleratesTaint: empty key with Exists matches every key, empty effect every effect).
 */

export interface Taint {
    key: string;
    value?: string;
    effect: string;
}

export interface TolerationSpec {
    key?: string;
    operator?: string;
    value?: string;
    effect?: string;
}

interface Expression {
    key: string;
    operator: string;
    values?: string[];
}

/** A pod's placement fields as a chart's values carry them. */
export interface Placement {
    nodeSelector?: Record<string, string>;
    affinity?: { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: { matchExpressions?: Expression[] }[] } } };
    tolerations?: TolerationSpec[];
}

function matches(expression: Expression, labels: Record<string, string>): boolean {
    const value = labels[expression.key];
    const values = expression.values ?? [];
    switch (expression.operator) {
        case "In":
            return value !== undefined && values.includes(value);
        case "NotIn":
            return value === undefined || !values.includes(value);
        case "Exists":
            return value !== undefined;
        case "DoesNotExist":
            return value === undefined;
        case "Gt":
            return value !== undefined && Number(value) > Number(values[0]);
        case "Lt":
            return value !== undefined && Number(value) < Number(values[0]);
        default:
            throw new Error(`unknown node selector operator ${expression.operator}`);
    }
}

/** Whether a node with `labels` satisfies the pod's nodeSelector and required node affinity. */
export function admits(placement: Placement, labels: Record<string, string>): boolean {
    for (const [key, value] of Object.entries(placement.nodeSelector ?? {})) {
        if (labels[key] !== value) return false;
    }
    const terms = placement.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
    if (!terms || terms.length === 0) return true;
    return terms.some((term) => (term.matchExpressions ?? []).every((e) => matches(e, labels)));
}

/** Whether one toleration tolerates the taint. */
export function tolerates(toleration: TolerationSpec, taint: Taint): boolean {
    if (toleration.effect && toleration.effect !== taint.effect) return false;
    if (toleration.key && toleration.key !== taint.key) return false;
    if (!toleration.key && toleration.operator !== "Exists") return false;
    if (toleration.operator === "Exists") return true;
    return (toleration.value ?? "") === (taint.value ?? "");
}

/** The taints of `taints` that no toleration of the pod tolerates. */
export function untolerated(tolerations: readonly TolerationSpec[] | undefined, taints: readonly Taint[]): Taint[] {
    return taints.filter((taint) => !(tolerations ?? []).some((t) => tolerates(t, taint)));
}
