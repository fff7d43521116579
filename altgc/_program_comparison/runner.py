"""Running a program comparison: the script once per collector and
repeat, each in a child process (:mod:`.child`), collected into a
:class:`~.report.CompareReport`."""

from __future__ import annotations

import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence

from .._util import package_parent, unsupported_script
from .child import SETUP_ENV
from .report import SIDE_LABEL, SIDES, CompareError, CompareReport, RunResult


def parse_threshold(text: str) -> list[int]:
    """``"700,10,10"`` -> ``[700, 10, 10]`` (1 to 3 non-negative ints).

    >>> parse_threshold("700,10,10"), parse_threshold("2000")
    ([700, 10, 10], [2000])
    """
    parts = [p.strip() for p in str(text).split(",")]
    try:
        vals = [int(p) for p in parts]
    except ValueError:
        raise ValueError(
            f"threshold must be 1 to 3 comma-separated integers like 700,10,10, not {text!r}"
        ) from None
    if not 1 <= len(vals) <= 3 or any(v < 0 for v in vals):
        raise ValueError(
            f"threshold must be 1 to 3 comma-separated integers >= 0 like 700,10,10, not {text!r}"
        )
    return vals


def run_once(
    collector: str,
    script: str,
    args: Sequence[str],
    threshold: list[int] | None = None,
    timeout: float | None = None,
) -> RunResult:
    """Run ``script`` once in a child process under ``collector``
    ("builtin" or "altgc") and return what was recorded.  A run that takes
    longer than ``timeout`` seconds is killed (SIGKILL), and its result
    says so (``timed_out_after_s``)."""
    if collector not in SIDES:
        raise ValueError(
            f"run_once() argument 'collector' must be 'builtin' or 'altgc', not {collector!r}"
        )
    with tempfile.TemporaryDirectory(prefix="altgc-compare-") as tmp:
        result_path = os.path.join(tmp, "result.json")
        env = dict(os.environ)
        env[SETUP_ENV] = json.dumps(
            {
                "collector": collector,
                # As given: the child runs in this directory, and the
                # script's sys.argv[0] is the path as typed, as under
                # ``python script.py``.
                "script": script,
                "args": list(args),
                "threshold": threshold,
                "result": result_path,
            }
        )
        # Same hash seed on both sides, so set/dict orders of strings (and
        # so the outputs) can be compared.
        env.setdefault("PYTHONHASHSEED", "0")
        env.pop("PYTHONSTARTUP", None)
        bootstrap = (
            f"import sys; sys.path[0] = {package_parent()!r}; "
            "from altgc._program_comparison.child import main; main()"
        )
        out_path = os.path.join(tmp, "stdout")
        err_path = os.path.join(tmp, "stderr")
        with open(out_path, "wb") as fout, open(err_path, "wb") as ferr:
            t0 = time.perf_counter_ns()
            proc = subprocess.Popen(
                [sys.executable, "-c", bootstrap],
                stdin=subprocess.DEVNULL,
                stdout=fout,
                stderr=ferr,
                env=env,
                cwd=os.getcwd(),
            )
            timer = None
            timer_fired = threading.Event()
            if timeout is not None:

                def stop() -> None:
                    timer_fired.set()
                    proc.kill()

                timer = threading.Timer(timeout, stop)
                timer.start()
            try:
                _, wstatus, usage = os.wait4(proc.pid, 0)
            finally:
                if timer is not None:
                    timer.cancel()
            wall = time.perf_counter_ns() - t0
            proc.returncode = os.waitstatus_to_exitcode(wstatus)
        # The timer may fire as the process ends on its own: only a process
        # that then died of the SIGKILL was stopped by it.
        timed_out = timer_fired.is_set() and proc.returncode == -signal.SIGKILL
        # Bytes that are not UTF-8 kept apart (as lone surrogates, which
        # the JSON record escapes): outputs that differ in them differ.
        with open(out_path, encoding="utf-8", errors="surrogateescape") as f:
            stdout = f.read()
        with open(err_path, encoding="utf-8", errors="surrogateescape") as f:
            stderr = f.read()
        run = RunResult(
            collector=collector,
            status=proc.returncode,
            wall_ns=wall,
            peak_rss_kb=int(usage.ru_maxrss),
            stdout=stdout,
            stderr=stderr,
            timed_out_after_s=timeout if timed_out else None,
        )
        try:
            with open(result_path) as f:
                rec = json.load(f)
        except (OSError, ValueError):
            run.recorded = False
            return run
        for key in (
            "script_ns",
            "events",
            "gc_calls",
            "stats_before",
            "stats_after",
            "enabled_at_exit",
            "threshold",
            "harness_overhead_ns",
            "error",
        ):
            setattr(run, key, rec[key])
        run.install = rec.get("install")
        run.threshold_start = rec.get("threshold_start") or []
        # Shown in the notes: no lone surrogates (from the script's
        # exception message or arguments), which no UTF-8 output can hold.
        if run.error is not None:
            run.error = _printable(run.error)
        for call in run.gc_calls:
            call["args"] = [_printable(a) if isinstance(a, str) else a for a in call["args"]]
        return run


def _printable(text: str) -> str:
    """``text`` with each lone surrogate as its ``\\udcXX`` escape, as the
    interpreter writes it in a traceback."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def compare_program(
    script: str,
    args: Sequence[str] = (),
    repeat: int = 1,
    threshold: list[int] | None = None,
    builtin_threshold: list[int] | None = None,
    altgc_threshold: list[int] | None = None,
    timeout: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> CompareReport:
    """Run ``script`` ``repeat`` times under each collector (alternating)
    and return a :class:`~.report.CompareReport`.  Raises :class:`CompareError`
    when the script does not exist or is a directory or a zip file (which
    the interpreter would run the ``__main__.py`` of), ``repeat`` is below
    1 or ``timeout``
    (seconds; None: no limit) is not a positive finite number."""
    unsupported = unsupported_script(script)
    if unsupported is not None:
        raise CompareError(unsupported)
    if repeat < 1:
        raise CompareError(f"--repeat must be at least 1, not {repeat}")
    if timeout is not None and not 0 < timeout < math.inf:
        raise CompareError(f"--timeout must be a positive number of seconds, not {timeout}")
    ths = {"builtin": builtin_threshold or threshold, "altgc": altgc_threshold or threshold}
    runs: dict[str, list[RunResult]] = {s: [] for s in SIDES}
    for i in range(repeat):
        for side in SIDES:
            if progress is not None:
                progress(f"run {i + 1}/{repeat} under {SIDE_LABEL[side]} ...")
            runs[side].append(run_once(side, script, args, ths[side], timeout))
    return CompareReport(
        script=script,
        args=list(args),
        python=platform.python_version(),
        repeat=repeat,
        thresholds=ths,
        runs=runs,
        created=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    )
