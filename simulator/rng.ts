/**
 * Seeded pseudo-random numbers: the simulator is deterministic for a seed. mulberry32 (a public-domain 32-bit
 * generator) gives uniforms in [0, 1); the rest derive from them.
 */
export interface Rng {
    /** Uniform in [0, 1). */
    next(): number;
}

/** A generator for `seed` (any integer; the same seed gives the same sequence). */
export function rng(seed: number): Rng {
    let a = seed >>> 0;
    return {
        next(): number {
            a = (a + 0x6d2b79f5) >>> 0;
            let t = a;
            t = Math.imul(t ^ (t >>> 15), t | 1);
            t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
            return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
        },
    };
}

/** Exponential with the given mean. */
export const exponential = (r: Rng, mean: number): number => -mean * Math.log(1 - r.next());

/** Triangular on [min, max] with mode `mode`; min === max gives that value. */
export function triangular(r: Rng, min: number, mode: number, max: number): number {
    if (max <= min) return min;
    const u = r.next();
    const c = (mode - min) / (max - min);
    return u < c ? min + Math.sqrt(u * (max - min) * (mode - min)) : max - Math.sqrt((1 - u) * (max - min) * (max - mode));
}
