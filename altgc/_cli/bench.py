"""``python -m altgc bench``: run a checkout's benchmarks/ with a progress
line per workload and print the ratio table benchmarks/RESULTS.md records."""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from typing import Any

from .._util import package_parent
from . import fail, output_path_error


class _NoBenchmarks(Exception):
    """The benchmarks directory has no run_all.py."""


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="run benchmarks/ and print the ratio table",
        description="Run the benchmarks of a source checkout "
        "(benchmarks/run_all.py) with a progress line per "
        "workload, and print the ratio table that "
        "benchmarks/RESULTS.md records.",
    )
    p.add_argument(
        "--benchmarks",
        metavar="DIR",
        default=None,
        help="the benchmarks directory (default: the checkout's "
        "benchmarks/ next to the altgc package)",
    )
    p.add_argument("--quick", action="store_true", help="CI-speed smoke run (small sizes)")
    p.add_argument(
        "--repeat",
        type=int,
        default=None,
        metavar="N",
        help="repetitions per measurement, at least 1 (default 5; 3 with --quick)",
    )
    p.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="run only these workloads (with --programs: these pyperformance programs)",
    )
    p.add_argument(
        "--json",
        metavar="PATH",
        help="also write all results as JSON to PATH (checked before the run)",
    )
    p.add_argument(
        "--programs",
        action="store_true",
        help="run pyperformance's programs under the builtin gc and under "
        "ALTGC_INSTALL=1 instead (benchmarks/bench_programs.py; needs "
        "pyperformance and altgc installed from a wheel)",
    )


def _load_run_all(bench_dir: str) -> Any:
    path = os.path.join(bench_dir, "run_all.py")
    if not os.path.isfile(path):
        raise _NoBenchmarks(
            f"no benchmarks at {bench_dir} (run_all.py missing): the "
            "benchmarks ship with altgc's source, not with the installed "
            "package -- run from a source checkout, or pass "
            "--benchmarks DIR"
        )
    spec = importlib.util.spec_from_file_location("_altgc_run_all", path)
    assert spec is not None and spec.loader is not None  # a .py file has both
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except Exception as exc:
        raise _NoBenchmarks(f"cannot load {path}: {type(exc).__name__}: {exc}") from None
    benchmarks = getattr(mod, "BENCHMARKS", None)
    if (
        not isinstance(benchmarks, list)
        or not all(isinstance(n, str) for n in benchmarks)
        or not callable(getattr(mod, "run_one", None))
        or not callable(getattr(mod, "main", None))
    ):
        raise _NoBenchmarks(
            f"{path} is not altgc's benchmark runner (it needs BENCHMARKS, "
            "run_one and main): pass --benchmarks DIR of an altgc checkout"
        )
    return mod


def _programs(bench_dir: str, args: argparse.Namespace) -> int:
    """``bench --programs``: benchmarks/bench_programs.py's table."""
    if importlib.util.find_spec("pyperformance") is None:
        return fail(
            "bench",
            "--programs runs pyperformance's programs: "
            "pip install pyperformance pyperf (and genshi 'mako==1.1.4' "
            "chameleon for the template engines)",
        )
    if args.json is not None:
        return fail("bench", "--json is not available with --programs")
    path = os.path.join(bench_dir, "bench_programs.py")
    if not os.path.isfile(path):
        return fail("bench", f"no {path}: run from a source checkout")
    argv = [sys.executable, path]
    if args.quick:
        argv.append("--quick")
    if args.repeat is not None:
        argv += ["--repeat", str(args.repeat)]
    if args.only:
        argv += ["--only", *args.only]
    return subprocess.call(argv)


def main(args: argparse.Namespace) -> int:
    """Run ``python -m altgc bench`` with parsed arguments."""
    if args.benchmarks == "":
        return fail("bench", "--benchmarks: the path is empty")
    bench_dir = args.benchmarks or os.path.join(package_parent(), "benchmarks")
    if args.repeat is not None and args.repeat < 1:
        return fail("bench", "--repeat must be at least 1")
    if args.json is not None and not args.programs:
        why = output_path_error("--json", args.json)
        if why is not None:
            return fail("bench", f"{why}")
    if args.programs:
        return _programs(bench_dir, args)
    try:
        run_all = _load_run_all(bench_dir)
    except _NoBenchmarks as exc:
        return fail("bench", f"{exc}")
    names = args.only or run_all.BENCHMARKS
    unknown = [n for n in names if n not in run_all.BENCHMARKS]
    if unknown:
        return fail(
            "bench",
            "unknown workload(s) {}; choose from {}".format(
                ", ".join(unknown), ", ".join(run_all.BENCHMARKS)
            ),
        )
    argv = []
    if args.quick:
        argv.append("--quick")
    if args.repeat is not None:
        argv += ["--repeat", str(args.repeat)]
    argv += ["--only", *list(names)]
    if args.json:
        argv += ["--json", args.json]
    # run_all prints "running NAME ..." on stderr before each workload;
    # add when each one finished and what it found.
    run_one = run_all.run_one
    done = [0]

    def run_one_with_progress(
        name: str, passthrough: list[str], verbose: bool = False
    ) -> dict[str, Any]:
        t0 = time.perf_counter()
        res: dict[str, Any] = run_one(name, passthrough, verbose=verbose)
        done[0] += 1
        what = (
            ("ERROR: {}".format(res["error"]))
            if res.get("error")
            else ("%d cases" % len(res.get("rows", [])))
        )
        sys.stderr.write(
            "  [%d/%d] %s done in %.1f s: %s\n"
            % (done[0], len(names), name, time.perf_counter() - t0, what)
        )
        sys.stderr.flush()
        return res

    run_all.run_one = run_one_with_progress
    return int(run_all.main(argv))
