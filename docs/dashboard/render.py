#!/usr/bin/env python3
"""Draws the dashboard from a running Prometheus: every panel's queries through /api/v1/query_range, laid out as the
dashboard is (rows of three panels), in Grafana's dark colours. Fails if a panel query errors or returns nothing.

Usage: render.py QUERIES_JSON PROMETHEUS_URL START END OUT_PNG
"""
import json
import re
import sys
import urllib.parse
import urllib.request
from datetime import datetime, timezone

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

queries_file, prom, start, end, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
layout = json.load(open(queries_file))
BG, PANEL, GRID, TEXT, MUTED = "#111217", "#181b1f", "#2a2d33", "#d8d9da", "#8e8e8e"
COLORS = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9", "#fade2a", "#96d98d", "#ffb357"]


def query_range(expr):
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": 60})
    with urllib.request.urlopen(f"{prom}/api/v1/query_range?{params}") as res:
        body = json.load(res)
    if body["status"] != "success":
        raise SystemExit(f"query failed: {expr}\n{body}")
    return body["data"]["result"]


def legend(fmt, metric):
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), fmt)
    return re.sub(r"\s+", " ", text).strip()


def unit_formatter(unit):
    def fmt(v, _):
        if unit == "percentunit":
            return f"{v * 100:.0f}%"
        if unit == "percent":
            return f"{v:.0f}%"
        if unit == "bytes":
            return f"{v / 2**20:.0f} MiB"
        if unit == "s":
            return f"{v * 1000:.0f} ms" if 0 < abs(v) < 1 else f"{v:.0f} s"
        if unit == "reqps":
            return f"{v:.2g} req/s"
        return f"{v:.0f}" if abs(v) >= 10 or v == 0 else f"{v:.2f}"

    return FuncFormatter(fmt)


n_rows = sum((len(r["panels"]) + 2) // 3 for r in layout["rows"])
fig = plt.figure(figsize=(21, 4.0 * n_rows + 0.6 * len(layout["rows"]) + 0.8), facecolor=BG)
fig.suptitle(f"{layout['title']}  ·  synthetic data, last 6 hours", color=TEXT, fontsize=16, x=0.01, ha="left", y=0.995)
heights = []
for r in layout["rows"]:
    heights.append(0.18)
    heights += [1.0] * ((len(r["panels"]) + 2) // 3)
grid = fig.add_gridspec(len(heights), 3, height_ratios=heights, hspace=0.55, wspace=0.16, left=0.04, right=0.99, top=0.97, bottom=0.02)
line = 0
empty = []
for r in layout["rows"]:
    header = fig.add_subplot(grid[line, :])
    header.axis("off")
    header.text(0, 0.2, r["title"], color=TEXT, fontsize=14, fontweight="bold", transform=header.transAxes)
    line += 1
    for i, panel in enumerate(r["panels"]):
        ax = fig.add_subplot(grid[line + i // 3, i % 3])
        ax.set_facecolor(PANEL)
        for spine in ax.spines.values():
            spine.set_color(GRID)
        ax.set_title(panel["title"], color=TEXT, fontsize=11, loc="left")
        ax.tick_params(colors=MUTED, labelsize=8)
        ax.grid(color=GRID, linewidth=0.6)
        k = 0
        for target in panel["targets"]:
            for series in query_range(target["expr"]):
                xs, ys, last = [], [], None
                for t, v in series["values"]:
                    if last is not None and float(t) - last > 90:  # no sample for a while: break the line, as Grafana does
                        xs.append(datetime.fromtimestamp(last + 60, tz=timezone.utc))
                        ys.append(float("nan"))
                    xs.append(datetime.fromtimestamp(float(t), tz=timezone.utc))
                    ys.append(float(v))
                    last = float(t)
                ax.plot(xs, ys, color=COLORS[k % len(COLORS)], linewidth=1.3, label=legend(target["legend"], series["metric"]))
                k += 1
        if k == 0:
            empty.append(panel["title"])
        ax.set_xlim(datetime.fromtimestamp(start, tz=timezone.utc), datetime.fromtimestamp(end, tz=timezone.utc))
        ax.set_ylim(bottom=0, top=panel.get("max"))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=timezone.utc))
        ax.yaxis.set_major_formatter(unit_formatter(panel["unit"]))
        if k:
            ax.legend(loc="upper left", fontsize=7, facecolor=PANEL, edgecolor=GRID, labelcolor=TEXT, ncol=2 if k > 3 else 1, framealpha=0.85)
    line += (len(r["panels"]) + 2) // 3
if empty:
    raise SystemExit(f"panels without data: {empty}")
fig.savefig(out, dpi=72, facecolor=BG)
print(f"wrote {out}")
