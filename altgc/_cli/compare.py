"""``python -m altgc compare script.py [args]``: a program comparison.

Runs the script twice, in separate processes -- under the builtin gc, then
with altgc installed as the process's cycle collector -- prints the
side-by-side table and can write the record as JSON, a self-contained HTML
report and a PNG (see :mod:`altgc._program_comparison`).
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from .._program_comparison.html_report import render_html
from .._program_comparison.png_report import MATPLOTLIB_MISSING, have_matplotlib, render_png
from .._program_comparison.report import CompareError, load_report
from .._program_comparison.runner import compare_program, parse_threshold
from .._program_comparison.text_report import format_table
from . import fail, output_path_error


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "compare",
        help="run a script under the builtin gc and under altgc, side by side",
        description="Run SCRIPT twice in separate processes -- under the "
        "builtin gc and with altgc installed as the collector -- "
        "and compare collections, pauses, GC time, wall time, "
        "peak RSS and outputs.  Exit status: 0 when both sides "
        "behaved the same (exit status, stdout, stderr), 1 when "
        "they differ, 2 on bad input.",
    )
    p.add_argument("script", nargs="?", help="the Python script to run")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the script")
    p.add_argument(
        "--threshold",
        metavar="T0[,T1[,T2]]",
        help="thresholds for both collectors (e.g. 700,10,10)",
    )
    p.add_argument(
        "--builtin-threshold", metavar="T0[,T1[,T2]]", help="thresholds for the builtin gc only"
    )
    p.add_argument("--altgc-threshold", metavar="T0[,T1[,T2]]", help="thresholds for altgc only")
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="runs per collector; the table shows medians",
    )
    p.add_argument(
        "--timeout",
        type=_timeout_seconds,
        default=None,
        metavar="SECONDS",
        help="kill a run that takes longer (a positive number of seconds)",
    )
    p.add_argument("--json", metavar="PATH", help="write the record as JSON")
    p.add_argument("--html", metavar="PATH", help="write a self-contained HTML report")
    p.add_argument(
        "--png",
        metavar="PATH",
        help="write the timeline and histogram as a PNG (needs matplotlib: the 'plot' extra)",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    p.add_argument(
        "--from-json",
        metavar="PATH",
        help="do not run anything: render the report saved by --json (table, --html, --png) again",
    )


def _timeout_seconds(text: str) -> float:
    """The value of ``--timeout``: a positive finite number of seconds."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return seconds


def _fail(msg: str) -> int:
    return fail("compare", msg)


def main(args: argparse.Namespace) -> int:
    """Run ``python -m altgc compare`` with parsed arguments."""
    try:
        ths = {
            k: parse_threshold(v) if v else None
            for k, v in (
                ("threshold", args.threshold),
                ("builtin_threshold", args.builtin_threshold),
                ("altgc_threshold", args.altgc_threshold),
            )
        }
    except ValueError as exc:
        return _fail(str(exc))
    # Checked before both runs, so that a mistyped path does not cost
    # the whole comparison.
    for option, path in (("--json", args.json), ("--html", args.html), ("--png", args.png)):
        why = None if path is None else output_path_error(option, path)
        if why is not None:
            return _fail(why)
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
                args.script,
                script_args,
                repeat=args.repeat,
                threshold=ths["threshold"],
                builtin_threshold=ths["builtin_threshold"],
                altgc_threshold=ths["altgc_threshold"],
                timeout=args.timeout,
                progress=progress,
            )
    except CompareError as exc:
        return _fail(str(exc))
    print(format_table(report))
    option, path = "", ""
    try:
        if args.json:
            option, path = "--json: ", args.json
            with open(args.json, "w") as f:
                f.write(report.to_json(indent=1))
        if args.html:
            option, path = "--html: ", args.html
            with open(args.html, "w", encoding="utf-8") as f:
                f.write(render_html(report))
        if args.png:
            option, path = "--png: ", args.png
            render_png(report, args.png)
    except OSError as exc:
        return _fail(f"{option}cannot write {path}: {exc.strerror or exc}")
    except CompareError as exc:
        return _fail(f"{option}{exc}")
    match = report.outputs_match()
    return 0 if all(match.values()) else 1
