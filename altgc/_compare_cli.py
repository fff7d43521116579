"""``python -m altgc compare script.py [args]`` and ``python -m altgc bench``.

``compare`` runs a script twice, in separate processes -- under the builtin
gc, then with altgc installed as the process's cycle collector -- and
records every collection (generation, objects collected and uncollectable,
pause, when), the total GC time, wall time, peak RSS and exit status, and
whether the two runs printed the same thing.  It prints a side-by-side
table and can write the whole record as JSON (:meth:`CompareReport.to_json`
/ :meth:`CompareReport.from_json` round-trip), a self-contained HTML report
(table + an SVG timeline and pause histogram drawn here, no external
resources) and a PNG (matplotlib, the ``plot`` extra).

The programmatic API is :func:`compare_program` (returns a
:class:`CompareReport`); :func:`format_table`, :func:`render_html` and
:func:`render_png` render one.
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ._compare_child import HARNESS_FAILED, SETUP_ENV

__all__ = ["RunResult", "CompareReport", "compare_program", "run_once",
           "format_table", "render_html", "render_png", "summarize",
           "parse_threshold", "load_report", "CompareError", "main_compare",
           "main_bench"]

SIDES = ("builtin", "altgc")
SIDE_LABEL = {"builtin": "builtin gc", "altgc": "altgc"}
GEN_COLORS = ("#1f77b4", "#ff7f0e", "#d62728")
SIDE_COLORS = {"builtin": "#5b6f8f", "altgc": "#2ca02c"}


class CompareError(Exception):
    """A comparison that cannot run (bad input, missing feature)."""


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class RunResult:
    """One run of the script in a child process.

    ``events``: one dict per collection (``t_ns`` since the script started,
    ``pause_ns``, ``generation``, ``collected``, ``uncollectable``,
    ``examined`` -- objects in the collected generations when it started --
    and ``explicit``: whether the script's ``collect()`` call ran it).
    ``gc_calls``: the script's calls to ``disable``/``enable``/
    ``set_threshold``/``freeze``/``collect`` (``func``, ``args``, ``t_ns``,
    ``where``).  ``stats_before``/``stats_after``: the collector's own
    ``get_stats()`` around the script.  ``recorded`` is false when the
    child died before writing its record (``os._exit``, a crash, a kill).
    """

    collector: str
    status: int
    wall_ns: int
    peak_rss_kb: int
    stdout: str
    stderr: str
    recorded: bool = True
    script_ns: int = 0
    events: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    gc_calls: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    stats_before: List[Dict[str, int]] = dataclasses.field(
        default_factory=list)
    stats_after: List[Dict[str, int]] = dataclasses.field(
        default_factory=list)
    enabled_at_exit: bool = True
    threshold: List[int] = dataclasses.field(default_factory=list)
    harness_overhead_ns: int = 0
    error: Optional[str] = None

    def own_stats_delta(self) -> List[Dict[str, int]]:
        """What the collector's own ``get_stats()`` counted during the
        script (after minus before), per generation."""
        if not self.stats_before or not self.stats_after:
            return []
        return [{k: a[k] - b[k] for k in a}
                for a, b in zip(self.stats_after, self.stats_before)]


@dataclasses.dataclass
class CompareReport:
    """Everything ``python -m altgc compare`` measured.

    ``runs`` maps "builtin" and "altgc" to their :class:`RunResult` list
    (``repeat`` of each).  ``to_json()``/``from_json()`` round-trip.
    """

    script: str
    args: List[str]
    python: str
    repeat: int
    thresholds: Dict[str, Optional[List[int]]]
    runs: Dict[str, List[RunResult]]
    created: str = ""

    # -- comparisons ----------------------------------------------------
    def outputs_match(self) -> Dict[str, bool]:
        """Whether every run printed what the first builtin run printed."""
        ref = self.runs["builtin"][0]
        allruns = [r for s in SIDES for r in self.runs[s]]
        return {
            "stdout": all(r.stdout == ref.stdout for r in allruns),
            "stderr": all(r.stderr == ref.stderr for r in allruns),
            "status": all(r.status == ref.status for r in allruns),
        }

    def notes(self) -> List[str]:
        """What a reader must know: gc switched off by the script, runs that
        failed, outputs that differ, recording inconsistencies."""
        out: List[str] = []
        for side in SIDES:
            label = SIDE_LABEL[side]
            for n, run in enumerate(self.runs[side], 1):
                tag = f"{label} run {n}" if self.repeat > 1 else label
                for call in run.gc_calls:
                    if call["func"] in ("disable", "freeze",
                                        "set_threshold"):
                        args = ", ".join(map(str, call["args"]))
                        out.append(
                            f"{tag}: the script called gc.{call['func']}"
                            f"({args}) at {_fmt_s(call['t_ns'])} "
                            f"({call['where']})")
                if run.recorded and not run.enabled_at_exit:
                    out.append(f"{tag}: automatic collection was OFF when "
                               "the script ended")
                if not run.recorded:
                    out.append(f"{tag}: no collection record (the process "
                               "ended without returning to the harness: "
                               "os._exit, a crash or a signal)")
                if run.status != 0:
                    err = f": {run.error}" if run.error else ""
                    out.append(f"{tag}: exit status {run.status}{err}")
                if run.recorded:
                    mismatch = _stats_mismatch(run)
                    if mismatch:
                        out.append(f"{tag}: {mismatch}")
        match = self.outputs_match()
        for stream in ("stdout", "stderr"):
            if not match[stream]:
                out.append(f"{stream} differs: {self._first_diff(stream)}")
        return _dedupe(out)

    def _first_diff(self, stream: str) -> str:
        ref = getattr(self.runs["builtin"][0], stream).splitlines()
        for side in SIDES:
            for run in self.runs[side]:
                other = getattr(run, stream).splitlines()
                if other == ref:
                    continue
                for i in range(max(len(ref), len(other))):
                    a = ref[i] if i < len(ref) else "<end>"
                    b = other[i] if i < len(other) else "<end>"
                    if a != b:
                        return (f"line {i + 1}: builtin gc {a[:60]!r} vs "
                                f"{SIDE_LABEL[side]} {b[:60]!r}")
        return "?"

    # -- JSON -------------------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        d = dataclasses.asdict(self)
        d["summary"] = {s: summarize(self.runs[s]) for s in SIDES}
        d["outputs_match"] = self.outputs_match()
        d["notes"] = self.notes()
        return d

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "CompareReport":
        if (not isinstance(d, dict) or not isinstance(d.get("runs"), dict)
                or sorted(d["runs"]) != sorted(SIDES)
                or not all(d["runs"][s] for s in SIDES)):
            raise ValueError("not a compare report: expected an object "
                             "with runs of 'builtin' and 'altgc'")
        fields = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in fields}
        kw["runs"] = {side: [RunResult(**r) for r in runs]
                      for side, runs in d["runs"].items()}
        return cls(**kw)

    @classmethod
    def from_json(cls, text: str) -> "CompareReport":
        return cls.from_dict(json.loads(text))


def _dedupe(items: List[str]) -> List[str]:
    seen = set()
    out = []
    for x in items:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


def _stats_mismatch(run: RunResult) -> str:
    delta = run.own_stats_delta()
    if not delta:
        return ""
    seen = [sum(1 for e in run.events if e["generation"] == g)
            for g in range(3)]
    own = [d["collections"] for d in delta]
    if seen != own:
        return (f"callbacks saw {seen} collections per generation, the "
                f"collector's get_stats() counts {own}")
    return ""


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for no values."""
    if not values:
        return 0
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))
    return s[k]


def summarize_run(run: RunResult) -> Dict[str, Any]:
    """The table's figures for one run."""
    pauses = [e["pause_ns"] for e in run.events]
    return {
        "collections": [sum(1 for e in run.events if e["generation"] == g)
                        for g in range(3)],
        "explicit": sum(1 for e in run.events if e.get("explicit")),
        "collected": sum(e["collected"] for e in run.events),
        "uncollectable": sum(e["uncollectable"] for e in run.events),
        "pause_p50_ns": percentile(pauses, 50),
        "pause_p99_ns": percentile(pauses, 99),
        "pause_max_ns": max(pauses) if pauses else 0,
        "gc_total_ns": sum(pauses),
        "wall_ns": run.wall_ns,
        "script_ns": run.script_ns,
        "peak_rss_kb": run.peak_rss_kb,
        "status": run.status,
        "disable_calls": sum(1 for c in run.gc_calls
                             if c["func"] == "disable"),
    }


def summarize(runs: List[RunResult]) -> Dict[str, Any]:
    """Per-figure medians over ``runs`` (counts too: with one run, the
    run's own figures)."""
    per = [summarize_run(r) for r in runs]
    out: Dict[str, Any] = {}
    for key in per[0]:
        vals = [p[key] for p in per]
        if isinstance(vals[0], list):
            out[key] = [_median([v[i] for v in vals])
                        for i in range(len(vals[0]))]
        elif key == "status":
            out[key] = vals[0] if len(set(vals)) == 1 else vals
        else:
            out[key] = _median(vals)
    return out


def _median(vals: List[float]) -> Any:
    m = statistics.median(vals)
    return int(m) if float(m).is_integer() else m


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------

def parse_threshold(text: str) -> List[int]:
    """``"700,10,10"`` -> ``[700, 10, 10]`` (1 to 3 non-negative ints).

    >>> parse_threshold("700,10,10"), parse_threshold("2000")
    ([700, 10, 10], [2000])
    """
    parts = [p.strip() for p in str(text).split(",")]
    try:
        vals = [int(p) for p in parts]
    except ValueError:
        raise ValueError("threshold must be 1 to 3 comma-separated integers "
                         "like 700,10,10, not %r" % (text,)) from None
    if not 1 <= len(vals) <= 3 or any(v < 0 for v in vals):
        raise ValueError("threshold must be 1 to 3 comma-separated integers "
                         ">= 0 like 700,10,10, not %r" % (text,))
    return vals


def _pkg_parent() -> str:
    import altgc
    return os.path.dirname(os.path.dirname(os.path.abspath(altgc.__file__)))


def run_once(collector: str, script: str, args: Sequence[str],
             threshold: Optional[List[int]] = None,
             timeout: Optional[float] = None) -> RunResult:
    """Run ``script`` once in a child process under ``collector``
    ("builtin" or "altgc") and return what was recorded."""
    if collector not in SIDES:
        raise ValueError("run_once() argument 'collector' must be 'builtin' "
                         "or 'altgc', not %r" % (collector,))
    with tempfile.TemporaryDirectory(prefix="altgc-compare-") as tmp:
        result_path = os.path.join(tmp, "result.json")
        env = dict(os.environ)
        env[SETUP_ENV] = json.dumps({
            "collector": collector, "script": os.path.abspath(script),
            "args": list(args), "threshold": threshold,
            "result": result_path})
        # Same hash seed on both sides, so set/dict orders of strings (and
        # so the outputs) can be compared.
        env.setdefault("PYTHONHASHSEED", "0")
        env.pop("PYTHONSTARTUP", None)
        bootstrap = ("import sys; sys.path[0] = %r; "
                     "from altgc._compare_child import main; main()"
                     % _pkg_parent())
        out_path = os.path.join(tmp, "stdout")
        err_path = os.path.join(tmp, "stderr")
        with open(out_path, "wb") as fout, open(err_path, "wb") as ferr:
            t0 = time.perf_counter_ns()
            proc = subprocess.Popen(
                [sys.executable, "-c", bootstrap], stdin=subprocess.DEVNULL,
                stdout=fout, stderr=ferr, env=env, cwd=os.getcwd())
            timer = None
            if timeout:
                timer = threading.Timer(timeout, proc.kill)
                timer.start()
            try:
                _, wstatus, usage = os.wait4(proc.pid, 0)
            finally:
                if timer is not None:
                    timer.cancel()
            wall = time.perf_counter_ns() - t0
            proc.returncode = os.waitstatus_to_exitcode(wstatus)
        with open(out_path, encoding="utf-8", errors="replace") as f:
            stdout = f.read()
        with open(err_path, encoding="utf-8", errors="replace") as f:
            stderr = f.read()
        if proc.returncode == HARNESS_FAILED and "altgc compare:" in stderr:
            raise CompareError(stderr.strip().splitlines()[-1])
        run = RunResult(collector=collector, status=proc.returncode,
                        wall_ns=wall, peak_rss_kb=int(usage.ru_maxrss),
                        stdout=stdout, stderr=stderr)
        try:
            with open(result_path) as f:
                rec = json.load(f)
        except (OSError, ValueError):
            run.recorded = False
            return run
        for key in ("script_ns", "events", "gc_calls", "stats_before",
                    "stats_after", "enabled_at_exit", "threshold",
                    "harness_overhead_ns", "error"):
            setattr(run, key, rec[key])
        return run


def altgc_has_install_mode() -> bool:
    """Whether this altgc can be installed as the process's collector."""
    import altgc
    return callable(getattr(altgc, "install", None))


def compare_program(script: str, args: Sequence[str] = (), repeat: int = 1,
                    threshold: Optional[List[int]] = None,
                    builtin_threshold: Optional[List[int]] = None,
                    altgc_threshold: Optional[List[int]] = None,
                    timeout: Optional[float] = None,
                    progress: Any = None) -> CompareReport:
    """Run ``script`` ``repeat`` times under each collector (alternating)
    and return a :class:`CompareReport`.  Raises :class:`CompareError`
    when the script does not exist or altgc has no install mode."""
    if not os.path.isfile(script):
        raise CompareError(f"no such script: {script}")
    if repeat < 1:
        raise CompareError(f"--repeat must be at least 1, not {repeat}")
    if not altgc_has_install_mode():
        raise CompareError(
            "the altgc side needs install mode (altgc.install), which this "
            "altgc does not have")
    ths = {"builtin": builtin_threshold or threshold,
           "altgc": altgc_threshold or threshold}
    runs: Dict[str, List[RunResult]] = {s: [] for s in SIDES}
    for i in range(repeat):
        for side in SIDES:
            if progress is not None:
                progress(f"run {i + 1}/{repeat} under {SIDE_LABEL[side]} ...")
            runs[side].append(run_once(side, script, args, ths[side],
                                       timeout))
    return CompareReport(
        script=script, args=list(args),
        python=platform.python_version(), repeat=repeat,
        thresholds=ths, runs=runs,
        created=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))


# ---------------------------------------------------------------------------
# Rendering: text
# ---------------------------------------------------------------------------

def _fmt_ns(ns: float) -> str:
    from . import _fmt_ns as fmt          # altgc's own format for pauses
    return fmt(int(ns))


def _fmt_s(ns: float) -> str:
    return f"{ns / 1e9:.3f} s"


def _fmt_kb(kb: float) -> str:
    return f"{kb / 1024:.1f} MiB"


def table_rows(report: CompareReport) -> List[Tuple[str, str, str]]:
    """(label, builtin gc, altgc) rows of the side-by-side table."""
    s = {side: summarize(report.runs[side]) for side in SIDES}
    match = report.outputs_match()

    def row(label, fn):
        return (label, fn(s["builtin"], "builtin"), fn(s["altgc"], "altgc"))

    def th(side):
        t = report.thresholds.get(side)
        if t:
            return ",".join(map(str, t))
        rec = report.runs[side][0].threshold
        return ",".join(map(str, rec)) + " (default)" if rec else "default"

    rows = [
        row("thresholds", lambda x, side: th(side)),
        row("collections gen 0 / 1 / 2",
            lambda x, side: " / ".join(map(str, x["collections"]))),
        row("  of which explicit collect()",
            lambda x, side: str(x["explicit"])),
        row("objects collected", lambda x, side: str(x["collected"])),
        row("uncollectable", lambda x, side: str(x["uncollectable"])),
        row("pause p50", lambda x, side: _fmt_ns(x["pause_p50_ns"])),
        row("pause p99", lambda x, side: _fmt_ns(x["pause_p99_ns"])),
        row("pause max", lambda x, side: _fmt_ns(x["pause_max_ns"])),
        row("total GC time", lambda x, side: _fmt_ns(x["gc_total_ns"])),
        row("script time", lambda x, side: _fmt_s(x["script_ns"])),
        row("wall time (process)", lambda x, side: _fmt_s(x["wall_ns"])),
        row("peak RSS", lambda x, side: _fmt_kb(x["peak_rss_kb"])),
        row("exit status", lambda x, side: str(x["status"])),
        row("gc.disable() calls", lambda x, side: str(x["disable_calls"])),
    ]
    same = " / ".join("yes" if match[k] else "NO"
                      for k in ("stdout", "stderr", "status"))
    rows.append(("same stdout / stderr / status", same, same))
    return rows


def format_table(report: CompareReport) -> str:
    """The side-by-side table and the notes, as printed by the CLI."""
    head = (f"altgc compare: {' '.join([report.script] + report.args)}  "
            f"(Python {report.python}, "
            f"{report.repeat} run{'s' if report.repeat > 1 else ''} each"
            f"{', medians' if report.repeat > 1 else ''})")
    rows = table_rows(report)
    w = max(len(r[0]) for r in rows) + 2
    lines = [head, "", f"{'':{w}}{'builtin gc':>20}{'altgc':>20}"]
    for label, a, b in rows:
        lines.append(f"{label:{w}}{a:>20}{b:>20}")
    notes = report.notes()
    if notes:
        lines.append("")
        lines.extend("note: " + n for n in notes)
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Rendering: HTML with an inline SVG chart
# ---------------------------------------------------------------------------

def _nice_ticks(hi: float, n: int = 5) -> List[float]:
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


def _hist_bins(report: CompareReport, nbins: int = 24):
    """Log-spaced pause bins shared by both collectors: (edges, counts)."""
    pauses = {s: [e["pause_ns"] for e in report.runs[s][0].events
                  if e["pause_ns"] > 0] for s in SIDES}
    allp = pauses["builtin"] + pauses["altgc"]
    if not allp:
        return [], {s: [] for s in SIDES}
    lo, hi = math.log10(min(allp)), math.log10(max(allp))
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    edges = [10 ** (lo + (hi - lo) * i / nbins) for i in range(nbins + 1)]
    counts = {}
    for s in SIDES:
        c = [0] * nbins
        for p in pauses[s]:
            k = int((math.log10(p) - lo) / (hi - lo) * nbins)
            c[min(max(k, 0), nbins - 1)] += 1
        counts[s] = c
    return edges, counts


def render_svg(report: CompareReport, width: int = 960) -> str:
    """The timeline (both collectors on one time axis, one lane each,
    pauses as circles sized by objects examined, coloured by generation)
    and the pause histogram, as one SVG element (first run of each
    side)."""
    esc = html.escape
    left, right, lane_h, gap = 70, 20, 150, 40
    plot_w = width - left - right
    ev = {s: report.runs[s][0].events for s in SIDES}
    t_max = max(max([report.runs[s][0].script_ns] +
                    [e["t_ns"] + e["pause_ns"] for e in ev[s]])
                for s in SIDES) or 1
    p_max = max([e["pause_ns"] for s in SIDES for e in ev[s]] + [1])
    x_max = max([e.get("examined") or e["collected"] or 0
                 for s in SIDES for e in ev[s]] + [1])
    parts: List[str] = []
    top = 44
    parts.append(f'<text x="{left}" y="18" class="title">Collections over '
                 'time (pause height; circle area = objects examined)'
                 '</text>')
    y_ticks = _nice_ticks(p_max / 1e6, 3)
    t_ticks = _nice_ticks(t_max / 1e9, 6)
    for li, side in enumerate(SIDES):
        y0 = top + li * (lane_h + gap)
        base = y0 + lane_h
        parts.append(f'<g class="lane" data-side="{side}">')
        parts.append(f'<rect x="{left}" y="{y0}" width="{plot_w}" '
                     f'height="{lane_h}" class="lanebg"/>')
        parts.append(f'<text x="{left}" y="{y0 - 5}" class="lanelabel">'
                     f'{esc(SIDE_LABEL[side])}: {len(ev[side])} '
                     'collections</text>')
        for tk in y_ticks:
            y = base - tk * 1e6 / p_max * (lane_h - 10)
            if y < y0:
                continue
            parts.append(f'<line x1="{left}" x2="{left + plot_w}" '
                         f'y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
            parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" '
                         f'text-anchor="end" class="tick">{tk:g} ms</text>')
        for e in ev[side]:
            x = left + e["t_ns"] / t_max * plot_w
            y = base - e["pause_ns"] / p_max * (lane_h - 10)
            size = e.get("examined") or e["collected"] or 0
            r = 2.0 + 12.0 * math.sqrt(size / x_max)
            g = e["generation"] if e["generation"] in (0, 1, 2) else 2
            tip = (f"{SIDE_LABEL[side]}: generation {g} at "
                   f"{e['t_ns'] / 1e9:.4f} s, pause {_fmt_ns(e['pause_ns'])}"
                   f", examined {e.get('examined')}, collected "
                   f"{e['collected']}, uncollectable {e['uncollectable']}"
                   f"{' (explicit collect())' if e.get('explicit') else ''}")
            parts.append(f'<circle class="mark gen{g}" cx="{x:.1f}" '
                         f'cy="{y:.1f}" r="{r:.1f}" fill="{GEN_COLORS[g]}">'
                         f'<title>{esc(tip)}</title></circle>')
        parts.append('</g>')
    axis_y = top + 2 * lane_h + gap + 6
    for tk in t_ticks:
        x = left + tk * 1e9 / t_max * plot_w
        if x > left + plot_w + 1:
            continue
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" '
                     f'y2="{axis_y - 6}" class="grid"/>')
        parts.append(f'<text x="{x:.1f}" y="{axis_y + 10}" '
                     f'text-anchor="middle" class="tick">{tk:g} s</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{axis_y + 26}" '
                 'text-anchor="middle" class="axis">time since the script '
                 'started</text>')
    # legend
    ly = axis_y + 44
    for g in range(3):
        lx = left + g * 120
        parts.append(f'<circle cx="{lx + 6}" cy="{ly - 4}" r="6" '
                     f'fill="{GEN_COLORS[g]}"/><text x="{lx + 16}" '
                     f'y="{ly}" class="tick">generation {g}</text>')
    # histogram
    h_top = ly + 40
    h_h = 170
    edges, counts = _hist_bins(report)
    parts.append(f'<text x="{left}" y="{h_top - 10}" class="title">Pause '
                 'times (histogram, log-spaced bins)</text>')
    parts.append(f'<g class="histogram"><rect x="{left}" y="{h_top}" '
                 f'width="{plot_w}" height="{h_h}" class="lanebg"/>')
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
                    f'<title>{esc(SIDE_LABEL[side])}: {c} pauses of '
                    f'{_fmt_ns(edges[k])} - {_fmt_ns(edges[k + 1])}</title>'
                    '</rect>')
        for k in range(0, nb + 1, max(1, nb // 6)):
            x = left + k * bw
            parts.append(f'<text x="{x:.1f}" y="{h_top + h_h + 14}" '
                         f'text-anchor="middle" class="tick">'
                         f'{_fmt_ns(edges[k])}</text>')
        for tk in _nice_ticks(c_max, 3):
            y = h_top + h_h - tk / c_max * (h_h - 10)
            parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" '
                         f'text-anchor="end" class="tick">{tk:g}</text>')
    else:
        parts.append(f'<text x="{left + 10}" y="{h_top + 30}" '
                     'class="tick">no collections</text>')
    parts.append('</g>')
    ly2 = h_top + h_h + 36
    for j, side in enumerate(SIDES):
        lx = left + j * 140
        parts.append(f'<rect x="{lx}" y="{ly2 - 10}" width="12" height="12" '
                     f'fill="{SIDE_COLORS[side]}"/><text x="{lx + 18}" '
                     f'y="{ly2}" class="tick">{esc(SIDE_LABEL[side])}</text>')
    height = ly2 + 16
    return (f'<svg id="chart" xmlns="http://www.w3.org/2000/svg" '
            f'width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="collections timeline and pause histogram">'
            + "".join(parts) + "</svg>")


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
        f"<tr><th>{esc(label)}</th><td class=\"num\">{esc(a)}</td>"
        f"<td class=\"num\">{esc(b)}</td></tr>"
        for label, a, b in table_rows(report))
    notes = report.notes()
    notes_html = ("<ul class=\"notes\">" + "".join(
        f"<li>{esc(n)}</li>" for n in notes) + "</ul>") if notes else ""
    cmd = " ".join([report.script] + report.args)
    runs = (f"{report.repeat} run{'s' if report.repeat > 1 else ''} each"
            + (", medians; the chart shows the first run of each"
               if report.repeat > 1 else ""))
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


# ---------------------------------------------------------------------------
# Rendering: PNG (matplotlib, optional)
# ---------------------------------------------------------------------------

MATPLOTLIB_MISSING = ("--png needs matplotlib, which is not installed: "
                      "python -m pip install 'altgc[plot]' "
                      "(or: python -m pip install matplotlib)")


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def render_png(report: CompareReport, path: str) -> None:
    """Write the timeline and the pause histogram as a PNG (matplotlib).
    Raises :class:`CompareError` with install advice when matplotlib is
    missing."""
    try:
        import matplotlib
        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
        from matplotlib.lines import Line2D
    except ImportError:
        raise CompareError(MATPLOTLIB_MISSING) from None
    ev = {s: report.runs[s][0].events for s in SIDES}
    x_max = max([e.get("examined") or e["collected"] or 0
                 for s in SIDES for e in ev[s]] + [1])
    fig = plt.figure(figsize=(11, 8), dpi=100)
    try:
        gs = fig.add_gridspec(3, 1, height_ratios=[1, 1, 1.1], hspace=0.45)
        ax0 = fig.add_subplot(gs[0])
        ax1 = fig.add_subplot(gs[1], sharex=ax0, sharey=ax0)
        for ax, side in ((ax0, "builtin"), (ax1, "altgc")):
            es = ev[side]
            ax.scatter([e["t_ns"] / 1e9 for e in es],
                       [e["pause_ns"] / 1e6 for e in es],
                       s=[8 + 300 * (e.get("examined") or e["collected"]
                                     or 0) / x_max for e in es],
                       c=[GEN_COLORS[min(max(e["generation"], 0), 2)]
                          for e in es],
                       alpha=0.6, edgecolors="#333", linewidths=0.3)
            ax.set_ylabel("pause (ms)")
            ax.set_title(f"{SIDE_LABEL[side]}: {len(es)} collections",
                         loc="left", fontsize=10)
            ax.grid(True, color="#e4e4e4")
        ax1.set_xlabel("time since the script started (s)")
        ax0.legend(handles=[
            Line2D([], [], marker="o", ls="", color=GEN_COLORS[g],
                   label=f"generation {g}") for g in range(3)],
            loc="upper right", fontsize=8)
        ax2 = fig.add_subplot(gs[2])
        edges, counts = _hist_bins(report)
        if edges:
            import numpy as np
            e_us = np.array(edges) / 1e3
            centers = np.sqrt(e_us[:-1] * e_us[1:])
            widths = np.diff(e_us)
            ax2.bar(centers - widths / 4, counts["builtin"],
                    width=widths / 2, color=SIDE_COLORS["builtin"],
                    label=SIDE_LABEL["builtin"])
            ax2.bar(centers + widths / 4, counts["altgc"], width=widths / 2,
                    color=SIDE_COLORS["altgc"], label=SIDE_LABEL["altgc"])
            ax2.set_xscale("log")
            ax2.legend(fontsize=8)
        ax2.set_xlabel("pause (us)")
        ax2.set_ylabel("collections")
        ax2.set_title("pause times", loc="left", fontsize=10)
        fig.suptitle("altgc compare: " + " ".join(
            [os.path.basename(report.script)] + report.args), fontsize=12)
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def add_compare_parser(sub: Any) -> None:
    p = sub.add_parser(
        "compare", help="run a script under the builtin gc and under altgc, "
                        "side by side",
        description="Run SCRIPT twice in separate processes -- under the "
                    "builtin gc and with altgc installed as the collector -- "
                    "and compare collections, pauses, GC time, wall time, "
                    "peak RSS and outputs.  Exit status: 0 when both sides "
                    "behaved the same (exit status, stdout, stderr), 1 when "
                    "they differ, 2 on bad input.")
    p.add_argument("script", nargs="?", help="the Python script to run")
    p.add_argument("args", nargs=argparse.REMAINDER,
                   help="arguments passed to the script")
    p.add_argument("--threshold", metavar="T0[,T1[,T2]]",
                   help="thresholds for both collectors (e.g. 700,10,10)")
    p.add_argument("--builtin-threshold", metavar="T0[,T1[,T2]]",
                   help="thresholds for the builtin gc only")
    p.add_argument("--altgc-threshold", metavar="T0[,T1[,T2]]",
                   help="thresholds for altgc only")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="runs per collector; the table shows medians")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="kill a run that takes longer")
    p.add_argument("--json", metavar="PATH", help="write the record as JSON")
    p.add_argument("--html", metavar="PATH",
                   help="write a self-contained HTML report")
    p.add_argument("--png", metavar="PATH",
                   help="write the timeline and histogram as a PNG "
                        "(needs matplotlib: the 'plot' extra)")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress lines on stderr")
    p.add_argument("--from-json", metavar="PATH",
                   help="do not run anything: render the report saved by "
                        "--json (table, --html, --png) again")


def _fail(msg: str) -> int:
    sys.stderr.write(f"altgc compare: error: {msg}\n")
    return 2


def load_report(path: str) -> CompareReport:
    """A report saved with ``--json``; CompareError when it is not one."""
    try:
        with open(path, encoding="utf-8") as f:
            return CompareReport.from_json(f.read())
    except OSError as exc:
        raise CompareError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise CompareError(f"{path} is not a report saved by --json "
                           f"({type(exc).__name__}: {exc})") from None


def main_compare(args: argparse.Namespace) -> int:
    """Run ``python -m altgc compare`` with parsed arguments."""
    try:
        ths = {k: parse_threshold(v) if v else None for k, v in (
            ("threshold", args.threshold),
            ("builtin_threshold", args.builtin_threshold),
            ("altgc_threshold", args.altgc_threshold))}
    except ValueError as exc:
        return _fail(str(exc))
    if args.png and not have_matplotlib():
        return _fail(MATPLOTLIB_MISSING)
    script_args = list(args.args)
    if script_args and script_args[0] == "--":
        script_args = script_args[1:]

    def progress(msg: str) -> None:
        if not args.quiet:
            sys.stderr.write(f"altgc compare: {msg}\n")
            sys.stderr.flush()
    try:
        if args.from_json:
            if args.script:
                raise CompareError("give a script or --from-json, not both")
            report = load_report(args.from_json)
        elif not args.script:
            raise CompareError("the script to run is missing")
        else:
            report = compare_program(
                args.script, script_args, repeat=args.repeat,
                threshold=ths["threshold"],
                builtin_threshold=ths["builtin_threshold"],
                altgc_threshold=ths["altgc_threshold"],
                timeout=args.timeout, progress=progress)
    except CompareError as exc:
        return _fail(str(exc))
    print(format_table(report))
    try:
        if args.json:
            with open(args.json, "w") as f:
                f.write(report.to_json(indent=1))
        if args.html:
            with open(args.html, "w", encoding="utf-8") as f:
                f.write(render_html(report))
        if args.png:
            render_png(report, args.png)
    except (OSError, CompareError) as exc:
        return _fail(str(exc))
    match = report.outputs_match()
    return 0 if all(match.values()) else 1


# ---- bench ----------------------------------------------------------------

def add_bench_parser(sub: Any) -> None:
    p = sub.add_parser(
        "bench", help="run benchmarks/ and print the ratio table",
        description="Run the benchmarks of a source checkout "
                    "(benchmarks/run_all.py) with a progress line per "
                    "workload, and print the ratio table that "
                    "benchmarks/RESULTS.md records.")
    p.add_argument("--benchmarks", metavar="DIR", default=None,
                   help="the benchmarks directory (default: the checkout's "
                        "benchmarks/ next to the altgc package)")
    p.add_argument("--quick", action="store_true",
                   help="CI-speed smoke run (small sizes)")
    p.add_argument("--repeat", type=int, default=None, metavar="N")
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="run only these workloads")
    p.add_argument("--json", metavar="PATH",
                   help="also write all results as JSON")


def _load_run_all(bench_dir: str) -> Any:
    import importlib.util
    path = os.path.join(bench_dir, "run_all.py")
    if not os.path.isfile(path):
        raise CompareError(
            f"no benchmarks at {bench_dir} (run_all.py missing): the "
            "benchmarks ship with altgc's source, not with the installed "
            "package -- run from a source checkout, or pass "
            "--benchmarks DIR")
    spec = importlib.util.spec_from_file_location("_altgc_run_all", path)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def main_bench(args: argparse.Namespace) -> int:
    """Run ``python -m altgc bench`` with parsed arguments."""
    bench_dir = args.benchmarks or os.path.join(_pkg_parent(), "benchmarks")
    try:
        run_all = _load_run_all(bench_dir)
    except CompareError as exc:
        sys.stderr.write(f"altgc bench: error: {exc}\n")
        return 2
    names = args.only or run_all.BENCHMARKS
    unknown = [n for n in names if n not in run_all.BENCHMARKS]
    if unknown:
        sys.stderr.write("altgc bench: error: unknown workload(s) %s; "
                         "choose from %s\n" % (", ".join(unknown),
                                               ", ".join(run_all.BENCHMARKS)))
        return 2
    if args.repeat is not None and args.repeat < 1:
        sys.stderr.write("altgc bench: error: --repeat must be at least 1\n")
        return 2
    argv = []
    if args.quick:
        argv.append("--quick")
    if args.repeat is not None:
        argv += ["--repeat", str(args.repeat)]
    argv += ["--only"] + list(names)
    if args.json:
        argv += ["--json", args.json]
    # run_all prints "running NAME ..." on stderr before each workload;
    # add when each one finished and what it found.
    run_one = run_all.run_one
    done = [0]

    def run_one_with_progress(name, passthrough, verbose=False):
        t0 = time.perf_counter()
        res = run_one(name, passthrough, verbose=verbose)
        done[0] += 1
        what = ("ERROR: %s" % res["error"]) if res.get("error") else (
            "%d cases" % len(res.get("rows", [])))
        sys.stderr.write("  [%d/%d] %s done in %.1f s: %s\n" % (
            done[0], len(names), name, time.perf_counter() - t0, what))
        sys.stderr.flush()
        return res
    run_all.run_one = run_one_with_progress
    return int(run_all.main(argv))
