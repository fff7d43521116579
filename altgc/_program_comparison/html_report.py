"""A program comparison as a self-contained HTML page: the table, the
notes, and an inline SVG chart (a timeline of the collections and a pause
histogram) drawn here, with no external resources."""

from __future__ import annotations

import html
import math
import re

from .._stats import fmt_ns
from .report import (
    GEN_COLORS,
    SIDE_COLORS,
    SIDE_LABEL,
    SIDES,
    CompareReport,
    lane_status,
    missing_records,
    pause_histogram,
    summarize,
)
from .text_report import NO_RECORD, SET_BY_SCRIPT, table_rows


def fmt_us(ns: float) -> str:
    """:func:`fmt_ns` with the micro sign (the text table keeps ASCII "us")."""
    text = fmt_ns(ns)
    return text[:-3] + " \u00b5s" if text.endswith(" us") else text


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def verdict(report: CompareReport) -> str:
    """One line: altgc's GC time and pauses as ratios of the builtin gc's
    (medians over the runs; below 1 is faster); or why there are none."""
    missing = missing_records(report)
    if missing:
        several = report.repeat > 1 or len(missing) > 1
        who = (
            "both collectors' runs"
            if len(missing) > 1
            else f"the {SIDE_LABEL[next(iter(missing))]} run{'s' if several else ''}"
        )
        were = "were" if several else "was"
        why = (
            f"{were} stopped after the timeout, so no collection record"
            if all(missing.values())
            else "left no collection record"
        )
        return f"no collections to compare: {who} {why}"
    s = {side: summarize(report.runs[side]) for side in SIDES}
    b, a = s["builtin"], s["altgc"]
    made = {side: sum(s[side]["collections"]) for side in SIDES}
    if not made["builtin"] or not made["altgc"]:
        if not made["builtin"] and not made["altgc"]:
            return "no collections to compare: neither collector ran one"
        ran, idle = ("altgc", "builtin") if made["altgc"] else ("builtin", "altgc")
        return (
            f"no collections to compare: {SIDE_LABEL[idle]} ran none, {SIDE_LABEL[ran]} "
            f"{made[ran]} (total GC time {fmt_us(s[ran]['gc_total_ns'])})"
        )
    return (
        f"altgc: total GC time {_ratio(a['gc_total_ns'], b['gc_total_ns'])}, "
        f"p50 pause {_ratio(a['pause_p50_ns'], b['pause_p50_ns'])}, "
        f"max pause {_ratio(a['pause_max_ns'], b['pause_max_ns'])} the builtin gc's"
    )


#: rows whose difference is expected (the timings the verdict sums up)
_TIMING_ROWS = {
    "pause p50",
    "pause p99",
    "pause max",
    "total GC time",
    "adoption + polls (outside pauses)",
    "script time",
    "wall time (process)",
    "peak RSS",
}


def row_reasons(report: CompareReport) -> dict[str, str]:
    """For each row of the table whose two columns differ (timings aside),
    why they differ, in words."""
    rows = {label: (a, b) for label, a, b in table_rows(report)}
    set_by_flag = bool(report.thresholds.get("altgc") or report.thresholds.get("builtin"))
    by_script = any(t.endswith(SET_BY_SCRIPT) for t in rows["thresholds"])

    def bare(t: str) -> str:
        return t.replace(" (default)", "").replace(SET_BY_SCRIPT, "")

    thr_differ = bare(rows["thresholds"][0]) != bare(rows["thresholds"][1])
    reasons = {
        "thresholds": (
            "set by --threshold"
            if set_by_flag
            else "the script set them"
            if by_script
            else "the collectors' defaults differ"
        ),
        "collections gen 0 / 1 / 2": (
            "the thresholds differ, so collections are scheduled differently"
            if thr_differ
            else "the collectors scheduled collections differently"
        ),
        "  of which explicit collect()": "the script called collect() a different number of times",
        "objects collected": (
            "collections ran at other moments, so each found other garbage "
            "(the total freed is the same unless a note says otherwise)"
        ),
        "uncollectable": "the collectors left different objects in gc.garbage",
        "exit status": "the runs ended differently (see the notes)",
        "gc.disable() calls": "the script took another branch under one collector",
    }
    out: dict[str, str] = {}
    for label, (a, b) in rows.items():
        if NO_RECORD in (a, b) and a != b:
            side = "builtin gc" if a == NO_RECORD else "altgc"
            out[label] = f"no record from the {side} run"
            continue
        if label in _TIMING_ROWS:
            continue
        if label.startswith("same ") and "NO" in a:
            diffs = [n for n in report.notes() if " differs: " in n or "exit status" in n]
            out[label] = "; ".join(diffs) or "the outputs differ"
        elif a != b:
            out[label] = reasons.get(label, "the collectors differ here")
    return out


def _nice_ticks(hi: float, n: int = 5) -> list[float]:
    if hi <= 0:
        return [0.0]
    raw = hi / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    ticks = []
    v = 0.0
    while v <= hi * 1.0001:
        ticks.append(v)
        v += step
    return ticks


def render_svg(report: CompareReport, width: int = 960) -> str:
    """The timeline (both collectors on one time axis, one lane each,
    pauses as circles sized by objects examined, coloured by generation)
    and the pause histogram, as one SVG element (first run of each
    side)."""
    esc = html.escape
    left, right, lane_h, gap = 70, 36, 150, 40
    plot_w = width - left - right
    ev = {s: report.runs[s][0].events for s in SIDES}
    t_max = (
        max(
            max([report.runs[s][0].script_ns] + [e["t_ns"] + e["pause_ns"] for e in ev[s]])
            for s in SIDES
        )
        or 1
    )
    p_max = max([e["pause_ns"] for s in SIDES for e in ev[s]] + [1])
    x_max = max([e.get("examined") or e["collected"] or 0 for s in SIDES for e in ev[s]] + [1])
    parts: list[str] = []
    top = 44
    parts.append(
        f'<text x="{left}" y="18" class="title">Collections over '
        "time (pause height; circle area = objects examined)"
        "</text>"
    )
    # No axis for nothing: without a collection there are no pauses to
    # scale, without a script time no times.
    any_events = any(ev[s] for s in SIDES)
    y_ticks = _nice_ticks(p_max / 1e6, 3) if any_events else []
    t_ticks = _nice_ticks(t_max / 1e9, 6) if t_max > 1 else []
    # Pauses of 0 ms sit in a band above the lane's bottom edge (room for
    # the largest circle), not on it; times keep clear of the lane's sides.
    band, inset = 16, 14

    def px(t_ns: float) -> float:
        return float(left + inset + t_ns / t_max * (plot_w - 2 * inset))

    def py(base: float, pause_ns: float) -> float:
        return float(base - band - pause_ns / p_max * (lane_h - band - 12))

    for li, side in enumerate(SIDES):
        y0 = top + li * (lane_h + gap)
        base = y0 + lane_h
        parts.append(f'<g class="lane" data-side="{side}">')
        parts.append(
            f'<rect x="{left}" y="{y0}" width="{plot_w}" height="{lane_h}" class="lanebg"/>'
        )
        label, empty = lane_status(report.runs[side][0])
        parts.append(
            f'<text x="{left}" y="{y0 - 5}" class="lanelabel">'
            f"{esc(SIDE_LABEL[side])}: {esc(label)}</text>"
        )
        if not ev[side]:
            parts.append(
                f'<text x="{left + plot_w / 2}" y="{y0 + lane_h / 2}" text-anchor="middle" '
                f'class="axis empty">{esc(empty)}</text>'
            )
        for tk in y_ticks:
            y = py(base, tk * 1e6)
            if y < y0:
                continue
            parts.append(
                f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            )
            parts.append(
                f'<text x="{left - 6}" y="{y + 4:.1f}" '
                f'text-anchor="end" class="tick">{tk:g} ms</text>'
            )
        for e in ev[side]:
            x = px(e["t_ns"])
            y = py(base, e["pause_ns"])
            size = e.get("examined") or e["collected"] or 0
            r = 2.0 + 12.0 * math.sqrt(size / x_max)
            g = e["generation"] if e["generation"] in (0, 1, 2) else 2
            tip = (
                f"{SIDE_LABEL[side]}: generation {g} at "
                f"{e['t_ns'] / 1e9:.4f} s, pause {fmt_us(e['pause_ns'])}"
                f", examined {e.get('examined')}, collected "
                f"{e['collected']}, uncollectable {e['uncollectable']}"
                f"{' (explicit collect())' if e.get('explicit') else ''}"
            )
            parts.append(
                f'<circle class="mark gen{g}" cx="{x:.1f}" '
                f'cy="{y:.1f}" r="{r:.1f}" fill="{GEN_COLORS[g]}">'
                f"<title>{esc(tip)}</title></circle>"
            )
        parts.append("</g>")
    axis_y = top + 2 * lane_h + gap + 6
    for tk in t_ticks:
        x = px(tk * 1e9)
        if x > left + plot_w + 1:
            continue
        for li in range(len(SIDES)):  # inside each lane, clear of the lane labels
            y0 = top + li * (lane_h + gap)
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y0}" y2="{y0 + lane_h}" class="grid"/>'
            )
        parts.append(
            f'<text x="{x:.1f}" y="{axis_y + 10}" text-anchor="middle" class="tick">{tk:g} s</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{axis_y + 26}" '
        'text-anchor="middle" class="axis">time since the script '
        "started</text>"
    )
    # legend
    ly = axis_y + 44
    for g in range(3):
        lx = left + g * 120
        parts.append(
            f'<circle cx="{lx + 6}" cy="{ly - 4}" r="6" '
            f'fill="{GEN_COLORS[g]}"/><text x="{lx + 16}" '
            f'y="{ly}" class="tick">generation {g}</text>'
        )
    # histogram
    h_top = ly + 40
    h_h = 170
    edges, counts = pause_histogram(report)
    parts.append(
        f'<text x="{left}" y="{h_top - 10}" class="title">Pause '
        "times (histogram, log-spaced bins)</text>"
    )
    parts.append(
        f'<g class="histogram"><rect x="{left}" y="{h_top}" '
        f'width="{plot_w}" height="{h_h}" class="lanebg"/>'
    )
    if edges:
        nb = len(edges) - 1
        c_max = max(max(counts[s]) for s in SIDES) or 1
        bw = plot_w / nb
        for k in range(nb):
            for j, side in enumerate(SIDES):
                c = counts[side][k]
                if not c:
                    continue
                hgt = c / c_max * (h_h - 10)
                x = left + k * bw + j * bw / 2 + 1
                parts.append(
                    f'<rect class="bar {side}" x="{x:.1f}" '
                    f'y="{h_top + h_h - hgt:.1f}" width="{bw / 2 - 2:.1f}" '
                    f'height="{hgt:.1f}" fill="{SIDE_COLORS[side]}">'
                    f"<title>{esc(SIDE_LABEL[side])}: {c} pauses of "
                    f"{fmt_us(edges[k])} - {fmt_us(edges[k + 1])}</title>"
                    "</rect>"
                )
        for k in range(0, nb + 1, max(1, nb // 6)):
            x = left + k * bw
            parts.append(
                f'<text x="{x:.1f}" y="{h_top + h_h + 14}" '
                f'text-anchor="middle" class="tick">'
                f"{fmt_us(edges[k])}</text>"
            )
        for tk in _nice_ticks(c_max, 3):
            y = h_top + h_h - tk / c_max * (h_h - 10)
            parts.append(
                f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{tk:g}</text>'
            )
    else:
        parts.append(f'<text x="{left + 10}" y="{h_top + 30}" class="tick">no collections</text>')
    parts.append("</g>")
    ly2 = h_top + h_h + 36
    for j, side in enumerate(SIDES):
        lx = left + j * 140
        parts.append(
            f'<rect x="{lx}" y="{ly2 - 10}" width="12" height="12" '
            f'fill="{SIDE_COLORS[side]}"/><text x="{lx + 18}" '
            f'y="{ly2}" class="tick">{esc(SIDE_LABEL[side])}</text>'
        )
    height = ly2 + 16
    return (
        f'<svg id="chart" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="collections timeline and pause histogram">' + "".join(parts) + "</svg>"
    )


_CSS = """
:root { color-scheme: light dark; }
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; background: #fff; }
svg#chart { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 10px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th { background: #f0f0f0; }
.notes li { margin: 2px 0; }
svg .lanebg { fill: #fafafa; stroke: #ccc; }
svg .grid { stroke: #e4e4e4; }
svg .tick { font-size: 11px; fill: #555; }
svg .axis { font-size: 12px; fill: #333; }
svg .title { font-size: 13px; font-weight: 600; fill: #222; }
svg .lanelabel { font-size: 12px; font-weight: 600; fill: #222; }
svg .mark { fill-opacity: 0.55; stroke: #333; stroke-width: 0.4; }
svg .mark:hover { fill-opacity: 1; }
.verdict { font-size: 1.15em; font-weight: 600; padding: 6px 10px; border-left: 4px solid #2b6cb0;
  background: #eef4fb; display: inline-block; }
tr.differs td, tr.differs th { background: #fff4d6; }
td.reason { color: #6b4e00; font-size: 0.9em; max-width: 28em; }
@media (prefers-color-scheme: dark) {
  body { color: #ddd; background: #16181c; }
  th, td { border-color: #444; }
  th { background: #25282e; }
  svg .lanebg { fill: #1d2025; stroke: #444; }
  svg .grid { stroke: #2c3036; }
  svg .tick { fill: #aaa; }
  svg .axis, svg .title, svg .lanelabel { fill: #ddd; }
  svg .mark { stroke: #ddd; }
  .verdict { background: #1c2a3a; border-left-color: #5a9ae0; }
  tr.differs td, tr.differs th { background: #3a3215; }
  td.reason { color: #e8c870; }
}
"""

# Counts what the chart drew into attributes of <body> (the render test
# reads them back from the DOM): proof the page's script ran without an
# error.  Nothing of it shows on the page.
_JS = """
(function () {
  var svg = document.getElementById('chart');
  var marks = svg ? svg.querySelectorAll('circle.mark').length : 0;
  var bars = svg ? svg.querySelectorAll('rect.bar').length : 0;
  document.body.setAttribute('data-rendered', 'ok');
  document.body.setAttribute('data-marks', String(marks));
  document.body.setAttribute('data-bg', getComputedStyle(document.body).backgroundColor);
})();
"""


def fmt_cell(text: str) -> str:
    """A table cell as the page shows it: durations in \u00b5s."""
    return re.sub(r"(\d) us\b", "\\1 \u00b5s", text)


def render_html(report: CompareReport) -> str:
    """A self-contained HTML page: the table, the notes and the chart."""
    esc = html.escape
    reasons = row_reasons(report)

    def tr(label: str, a: str, b: str) -> str:
        why = reasons.get(label)
        cls = ' class="differs"' if why else ""
        return (
            f'<tr{cls}><th>{esc(label)}</th><td class="num">{esc(fmt_cell(a))}</td>'
            f'<td class="num">{esc(fmt_cell(b))}</td>'
            f'<td class="reason">{esc(why or "")}</td></tr>'
        )

    rows = "".join(tr(*row) for row in table_rows(report))
    notes = report.notes()
    notes_html = (
        ('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
        if notes
        else ""
    )
    cmd = " ".join([report.script, *report.args])
    runs = f"{report.repeat} run{'s' if report.repeat > 1 else ''} each" + (
        ", medians; the chart shows the first run of each" if report.repeat > 1 else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>altgc compare: {esc(cmd)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>altgc compare: <code>{esc(cmd)}</code></h1>
<p>Python {esc(report.python)}, {esc(runs)}. {esc(report.created)}</p>
<p id="verdict" class="verdict">{esc(verdict(report))}</p>
<table id="summary">
<thead><tr><th></th><th>builtin gc</th><th>altgc</th><th>why they differ</th></tr></thead>
<tbody>{rows}</tbody>
</table>
{notes_html}
{render_svg(report)}
<script>{_JS}</script>
</body>
</html>
"""
