#!/usr/bin/env python3
"""Charts of the side-by-side gateway load test, from the CSV of bench/run-comparison.sh.

    python3 bench/plot-charts.py bench/results/comparison-DATE.csv --out docs/charts [--note TEXT]

Writes SVG files (standard library only, no plotting package):
    throughput.svg                 deliveries/s flat out, per configuration and server
    cpu.svg                        server CPU time per delivery flat out, per configuration and
                                   server (when the CSV has server_cpu_ns_per_delivery)
    latency-<subscribers>-<payload>.svg
                                   p50 / p90 / p99 at the fixed rate, per server
    memory.svg                     server memory per idle subscribed connection, per server
Each bar is the median over the runs of the CSV, its whisker the spread (min-max). When the CSV
holds flat-out loads at more than one window (messages in flight, run-comparison.sh --window LIST)
for a configuration, the flat-out charts have a group per configuration and window, each bar over
the runs of its window only. The caption
gives the date, commit, machine and note from the CSV's `# key: value` comment lines, and --note.
The output depends on the CSV and the note only, so the same input gives the same files
(tests/docs/test_plot_charts.py relies on it). Exits 2 when the CSV lacks a required column.
"""

import argparse
import csv
import math
import statistics
import sys
import textwrap
from pathlib import Path
from xml.sax.saxutils import escape

REQUIRED_COLUMNS = ["server", "subscribers", "payload", "load", "run", "deliveries_per_s",
                    "p50_ms", "p90_ms", "p99_ms", "mem_per_conn_bytes"]

# Names in the charts for the server keys of run-comparison.sh; any other key is shown as is.
SERVER_NAMES = {"switchboard": "switchboard-gateway", "switchboard-binary": "switchboard-gateway (binary)",
                "ws": "Node ws", "nats": "nats-server", "uws": "uWebSockets.js"}
# Okabe-Ito colours (told apart with colour-blindness too): a fixed one per known server, so a
# server keeps its colour from chart to chart; other servers take the rest in the CSV's order.
SERVER_COLOURS = {"switchboard": "#0072B2", "switchboard-binary": "#56B4E9", "ws": "#E69F00", "nats": "#009E73",
                  "uws": "#CC79A7"}
OTHER_COLOURS = ["#D55E00", "#F0E442", "#999999"]
PERCENTILE_COLOURS = {"p50": "#9ecae1", "p90": "#4292c6", "p99": "#08519c"}

WIDTH, HEIGHT = 760, 440
LEFT, RIGHT, TOP = 78, 20, 92          # plot area margins, px
MIN_SLOT = 130                          # px per group at least: its two-line label fits
CAPTION_LINE = 15                      # px per caption line
FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'"


class CsvError(Exception):
    pass


def read_results(path):
    """Returns (metadata from the '# key: value' lines, the data rows as dicts)."""
    meta, lines = {}, []
    with open(path, newline="") as f:
        for line in f:
            if line.startswith("#"):
                key, sep, value = line[1:].partition(":")
                if sep:
                    meta[key.strip()] = value.strip()
            elif line.strip():
                lines.append(line)
    if not lines:
        raise CsvError(f"{path}: no header line")
    reader = csv.DictReader(lines)
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise CsvError(f"{path}: the header lacks the column(s) {', '.join(missing)}")
    return meta, list(reader)


def in_order(values):
    """The distinct values in their first order of appearance."""
    return list(dict.fromkeys(values))


def spread(values):
    """(median, min, max) of the numbers among values (empty strings are failed loads), or None."""
    numbers = [float(v) for v in values if v not in ("", None)]
    if not numbers:
        return None
    return statistics.median(numbers), min(numbers), max(numbers)


def thousands(n):
    return f"{int(n):,}".replace(",", " ")


def nice_axis(top):
    """Tick step and axis end for values up to top: steps of 1, 2 or 5 times a power of ten."""
    if top <= 0:
        return 1.0, 1.0
    raw = top / 5
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return step, step * math.ceil(top / step * 1.0001)


def short(value):
    """A value label: three significant digits at most."""
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def text(x, y, content, size=12, anchor="middle", weight="normal", fill="#222", extra=""):
    return (f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' text-anchor='{anchor}' "
            f"font-weight='{weight}' fill='{fill}' {FONT}{extra}>{escape(content)}</text>")


def grouped_bars(title, subtitle, unit, groups, series, values, caption):
    """An SVG grouped bar chart.

    groups: labels along the x axis; series: [(label, colour)], one bar of each per group;
    values[(group, series label)] = (median, min, max) or None (no bar, "failed" written there).
    """
    caption_lines = [l for para in caption for l in textwrap.wrap(para, 108)]
    extra = 15 * max(0, max(len(group.split(", ")) for group in groups) - 2)  # room for a window line
    bottom = 72 + CAPTION_LINE * len(caption_lines) + extra
    height = HEIGHT + CAPTION_LINE * len(caption_lines) + extra
    width = max(WIDTH, LEFT + RIGHT + MIN_SLOT * len(groups))  # wider with many groups
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - bottom
    # The axis ends a little above the highest whisker, but a whisker far above every bar (one
    # disturbed run) is cut at 1.5 times the highest median and ends in an arrow.
    cap = 1.5 * max([v[0] for v in values.values() if v] + [0])
    step, axis_end = nice_axis(max([min(v[2], cap) for v in values.values() if v] + [0]))
    y = lambda v: TOP + plot_h - v / axis_end * plot_h  # noqa: E731

    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
           f"viewBox='0 0 {width} {height}'>",
           f"<rect width='{width}' height='{height}' fill='#ffffff'/>",
           text(LEFT, 26, title, size=16, anchor="start", weight="bold"),
           text(LEFT, 46, subtitle, size=12, anchor="start", fill="#555")]
    # Legend, one entry per series, under the title.
    x = LEFT
    for label, colour in series:
        out.append(f"<g class='legend'><rect x='{x}' y='58' width='12' height='12' fill='{colour}'/>"
                   + text(x + 17, 69, label, anchor="start") + "</g>")
        x += 32 + 7.2 * len(label)
    # Grid and y axis.
    tick = 0.0
    while tick <= axis_end * 1.0001:
        out.append(f"<line x1='{LEFT}' x2='{width - RIGHT}' y1='{y(tick):.1f}' y2='{y(tick):.1f}' "
                   f"stroke='{'#888' if tick == 0 else '#e3e3e3'}'/>")
        out.append(text(LEFT - 6, y(tick) + 4, f"{round(tick, 9):g}", size=11, anchor="end", fill="#555"))
        tick += step
    out.append(text(18, TOP + plot_h / 2, unit, size=12, fill="#333",
                    extra=f" transform='rotate(-90 18 {TOP + plot_h / 2:.1f})'"))
    # Bars: each group takes an equal slot, its bars 80 % of it.
    slot = plot_w / len(groups)
    bar_w = min(56.0, slot * 0.8 / len(series))
    for g, group in enumerate(groups):
        first = LEFT + slot * g + (slot - bar_w * len(series)) / 2
        for s, (label, colour) in enumerate(series):
            bx, value = first + bar_w * s, values.get((group, label))
            cx = bx + bar_w / 2
            if value is None:
                out.append(text(cx, y(0) - 4, "failed", size=10, fill="#b00"))
                continue
            median, low, high = value
            out.append(f"<rect class='bar' data-group='{escape(group)}' data-series='{escape(label)}' "
                       f"x='{bx + 1:.1f}' y='{y(median):.1f}' width='{bar_w - 2:.1f}' "
                       f"height='{y(0) - y(median):.1f}' fill='{colour}'><title>{escape(label)}, "
                       f"{escape(group)}: {short(median)} ({short(low)}-{short(high)}) {escape(unit)}"
                       f"</title></rect>")
            top = min(high, axis_end)
            if high > low:
                end = f"M{cx - 4:.1f},{y(top) + 6:.1f}L{cx:.1f},{y(top):.1f}L{cx + 4:.1f},{y(top) + 6:.1f}" \
                    if high > axis_end else f"M{cx - 4:.1f},{y(top):.1f}h8"
                out.append(f"<path class='whisker' d='M{cx:.1f},{y(low):.1f}V{y(top):.1f}"
                           f"M{cx - 4:.1f},{y(low):.1f}h8{end}' "
                           f"stroke='#222' stroke-width='1.2' fill='none'/>")
            out.append(text(cx, y(top) - 5, short(median), size=10, fill="#333"))
        for k, part in enumerate(group.split(", ")):  # "1 000 subscribers, 64 B" on two lines (three with a window)
            out.append(text(LEFT + slot * (g + 0.5), TOP + plot_h + 20 + 15 * k, part, size=12))
    for i, line in enumerate(caption_lines):
        out.append(text(LEFT, height - bottom + 60 + extra + CAPTION_LINE * i, line, size=11,
                        anchor="start", fill="#555"))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def configuration(row):
    return f"{thousands(row['subscribers'])} subscribers, {thousands(row['payload'])} B"


def server_series(rows):
    servers = in_order(r["server"] for r in rows)
    others = [s for s in servers if s not in SERVER_COLOURS]
    return [(SERVER_NAMES.get(s, s), SERVER_COLOURS.get(s) or OTHER_COLOURS[others.index(s) % len(OTHER_COLOURS)])
            for s in servers]


def flat_groups(rows):
    """The flat-out rows and a function naming each one's group: its configuration, with its
    window when some configuration of the CSV was run at more than one (never mixing windows)."""
    flat = [r for r in rows if r["load"] == "flat"]
    windows = {}
    for r in flat:
        windows.setdefault(configuration(r), set()).add(r.get("window") or "")
    if any(len(w) > 1 for w in windows.values()):
        return flat, lambda r: f"{configuration(r)}, window {thousands(r['window'])}" if r.get("window") \
            else f"{configuration(r)}, window ?"
    return flat, configuration


def flat_chart(rows, column, scale, title, subtitle, unit, caption):
    """A flat-out figure: a group per configuration (and window), a bar per server."""
    flat, group_of = flat_groups(rows)
    groups = in_order(group_of(r) for r in flat)
    values = {}
    for group in groups:
        for label, _ in server_series(rows):
            picked = [r[column] for r in flat
                      if group_of(r) == group and SERVER_NAMES.get(r["server"], r["server"]) == label]
            m = spread(picked)
            values[(group, label)] = m and tuple(v * scale for v in m)
    return grouped_bars(title, subtitle, unit, groups, server_series(rows), values, caption)


def throughput_chart(rows, caption):
    """Deliveries/s flat out: a group per subscribers x payload (x window), a bar per server."""
    return flat_chart(rows, "deliveries_per_s", 1e-6, "Deliveries per second, flat out",
                      "higher is better; one publisher, N subscribers on one channel, server on one core",
                      "million deliveries/s", caption)


def cpu_chart(rows, caption):
    """Server CPU time per delivery flat out: a group per subscribers x payload (x window), a bar
    per server."""
    return flat_chart(rows, "server_cpu_ns_per_delivery", 1.0, "Server CPU time per delivery, flat out",
                      "lower is better; server process CPU time / deliveries, server on one core",
                      "ns per delivery", caption)


def latency_charts(rows, caption):
    """At the fixed rate, per subscribers x payload: a group per server, a bar per percentile.
    Returns {file name: svg}."""
    fixed = [r for r in rows if r["load"] == "fixed"]
    charts = {}
    for key in in_order((r["subscribers"], r["payload"]) for r in fixed):
        picked = [r for r in fixed if (r["subscribers"], r["payload"]) == key]
        rates = [float(r["rate_msg_per_s"]) * int(r["subscribers"]) for r in picked if r.get("rate_msg_per_s")]
        at = f" at {thousands(round(statistics.median(rates)))} deliveries/s" if rates else " at the fixed rate"
        groups = in_order(SERVER_NAMES.get(r["server"], r["server"]) for r in picked)
        series = list(PERCENTILE_COLOURS.items())
        values = {}
        for group in groups:
            of_server = [r for r in picked if SERVER_NAMES.get(r["server"], r["server"]) == group]
            for p, _ in series:
                values[(group, p)] = spread(r[f"{p}_ms"] for r in of_server)
        charts[f"latency-{key[0]}-{key[1]}.svg"] = grouped_bars(
            f"Latency, publish to receive: {configuration(picked[0])}",
            f"lower is better; percentiles{at}", "milliseconds", groups, series, values, caption)
    return charts


def memory_chart(rows, caption):
    """Server RSS growth per idle subscribed connection: a group per subscriber count, a bar per
    server (every load of that count, each from a fresh server, is a sample)."""
    groups = in_order(f"{thousands(r['subscribers'])} subscribers" for r in rows)
    values = {}
    for group in groups:
        for label, _ in server_series(rows):
            picked = [r["mem_per_conn_bytes"] for r in rows
                      if f"{thousands(r['subscribers'])} subscribers" == group
                      and SERVER_NAMES.get(r["server"], r["server"]) == label]
            m = spread(picked)
            values[(group, label)] = m and tuple(v / 1e3 for v in m)
    return grouped_bars("Server memory per idle subscribed connection",
                        "lower is better; (server RSS with N subscribers - RSS idle) / N, "
                        "kernel socket buffers not included",
                        "KB per connection", groups, server_series(rows), values, caption)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("csv", type=Path, help="CSV written by bench/run-comparison.sh --csv")
    parser.add_argument("--out", type=Path, default=Path("docs/charts"), help="output directory")
    parser.add_argument("--note", default="", help="a sentence added to every caption (after the CSV's note)")
    args = parser.parse_args(argv)
    try:
        meta, rows = read_results(args.csv)
    except CsvError as e:
        print(f"plot-charts.py: {e}", file=sys.stderr)
        return 2
    if not rows:
        print(f"plot-charts.py: {args.csv}: no rows", file=sys.stderr)
        return 2
    runs = len(in_order(r["run"] for r in rows))
    caption = [f"Measured {meta.get('date', '(date unknown)')}, commit {meta.get('commit', 'unknown')}, "
               f"{meta.get('machine', 'machine unknown')}.",
               f"Bars: median of {runs} run{'s' if runs != 1 else ''}; whiskers: min-max (an arrow: beyond the "
               f"axis, see the bar's tooltip or the CSV). "
               f"Source: {args.csv.name} (bench/run-comparison.sh). {meta.get('note', '')} {args.note}".strip()]
    charts = {"throughput.svg": throughput_chart(rows, caption), "memory.svg": memory_chart(rows, caption)}
    if "server_cpu_ns_per_delivery" in rows[0]:
        charts["cpu.svg"] = cpu_chart(rows, caption)
    charts.update(latency_charts(rows, caption))
    args.out.mkdir(parents=True, exist_ok=True)
    for name, svg in charts.items():
        (args.out / name).write_text(svg)
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
