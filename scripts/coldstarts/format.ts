/**
 * The text `npm run coldstarts` prints from an activator's `/queue` answer: per model, each recent cold start (oldest
 * first) and the one in progress, one line per phase reached with its seconds and the time since the demand.
 * Phases: activator/src/readiness/timeline.ts. Throws a one-line error when the answer is not `/queue`'s shape.
 */
import type { ColdStartRecord as Record } from "../../activator/src";

export function formatColdStarts(queue: unknown, onlyModel?: string): string {
    const models = (queue as { models?: unknown } | null)?.models;
    if (!models || typeof models !== "object") throw new Error("not an activator /queue answer: no `models` object");
    const lines: string[] = [];
    for (const [model, state] of Object.entries(models as { [key: string]: { coldStart?: Record; coldStarts?: Record[] } })) {
        if (onlyModel !== undefined && model !== onlyModel) continue;
        const records = [...(state.coldStarts ?? []), ...(state.coldStart ? [state.coldStart] : [])];
        for (const r of records) {
            const where = [r.pod && `pod ${r.pod}`, r.node && `node ${r.node}${r.nodeAdded ? " (added" + (r.nodeClaim ? `, NodeClaim ${r.nodeClaim})` : ")") : ""}`]
                .filter(Boolean)
                .join(", ");
            lines.push(`${model}  ${r.demandAt}  ${r.outcome}  ${r.seconds.toFixed(3)} s${where ? `  ${where}` : ""}`);
            const demand = Date.parse(r.demandAt);
            for (const p of r.phases) {
                lines.push(`  ${p.phase.padEnd(15)}${p.seconds.toFixed(3).padStart(10)} s   at +${((Date.parse(p.at) - demand) / 1000).toFixed(3)} s`);
            }
        }
    }
    if (lines.length === 0) return onlyModel !== undefined ? `no cold starts recorded for ${onlyModel} on this replica\n` : "no cold starts recorded on this replica\n";
    return `${lines.join("\n")}\n`;
}
