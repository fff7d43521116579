"""Shared helpers for the altgc benchmark scripts.

Every script measures altgc and the builtin gc in the same process (or,
for bench_registry's allocation workload, in alternating subprocesses),
repeats each measurement N times and reports medians.  Nothing here
asserts on timings: the scripts print figures, and the goals only label
them.

Output contract (used by run_all.py and ``python -m altgc bench``): a
human-readable block, then ONE final line that is a JSON object::

    {"benchmark": "<script stem>", "python": "3.12.1", "quick": false,
     "repeat": 5, "rows": [ROW, ...], "warnings": [...], "error": null}

    ROW = {"case": str, "description": str,
           "metric": "ratio" | "bytes/object" | "ns/object",
           "value": float, "goal": float | None, "floor": float | None,
           "builtin_s": float | None, "altgc_s": float | None,
           "extra": {...}}

For "ratio" rows, value = median(altgc_s samples) / median(builtin_s
samples) and builtin_s/altgc_s are those medians (for bench_young both
sides are altgc, see its description).  A row meets its goal when
value <= goal.
"""

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections import deque

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

perf_counter = time.perf_counter


def import_altgc():
    """Import altgc, falling back to the source checkout (in-place build)."""
    try:
        import altgc
    except ImportError:
        if REPO_ROOT not in sys.path:
            sys.path.insert(0, REPO_ROOT)
        import altgc
    return altgc


def altgc_build_info():
    """(path of altgc, debug build?) without failing if unavailable."""
    try:
        altgc = import_altgc()
    except ImportError:
        return None, None
    try:
        debug = bool(altgc._core._debug_build())
    except Exception:
        debug = None
    return os.path.dirname(getattr(altgc, "__file__", None) or "?"), debug


def parse_args(description, argv=None, extra=None):
    """Common command line: --quick, --repeat N, --json-only."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="CI-speed smoke run: small sizes, 3 repetitions"
    )
    parser.add_argument(
        "--repeat",
        "-r",
        type=int,
        default=None,
        help="repetitions per measurement (default 5, 3 with --quick); medians are reported",
    )
    parser.add_argument("--json-only", action="store_true", help="print only the final JSON line")
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 3 if args.quick else 5
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    return args


def median(values):
    return statistics.median(values) if values else float("nan")


def consume(iterator):
    """Exhaust an iterator at C speed (used as deque(map(f, xs), 0))."""
    deque(iterator, maxlen=0)


def isolate_builtin_heap():
    """Disable the builtin gc and freeze everything it tracks now.

    Afterwards gc.collect() examines only objects created from here on,
    so the builtin gc and altgc can be given the same set of objects.
    """
    gc.disable()
    gc.collect()
    gc.freeze()


def track_new_objects(altgc):
    """Register every object the builtin gc tracks outside the permanent
    generation (after isolate_builtin_heap(): the objects built since).
    Returns the number registered.  The temporary list is dropped before
    returning, so it holds nothing alive."""
    objs = gc.get_objects()
    n = len(objs)
    consume(map(altgc.track, objs))
    del objs
    return n


def alternate(reps, measure_builtin, measure_altgc):
    """Call the two measurement functions `reps` times each, alternating
    which goes first (B A, A B, ...) so that drift and order effects hit
    both sides alike.  Each returns (seconds, collect() result).
    Returns (builtin_times, altgc_times, builtin_found, altgc_found)."""
    tb, ta, fb, fa = [], [], [], []
    for i in range(reps):
        order = ((measure_builtin, tb, fb), (measure_altgc, ta, fa))
        if i % 2:
            order = order[::-1]
        for fn, times, found in order:
            t, f = fn()
            times.append(t)
            found.append(f)
    return tb, ta, fb, fa


def fmt_seconds(s):
    if s is None or s != s:
        return "-"
    if s >= 1.0:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return "%.2f ms" % (s * 1e3)
    return "%.1f us" % (s * 1e6)


def fmt_value(row):
    v = row.get("value")
    if v is None or v != v:
        return "-"
    if row.get("metric") == "ratio":
        return f"{v:.2f}x"
    return "{:.1f} {}".format(v, row.get("metric", ""))


def status(row):
    v, goal, floor = row.get("value"), row.get("goal"), row.get("floor")
    if v is None or v != v:
        return "n/a"
    if goal is None:
        return "info"
    if v <= goal:
        return "meets goal"
    if floor is not None and v <= floor:
        return "meets floor"
    return "above floor" if floor is not None else "above goal"


def ratio_row(case, description, builtin_samples, altgc_samples, goal=None, floor=None, extra=None):
    b = median(builtin_samples)
    a = median(altgc_samples)
    return {
        "case": case,
        "description": description,
        "metric": "ratio",
        "value": (a / b) if b else float("nan"),
        "goal": goal,
        "floor": floor,
        "builtin_s": b,
        "altgc_s": a,
        "extra": dict(
            extra or {},
            ratio_of_minima=(
                min(altgc_samples) / min(builtin_samples)
                if builtin_samples and altgc_samples and min(builtin_samples)
                else None
            ),
            # samples are taken in alternation, so sample i of
            # each side ran at nearly the same time: the median
            # of the per-pair ratios resists slow spells of a
            # shared machine better than the ratio of medians
            pair_ratio_median=(
                median(
                    [a_ / b_ for a_, b_ in zip(altgc_samples, builtin_samples, strict=False) if b_]
                )
                if builtin_samples and altgc_samples
                else None
            ),
            builtin_samples=list(builtin_samples),
            altgc_samples=list(altgc_samples),
        ),
    }


def value_row(case, description, metric, value, goal=None, floor=None, extra=None):
    return {
        "case": case,
        "description": description,
        "metric": metric,
        "value": value,
        "goal": goal,
        "floor": floor,
        "builtin_s": None,
        "altgc_s": None,
        "extra": dict(extra or {}),
    }


class Report:
    """Collects rows and prints them; emit() prints the final JSON line."""

    def __init__(self, name, args):
        self.name = name
        self.args = args
        self.rows = []
        self.warnings = []

    def log(self, *parts):
        if not self.args.json_only:
            print(*parts, flush=True)

    def warn(self, message):
        self.warnings.append(message)
        print("WARNING: " + message, file=sys.stderr, flush=True)

    def add(self, row):
        self.rows.append(row)
        goal = row.get("goal")
        floor = row.get("floor")
        bounds = ""
        if goal is not None:
            bounds = f"goal <= {goal:g}"
            if floor is not None:
                bounds += f", floor <= {floor:g}"
        if row["metric"] == "ratio":
            pairs = row["extra"].get("pair_ratio_median")
            self.log(
                "  %-28s builtin %-10s altgc %-10s ratio %-7s %s [%s]%s"
                % (
                    row["case"],
                    fmt_seconds(row["builtin_s"]),
                    fmt_seconds(row["altgc_s"]),
                    fmt_value(row),
                    bounds,
                    status(row),
                    f"  (pairs {pairs:.2f}x)" if pairs else "",
                )
            )
        else:
            self.log("  %-28s %-18s %s [%s]" % (row["case"], fmt_value(row), bounds, status(row)))

    def header(self, what):
        self.altgc_path, self.altgc_debug = altgc_build_info()
        self.log(
            "%s (Python %s, %s, repeat=%d%s)"
            % (
                what,
                platform.python_version(),
                platform.python_implementation(),
                self.args.repeat,
                ", quick" if self.args.quick else "",
            )
        )
        debug = ", DEBUG BUILD" if self.altgc_debug else ""
        self.log(f"altgc from {self.altgc_path}{debug}")
        if self.altgc_debug:
            self.warn("altgc was built with ALTGC_DEBUG: timings are not representative")

    def emit(self, error=None):
        result = {
            "benchmark": self.name,
            "python": platform.python_version(),
            "quick": bool(self.args.quick),
            "repeat": self.args.repeat,
            "rows": self.rows,
            "warnings": self.warnings,
            "error": error,
            "altgc_path": getattr(self, "altgc_path", None),
            "altgc_debug_build": getattr(self, "altgc_debug", None),
        }
        sys.stdout.flush()
        print(json.dumps(result, allow_nan=True), flush=True)


def run_main(name, what, args, body):
    """Run body(report) and always end with the JSON line."""
    report = Report(name, args)
    report.header(what)
    try:
        body(report)
    except Exception as exc:  # report, then fail the process
        import traceback

        traceback.print_exc()
        report.emit(error=f"{type(exc).__name__}: {exc}")
        return 1
    report.emit()
    return 0
