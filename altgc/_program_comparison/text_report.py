"""The side-by-side table of a program comparison, as the CLI prints it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._stats import fmt_ns
from .report import SIDES, CompareReport, fmt_s, summarize

#: the thresholds row's mark for thresholds the script set itself
SET_BY_SCRIPT = " (set by the script)"


def _fmt_kb(kb: float) -> str:
    return f"{kb / 1024:.1f} MiB"


#: a figure of a run that left no collection record (the notes say why)
NO_RECORD = "no record"


def _fmt_install(x: dict[str, Any], side: str) -> str:
    if x["collections"] is None:
        return NO_RECORD
    if side == "builtin":
        return "-"  # a new container joins the builtin gc's list for free
    if x["install_ns"] is None:
        return "n/a"  # a report saved before this was recorded
    return f"{fmt_ns(x['install_ns'])} ({x['adopted']:,} adopted)"


def table_rows(report: CompareReport) -> list[tuple[str, str, str]]:
    """(label, builtin gc, altgc) rows of the side-by-side table."""
    s = {side: summarize(report.runs[side]) for side in SIDES}
    match = report.outputs_match()

    def row(label: str, fn: Callable[[dict[str, Any], str], str]) -> tuple[str, str, str]:
        return (label, fn(s["builtin"], "builtin"), fn(s["altgc"], "altgc"))

    def recorded(fn: Callable[[dict[str, Any]], str]) -> Callable[[dict[str, Any], str], str]:
        """A figure of the collection record: "no record" without one."""
        return lambda x, side: NO_RECORD if x["collections"] is None else fn(x)

    def th(side: str) -> str:
        t = report.thresholds.get(side)
        if t:
            return ",".join(map(str, t))
        run = report.runs[side][0]
        rec = run.threshold
        if rec and run.threshold_start and list(run.threshold_start) != list(rec):
            return ",".join(map(str, rec)) + SET_BY_SCRIPT
        return ",".join(map(str, rec)) + " (default)" if rec else "default"

    rows = [
        row("thresholds", lambda x, side: th(side)),
        row(
            "collections gen 0 / 1 / 2", recorded(lambda x: " / ".join(map(str, x["collections"])))
        ),
        row("  of which explicit collect()", recorded(lambda x: str(x["explicit"]))),
        row("objects collected", recorded(lambda x: str(x["collected"]))),
        row("uncollectable", recorded(lambda x: str(x["uncollectable"]))),
        row("pause p50", recorded(lambda x: fmt_ns(x["pause_p50_ns"]))),
        row("pause p99", recorded(lambda x: fmt_ns(x["pause_p99_ns"]))),
        row("pause max", recorded(lambda x: fmt_ns(x["pause_max_ns"]))),
        row("total GC time", recorded(lambda x: fmt_ns(x["gc_total_ns"]))),
        row("adoption + polls (outside pauses)", _fmt_install),
        row("script time", recorded(lambda x: fmt_s(x["script_ns"]))),
        row("wall time (process)", lambda x, side: fmt_s(x["wall_ns"])),
        row("peak RSS", lambda x, side: _fmt_kb(x["peak_rss_kb"])),
        row("exit status", lambda x, side: str(x["status"])),
        row("gc.disable() calls", recorded(lambda x: str(x["disable_calls"]))),
    ]
    same = " / ".join("yes" if match[k] else "NO" for k in ("stdout", "stderr", "status"))
    rows.append(("same stdout / stderr / status", same, same))
    return rows


def format_table(report: CompareReport) -> str:
    """The side-by-side table and the notes, as printed by the CLI."""
    head = (
        f"altgc compare: {' '.join([report.script, *report.args])}  "
        f"(Python {report.python}, "
        f"{report.repeat} run{'s' if report.repeat > 1 else ''} each"
        f"{', medians' if report.repeat > 1 else ''})"
    )
    rows = table_rows(report)
    w = max(len(r[0]) for r in rows) + 2
    # Each column at least two wider than its widest value, so that a long
    # one ("2000,10,10 (default)") never runs into its neighbour.
    cw = max(20, *(len(v) + 2 for r in rows for v in r[1:]))
    lines = [head, "", f"{'':{w}}{'builtin gc':>{cw}}{'altgc':>{cw}}"]
    for label, a, b in rows:
        lines.append(f"{label:{w}}{a:>{cw}}{b:>{cw}}")
    notes = report.notes()
    if notes:
        lines.append("")
        lines.extend("note: " + n for n in notes)
    return "\n".join(lines)
