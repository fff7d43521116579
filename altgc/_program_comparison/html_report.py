"""A program comparison as a self-contained HTML page: the table, the
notes, and an inline SVG chart (a timeline of the collections and a pause
histogram) drawn here, with no external resources."""

from __future__ import annotations

import html
import math

from .._util import fmt_ns
from .report import GEN_COLORS, SIDE_COLORS, SIDE_LABEL, SIDES, CompareReport, pause_histogram
from .text_report import table_rows


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
    left, right, lane_h, gap = 70, 20, 150, 40
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
    y_ticks = _nice_ticks(p_max / 1e6, 3)
    t_ticks = _nice_ticks(t_max / 1e9, 6)
    for li, side in enumerate(SIDES):
        y0 = top + li * (lane_h + gap)
        base = y0 + lane_h
        parts.append(f'<g class="lane" data-side="{side}">')
        parts.append(
            f'<rect x="{left}" y="{y0}" width="{plot_w}" height="{lane_h}" class="lanebg"/>'
        )
        parts.append(
            f'<text x="{left}" y="{y0 - 5}" class="lanelabel">'
            f"{esc(SIDE_LABEL[side])}: {len(ev[side])} "
            "collections</text>"
        )
        for tk in y_ticks:
            y = base - tk * 1e6 / p_max * (lane_h - 10)
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
            x = left + e["t_ns"] / t_max * plot_w
            y = base - e["pause_ns"] / p_max * (lane_h - 10)
            size = e.get("examined") or e["collected"] or 0
            r = 2.0 + 12.0 * math.sqrt(size / x_max)
            g = e["generation"] if e["generation"] in (0, 1, 2) else 2
            tip = (
                f"{SIDE_LABEL[side]}: generation {g} at "
                f"{e['t_ns'] / 1e9:.4f} s, pause {fmt_ns(e['pause_ns'])}"
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
        x = left + tk * 1e9 / t_max * plot_w
        if x > left + plot_w + 1:
            continue
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{axis_y - 6}" class="grid"/>')
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
                    f"{fmt_ns(edges[k])} - {fmt_ns(edges[k + 1])}</title>"
                    "</rect>"
                )
        for k in range(0, nb + 1, max(1, nb // 6)):
            x = left + k * bw
            parts.append(
                f'<text x="{x:.1f}" y="{h_top + h_h + 14}" '
                f'text-anchor="middle" class="tick">'
                f"{fmt_ns(edges[k])}</text>"
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
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 10px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
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
"""

# Counts what the chart drew and says so in the page (the render test reads
# it back from the DOM): proof the page's script ran without an error.
_JS = """
(function () {
  var svg = document.getElementById('chart');
  var marks = svg ? svg.querySelectorAll('circle.mark').length : 0;
  var bars = svg ? svg.querySelectorAll('rect.bar').length : 0;
  var out = document.getElementById('drawn');
  out.textContent = marks + ' collections and ' + bars +
      ' histogram bars drawn';
  document.body.setAttribute('data-rendered', 'ok');
  document.body.setAttribute('data-marks', String(marks));
})();
"""


def render_html(report: CompareReport) -> str:
    """A self-contained HTML page: the table, the notes and the chart."""
    esc = html.escape
    rows = "".join(
        f'<tr><th>{esc(label)}</th><td class="num">{esc(a)}</td><td class="num">{esc(b)}</td></tr>'
        for label, a, b in table_rows(report)
    )
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
<table id="summary">
<thead><tr><th></th><th>builtin gc</th><th>altgc</th></tr></thead>
<tbody>{rows}</tbody>
</table>
{notes_html}
{render_svg(report)}
<p id="drawn"></p>
<script>{_JS}</script>
</body>
</html>
"""
