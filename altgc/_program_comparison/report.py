"""The record of a program comparison: what each run of the script
measured (:class:`RunResult`), the whole comparison (:class:`CompareReport`),
its summary figures, the notes a reader must see, and its JSON form
(:meth:`CompareReport.to_json` / :meth:`CompareReport.from_json`
round-trip)."""

from __future__ import annotations

import dataclasses
import json
import math
import signal
import statistics
from collections.abc import Sequence
from typing import Any

SIDES = ("builtin", "altgc")
SIDE_LABEL = {"builtin": "builtin gc", "altgc": "altgc"}
#: colours the HTML and PNG renderers share: per generation, per side
GEN_COLORS = ("#1f77b4", "#ff7f0e", "#d62728")
SIDE_COLORS = {"builtin": "#5b6f8f", "altgc": "#2ca02c"}
#: the least extra script time of altgc's that the notes explain: less is
#: within one run's noise (3.15 takes ~15 ms to print a traceback, +-3 ms)
OVERHEAD_NOTE_MIN_NS = 5_000_000


class CompareError(Exception):
    """A comparison that cannot run (bad input, missing feature)."""


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
    ``install``: under altgc, what install mode did outside the collections
    during the script (``adopted``, ``adoptions``, ``adopt_ns``, ``polls``,
    ``poll_ns``: the change of ``altgc.install_info()``); None under the
    builtin gc, whose new containers join its lists as they are created.
    ``timed_out_after_s``: the timeout, in seconds, after which the runner
    killed the process; None when the process ended on its own (and in a
    report saved before this was recorded).
    """

    collector: str
    status: int
    wall_ns: int
    peak_rss_kb: int
    stdout: str
    stderr: str
    recorded: bool = True
    script_ns: int = 0
    events: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    gc_calls: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    stats_before: list[dict[str, int]] = dataclasses.field(default_factory=list)
    stats_after: list[dict[str, int]] = dataclasses.field(default_factory=list)
    enabled_at_exit: bool = True
    threshold: list[int] = dataclasses.field(default_factory=list)
    #: the thresholds as the script started (``threshold``: as it ended;
    #: they differ when the script set its own); empty in older records
    threshold_start: list[int] = dataclasses.field(default_factory=list)
    harness_overhead_ns: int = 0
    error: str | None = None
    install: dict[str, int] | None = None
    timed_out_after_s: float | None = None

    def own_stats_delta(self) -> list[dict[str, int]]:
        """What the collector's own ``get_stats()`` counted during the
        script (after minus before), per generation."""
        if not self.stats_before or not self.stats_after:
            return []
        pairs = zip(self.stats_after, self.stats_before, strict=False)
        return [{k: a[k] - b[k] for k in a} for a, b in pairs]


@dataclasses.dataclass
class CompareReport:
    """Everything ``python -m altgc compare`` measured.

    ``runs`` maps "builtin" and "altgc" to their :class:`RunResult` list
    (``repeat`` of each).  ``to_json()``/``from_json()`` round-trip.
    """

    script: str
    args: list[str]
    python: str
    repeat: int
    thresholds: dict[str, list[int] | None]
    runs: dict[str, list[RunResult]]
    created: str = ""

    # -- comparisons ----------------------------------------------------
    def outputs_match(self) -> dict[str, bool]:
        """Whether every run printed what the first builtin run printed."""
        ref = self.runs["builtin"][0]
        allruns = [r for s in SIDES for r in self.runs[s]]
        return {
            "stdout": all(r.stdout == ref.stdout for r in allruns),
            "stderr": all(r.stderr == ref.stderr for r in allruns),
            "status": all(r.status == ref.status for r in allruns),
        }

    def notes(self) -> list[str]:
        """What a reader must know: gc switched off by the script, runs that
        failed or were stopped at the timeout, outputs that differ,
        recording inconsistencies."""
        out: list[str] = []
        for side in SIDES:
            label = SIDE_LABEL[side]
            for n, run in enumerate(self.runs[side], 1):
                tag = f"{label} run {n}" if self.repeat > 1 else label
                for call in run.gc_calls:
                    if call["func"] in ("disable", "freeze", "set_threshold"):
                        args = ", ".join(map(str, call["args"]))
                        out.append(
                            f"{tag}: the script called gc.{call['func']}"
                            f"({args}) at {fmt_s(call['t_ns'])} "
                            f"({call['where']})"
                        )
                if run.recorded and not run.enabled_at_exit:
                    out.append(f"{tag}: automatic collection was OFF when the script ended")
                if run.timed_out_after_s is not None:
                    out.append(
                        f"{tag}: stopped after the timeout ({run.timed_out_after_s:g} s)"
                        + ("" if run.recorded else ", so no collection record")
                    )
                elif not run.recorded:
                    out.append(
                        f"{tag}: no collection record (the process "
                        "ended without returning to the harness: "
                        "os._exit, a crash or a signal)"
                    )
                if run.status != 0:
                    out.append(f"{tag}: exit status {_status_text(run.status, run.error)}")
                if run.recorded:
                    mismatch = _stats_mismatch(run)
                    if mismatch:
                        out.append(f"{tag}: {mismatch}")
        out.extend(self._overhead_note())
        match = self.outputs_match()
        for stream in ("stdout", "stderr"):
            if not match[stream]:
                out.append(f"{stream} differs: {self._first_diff(stream)}")
        return _dedupe(out)

    def _overhead_note(self) -> list[str]:
        """Where altgc's extra script time went, when it took longer: its
        collections, install mode's adoptions and polls, and the rest --
        work done outside both, as containers are registered and removed
        from the registry when they die (medians over the runs)."""
        if not all(r.recorded for s in SIDES for r in self.runs[s]):
            return []
        b, a = summarize(self.runs["builtin"]), summarize(self.runs["altgc"])
        extra = a["script_ns"] - b["script_ns"]
        # Over 5% and over a few milliseconds: a script that makes next to
        # nothing (a SyntaxError, an exception, a print) differs by noise
        # that no registration explains.
        if (
            a["install_ns"] is None
            or extra <= 0.05 * b["script_ns"]
            or extra < OVERHEAD_NOTE_MIN_NS
        ):
            return []
        gc_extra = a["gc_total_ns"] - b["gc_total_ns"]
        rest = extra - gc_extra - a["install_ns"]
        head = (
            f"altgc's script time is {extra / 1e6:.1f} ms longer: collections "
            f"{_signed_ms(gc_extra)}, adoption and polls {_signed_ms(a['install_ns'])}"
        )
        if rest <= 0:
            return [head + " (together more than the difference: the rest is run-to-run noise)"]
        return [
            f"{head}, the other {rest / 1e6:.1f} ms outside both (registering each "
            "new container and removing it from the registry when it dies, "
            "which the builtin gc does through each object's header: README, "
            "'What install mode costs')"
        ]

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
                        return (
                            f"line {i + 1}: builtin gc {a[:60]!r} vs {SIDE_LABEL[side]} {b[:60]!r}"
                        )
        return "?"

    # -- JSON -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["summary"] = {s: summarize(self.runs[s]) for s in SIDES}
        d["outputs_match"] = self.outputs_match()
        d["notes"] = self.notes()
        return d

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CompareReport:
        if (
            not isinstance(d, dict)
            or not isinstance(d.get("runs"), dict)
            or sorted(d["runs"]) != sorted(SIDES)
            or not all(d["runs"][s] for s in SIDES)
        ):
            raise ValueError(
                "not a compare report: expected an object with runs of 'builtin' and 'altgc'"
            )
        fields = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in fields}
        kw["runs"] = {side: [RunResult(**r) for r in runs] for side, runs in d["runs"].items()}
        return cls(**kw)

    @classmethod
    def from_json(cls, text: str) -> CompareReport:
        return cls.from_dict(json.loads(text))


def _status_text(status: int, error: str | None) -> str:
    """A run's exit status for the notes: ``-2 (ended by SIGINT):
    KeyboardInterrupt``, ``1: ValueError: boom``."""
    text = str(status)
    if status < 0:
        try:
            text += f" (ended by {signal.Signals(-status).name})"
        except ValueError:
            text += f" (ended by signal {-status})"
    if error:
        # an exception without a message ends in ": "
        text += ": " + error.removesuffix(": ")
    return text


def _dedupe(items: list[str]) -> list[str]:
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
    seen = [sum(1 for e in run.events if e["generation"] == g) for g in range(3)]
    own = [d["collections"] for d in delta]
    if seen != own:
        return (
            f"callbacks saw {seen} collections per generation, the "
            f"collector's get_stats() counts {own}"
        )
    return ""


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for no values."""
    if not values:
        return 0
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))
    return s[k]


#: the figures a run's collection record gives (None for a run without one:
#: its process was killed or ended without returning to the harness); the
#: others (wall time, peak RSS, exit status) come from the process itself
RECORD_FIGURES = (
    "collections",
    "explicit",
    "collected",
    "uncollectable",
    "pause_p50_ns",
    "pause_p99_ns",
    "pause_max_ns",
    "gc_total_ns",
    "script_ns",
    "disable_calls",
    "adopted",
    "install_ns",
)


def summarize_run(run: RunResult) -> dict[str, Any]:
    """The table's figures for one run (those of :data:`RECORD_FIGURES`
    None when the run has no collection record)."""
    out = _run_figures(run)
    if not run.recorded:
        out.update(dict.fromkeys(RECORD_FIGURES))
    return out


def _run_figures(run: RunResult) -> dict[str, Any]:
    pauses = [e["pause_ns"] for e in run.events]
    return {
        "collections": [sum(1 for e in run.events if e["generation"] == g) for g in range(3)],
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
        "disable_calls": sum(1 for c in run.gc_calls if c["func"] == "disable"),
        # install mode's work outside the pauses (None: builtin gc, or a
        # report saved before it was recorded)
        "adopted": run.install["adopted"] if run.install else None,
        "install_ns": run.install["adopt_ns"] + run.install["poll_ns"] if run.install else None,
    }


def summarize(runs: list[RunResult]) -> dict[str, Any]:
    """Per-figure medians over ``runs`` (counts too: with one run, the
    run's own figures); a figure no run has is None (see
    :func:`summarize_run`)."""
    per = [summarize_run(r) for r in runs]
    out: dict[str, Any] = {}
    for key in per[0]:
        vals = [p[key] for p in per if p[key] is not None]
        if not vals:
            out[key] = None
        elif isinstance(vals[0], list):
            out[key] = [_median([v[i] for v in vals]) for i in range(len(vals[0]))]
        elif key == "status":
            out[key] = vals[0] if len(set(vals)) == 1 else vals
        else:
            out[key] = _median(vals)
    return out


def _median(vals: list[float]) -> Any:
    m = statistics.median(vals)
    return int(m) if float(m).is_integer() else m


def _signed_ms(ns: float) -> str:
    """Nanoseconds as signed milliseconds: "+12.3 ms", "-0.4 ms"."""
    return f"{ns / 1e6:+.1f} ms"


def missing_records(report: CompareReport) -> dict[str, bool]:
    """The sides none of whose runs left a collection record, each mapped
    to whether all of them were stopped at the timeout (the other reason:
    the process ended without returning to the harness)."""
    return {
        side: all(r.timed_out_after_s is not None for r in runs)
        for side, runs in report.runs.items()
        if not any(r.recorded for r in runs)
    }


def lane_status(run: RunResult) -> tuple[str, str]:
    """What a chart's lane for *run* says: its title ("12 collections",
    "no collection record") and the words for an empty lane."""
    if run.recorded:
        return f"{len(run.events)} collections", "no collections"
    if run.timed_out_after_s is not None:
        return "no collection record", "stopped after the timeout"
    return "no collection record", "the process did not return to the harness"


def fmt_s(ns: float) -> str:
    """Nanoseconds as seconds with three decimals."""
    return f"{ns / 1e9:.3f} s"


def pause_histogram(
    report: CompareReport, nbins: int = 24
) -> tuple[list[float], dict[str, list[int]]]:
    """Log-spaced pause bins shared by both collectors: (edges, counts)."""
    pauses = {
        s: [e["pause_ns"] for e in report.runs[s][0].events if e["pause_ns"] > 0] for s in SIDES
    }
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


def load_report(path: str) -> CompareReport:
    """A report saved with ``--json``; CompareError when it is not one."""
    try:
        with open(path, encoding="utf-8") as f:
            return CompareReport.from_json(f.read())
    except OSError as exc:
        raise CompareError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise CompareError(
            f"{path} is not a report saved by --json ({type(exc).__name__}: {exc})"
        ) from None
