/**
 * A manual Clock (activator/src/base/clock.ts) for unit tests of time-dependent units: time moves only on advance().
 *
 *   const clock = new ManualClock();
 *   const unit = new Unit({ clock });
 *   await clock.advance(500);   // runs every timer due within the next 500 ms, in order, settling promises between
 */
import type { Clock, ClockTimer } from "../../activator/src/base/clock";

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

/** Lets promise chains started by a timer (a fake probe's answer) settle before the next timer runs. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

export class ManualClock implements Clock {
  private time = 0;
  private seq = 0;
  private pending: Pending[] = [];

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    const timer: Pending = { at: this.time + Math.max(0, ms), seq: ++this.seq, fn };
    this.pending.push(timer);
    return timer;
  }

  clearTimeout(timer: ClockTimer | undefined): void {
    this.pending = this.pending.filter((t) => t !== timer);
  }

  /** Timers waiting to run. */
  get timers(): number {
    return this.pending.length;
  }

  /** Moves time forward by `ms`, running each timer due on the way at its own instant (earliest first). */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new Error(`ManualClock.advance: ms must be >= 0, got ${ms}`);
    const end = this.time + ms;
    for (;;) {
      await settle();
      const due = this.pending.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.pending = this.pending.filter((t) => t !== due);
      this.time = due.at;
      due.fn();
    }
    this.time = end;
    await settle();
  }
}
