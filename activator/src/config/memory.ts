/**
 * How much memory the activator needs for its limits: what the Pulumi stack checks the pod's memory limit
 * against (so a burst within the limits cannot get the pod OOM-killed, which would drop every held and in-flight
 * request of every model). Pure. The figures are measured by `npm run bench` (held-capacity, held-bodies,
 * catalog-scale; docs/performance.md), in kubernetes readiness mode:
 *
 *   peak RSS ≈ BASE + models × PER_MODEL + maxPendingTotal × PER_HELD_REQUEST + maxBufferedBodyBytes × BODY_OVERHEAD
 *
 * BASE: the idle process (Node, the Kubernetes client, gRPC, undici pools) plus garbage a burst leaves until
 * collected. PER_MODEL: a configured model's state, routes, informer cache and metric series, and its share of a
 * `/metrics` scrape's garbage (catalog-scale, 2026-12-05: peak 254 MiB at 100 models, 470 MiB at 1000 after one cold
 * start each and under back-to-back scrapes, a slope of 240 KiB; 320 KiB makes BASE + models cover the 1000-model peak
 * with nothing held; re-measured in the pod's memory limit, where Node sizes its heap from the limit: 213–218 MiB at
 * 100, 428–435 at 1000, the same slope). PER_HELD_REQUEST: one held connection's peak cost, release included (8.5 KiB held, about 21 KiB peak
 * while 10 000 are released at once). BODY_OVERHEAD: buffered bodies cost a little more than their bytes (discarded
 * uploads of refused requests, JSON parsing of the largest body).
 */
const MiB = 1024 * 1024;

export const MEMORY_MODEL = {
  baseBytes: 160 * MiB,
  perModelBytes: 320 * 1024,
  perHeldRequestBytes: 21 * 1024,
  bufferedBodyOverhead: 1.25,
  /** Share of the pod's memory limit the peak may reach: the rest is headroom for what the model does not see. */
  headroom: 0.8,
} as const;

/** Estimated peak RSS, in bytes, for these limits and this many configured models (≥ 0). */
export function estimatedPeakMemoryBytes(limits: { maxPendingTotal: number; maxBufferedBodyBytes: number }, models: number): number {
  const m = MEMORY_MODEL;
  return Math.ceil(m.baseBytes + models * m.perModelBytes + limits.maxPendingTotal * m.perHeldRequestBytes + limits.maxBufferedBodyBytes * m.bufferedBodyOverhead);
}

/** The smallest pod memory limit, in bytes, that keeps the estimated peak (limits, models) within the headroom. */
export function requiredMemoryBytes(limits: { maxPendingTotal: number; maxBufferedBodyBytes: number }, models: number): number {
  return Math.ceil(estimatedPeakMemoryBytes(limits, models) / MEMORY_MODEL.headroom);
}
