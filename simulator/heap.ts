/**
 * The event queue: a binary min-heap of (time, sequence) with an integer kind and two integer arguments per event,
 * kept in typed arrays (a week of a million requests means millions of events). Ties in time pop in insertion order,
 * so a run is deterministic.
 */
export class EventQueue {
    private time = new Float64Array(1024);
    private seq = new Float64Array(1024);
    private kind = new Int32Array(1024);
    private a = new Int32Array(1024);
    private b = new Int32Array(1024);
    private n = 0;
    private counter = 0;

    get size(): number {
        return this.n;
    }

    /** Time of the earliest event; Infinity when empty. */
    peekTime(): number {
        return this.n > 0 ? this.time[0] : Infinity;
    }

    push(time: number, kind: number, a = 0, b = 0): void {
        if (this.n === this.time.length) this.grow();
        let i = this.n++;
        const s = this.counter++;
        while (i > 0) {
            const p = (i - 1) >> 1;
            if (this.time[p] < time || (this.time[p] === time && this.seq[p] < s)) break;
            this.move(p, i);
            i = p;
        }
        this.time[i] = time;
        this.seq[i] = s;
        this.kind[i] = kind;
        this.a[i] = a;
        this.b[i] = b;
    }

    /** Removes the earliest event into `out` ([time, kind, a, b]); false when empty. */
    pop(out: [number, number, number, number]): boolean {
        if (this.n === 0) return false;
        out[0] = this.time[0];
        out[1] = this.kind[0];
        out[2] = this.a[0];
        out[3] = this.b[0];
        const last = --this.n;
        if (last === 0) return true;
        const t = this.time[last];
        const s = this.seq[last];
        const k = this.kind[last];
        const a = this.a[last];
        const b = this.b[last];
        let i = 0;
        for (;;) {
            const l = 2 * i + 1;
            if (l >= last) break;
            const r = l + 1;
            let c = l;
            if (r < last && (this.time[r] < this.time[l] || (this.time[r] === this.time[l] && this.seq[r] < this.seq[l]))) c = r;
            if (t < this.time[c] || (t === this.time[c] && s < this.seq[c])) break;
            this.move(c, i);
            i = c;
        }
        this.time[i] = t;
        this.seq[i] = s;
        this.kind[i] = k;
        this.a[i] = a;
        this.b[i] = b;
        return true;
    }

    private move(from: number, to: number): void {
        this.time[to] = this.time[from];
        this.seq[to] = this.seq[from];
        this.kind[to] = this.kind[from];
        this.a[to] = this.a[from];
        this.b[to] = this.b[from];
    }

    private grow(): void {
        const size = this.time.length * 2;
        const g = <T extends Float64Array | Int32Array>(x: T): T => {
            const y = new (x.constructor as new (n: number) => T)(size);
            y.set(x);
            return y;
        };
        this.time = g(this.time);
        this.seq = g(this.seq);
        this.kind = g(this.kind);
        this.a = g(this.a);
        this.b = g(this.b);
    }
}
