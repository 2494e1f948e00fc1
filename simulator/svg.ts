/**
 * Pictures as standalone SVG text (our own small writer, no dependency): replicas and GPU nodes over time against
 * arrivals per bin, and the cost-versus-p99-wait frontier of a sweep.
 */
export interface Timeline {
    t: number[];
    replicas: number[];
    nodes: number[];
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const W = 900;
const PAD = { l: 60, r: 20, t: 30, b: 40 };

function niceMax(v: number): number {
    if (v <= 0) return 1;
    const e = 10 ** Math.floor(Math.log10(v));
    return [1, 2, 5, 10].map((k) => k * e).find((x) => x >= v)!;
}

function axis(x0: number, x1: number, y0: number, y1: number, yMax: number, label: string): string {
    const ticks = [0, 0.5, 1].map((f) => {
        const y = y1 - f * (y1 - y0);
        const v = +(f * yMax).toPrecision(3);
        return `<line x1="${x0 - 4}" x2="${x0}" y1="${y}" y2="${y}" stroke="#555"/><text x="${x0 - 6}" y="${y + 4}" text-anchor="end" font-size="11">${v}</text>`;
    });
    return `<line x1="${x0}" x2="${x0}" y1="${y0}" y2="${y1}" stroke="#555"/><line x1="${x0}" x2="${x1}" y1="${y1}" y2="${y1}" stroke="#555"/>${ticks.join("")}<text x="${x0 + 4}" y="${y0 - 6}" font-size="12">${esc(label)}</text>`;
}

/** Arrivals per bin (bars, top) and replicas / nodes (steps, bottom) over [0, end] seconds. */
export function timelineSvg(title: string, arrivals: Float64Array, tl: Timeline, end: number, bins = 120): string {
    const H = 420;
    const x0 = PAD.l;
    const x1 = W - PAD.r;
    const sx = (t: number) => x0 + (Math.min(t, end) / end) * (x1 - x0);
    const counts = new Array<number>(bins).fill(0);
    for (const a of arrivals) counts[Math.min(bins - 1, Math.floor((a / end) * bins))]++;
    const cMax = niceMax(Math.max(...counts));
    const top = { y0: PAD.t + 10, y1: 190 };
    const bw = (x1 - x0) / bins;
    const bars = counts
        .map((c, i) => (c ? `<rect x="${(x0 + i * bw).toFixed(1)}" y="${(top.y1 - (c / cMax) * (top.y1 - top.y0)).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${((c / cMax) * (top.y1 - top.y0)).toFixed(1)}" fill="#9bb7d4"/>` : ""))
        .join("");
    const bot = { y0: 230, y1: H - PAD.b };
    const yMax = niceMax(Math.max(1, ...tl.replicas, ...tl.nodes));
    const sy = (v: number) => bot.y1 - (v / yMax) * (bot.y1 - bot.y0);
    const step = (vals: number[]) => {
        let d = `M${sx(tl.t[0]).toFixed(1)},${sy(vals[0]).toFixed(1)}`;
        for (let i = 1; i < tl.t.length; i++) d += `H${sx(tl.t[i]).toFixed(1)}V${sy(vals[i]).toFixed(1)}`;
        return d + `H${x1}`;
    };
    const hours = end / 3600;
    const unit = hours > 3 ? { s: 3600, n: "h" } : { s: 60, n: "min" };
    const xt = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="${sx(f * end)}" y="${H - PAD.b + 16}" text-anchor="middle" font-size="11">${+((f * end) / unit.s).toFixed(1)}</text>`).join("");
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${esc(title)}</text>
${axis(x0, x1, top.y0, top.y1, cMax, `arrivals per ${+(end / bins).toFixed(0)} s`)}${bars}
${axis(x0, x1, bot.y0, bot.y1, yMax, "replicas (blue) and GPU nodes (orange)")}
<path d="${step(tl.nodes)}" fill="none" stroke="#e08a2c" stroke-width="2"/>
<path d="${step(tl.replicas)}" fill="none" stroke="#2c6fb7" stroke-width="1.5"/>
${xt}<text x="${(x0 + x1) / 2}" y="${H - 8}" text-anchor="middle" font-size="11">time (${unit.n})</text>
</svg>
`;
}

export interface FrontierPoint {
    label: string;
    usd: number;
    p99: number;
}

/** Cost (x) against p99 wait (y), one labelled point per run; the points on the Pareto frontier are joined. */
export function frontierSvg(title: string, points: FrontierPoint[]): string {
    const H = 420;
    const x0 = PAD.l + 10;
    const x1 = W - PAD.r - 120;
    const y0 = PAD.t + 10;
    const y1 = H - PAD.b;
    const xMax = niceMax(Math.max(...points.map((p) => p.usd)) * 1.05);
    const yMax = niceMax(Math.max(...points.map((p) => p.p99)) * 1.05 || 1);
    const sx = (v: number) => x0 + (v / xMax) * (x1 - x0);
    const sy = (v: number) => y1 - (v / yMax) * (y1 - y0);
    const sorted = [...points].sort((a, b) => a.usd - b.usd || a.p99 - b.p99);
    const front: FrontierPoint[] = [];
    for (const p of sorted) if (front.length === 0 || p.p99 < front[front.length - 1].p99) front.push(p);
    const xt = [0, 0.5, 1].map((f) => `<text x="${sx(f * xMax)}" y="${y1 + 16}" text-anchor="middle" font-size="11">$${+(f * xMax).toPrecision(3)}</text>`).join("");
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${esc(title)}</text>
${axis(x0, x1, y0, y1, yMax, "p99 wait (s)")}${xt}
<text x="${(x0 + x1) / 2}" y="${H - 8}" text-anchor="middle" font-size="11">GPU cost over the window (USD)</text>
<polyline points="${front.map((p) => `${sx(p.usd).toFixed(1)},${sy(p.p99).toFixed(1)}`).join(" ")}" fill="none" stroke="#999" stroke-dasharray="4 3"/>
${points.map((p) => `<circle cx="${sx(p.usd).toFixed(1)}" cy="${sy(p.p99).toFixed(1)}" r="5" fill="#2c6fb7"/><text x="${(sx(p.usd) + 8).toFixed(1)}" y="${(sy(p.p99) - 6).toFixed(1)}" font-size="11">${esc(p.label)}</text>`).join("\n")}
</svg>
`;
}
