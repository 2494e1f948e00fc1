/**
 * Time as the activator's time-dependent units read it, injected so tests can drive it (a manual clock in
 * testing/activator/clock.ts) instead of asserting wall-clock bounds.
 */
export interface Clock {
  /** Monotonic milliseconds (performance.now() in production). */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds; never keeps the process alive on its own. */
  setTimeout(fn: () => void, ms: number): ClockTimer;
  /** Cancels a timer from setTimeout; undefined or an already-fired timer is ignored. */
  clearTimeout(timer: ClockTimer | undefined): void;
}

/** An opaque timer handle. */
export type ClockTimer = { readonly __clockTimer?: never } | object;

/** The real clock: performance.now() and unref'd Node timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimeout(timer) {
    clearTimeout(timer as NodeJS.Timeout | undefined);
  },
};
