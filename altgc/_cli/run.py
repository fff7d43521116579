"""``python -m altgc run script.py [args]``: run a script, then report.

At exit (and whenever the process gets ``SIGUSR1``) it writes to stderr the
survivors report for what the script watched (:func:`altgc.watch`) -- every
watched object still alive after its name went, with cause and fix -- and
the ten container types whose number of live objects grew most since the
script started (altgc's own types, such as the records of
:func:`altgc.watch`, left out).  The process ends as the interpreter would
have ended it after the script: with the script's exit status, or by
SIGINT after an uncaught KeyboardInterrupt (see
:func:`altgc._util.run_script_as_main` and
:func:`altgc._util.exit_as_interpreter`).
"""

from __future__ import annotations

import argparse
import collections
import gc
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from .. import _explain
from .._program_comparison.child import (
    restore_script_settings,
    suspend_script_settings,
    wait_for_threads,
)
from .._util import ScriptExit, exit_as_interpreter, run_script_as_main, unsupported_script
from . import PROG


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run a script; at exit (or on SIGUSR1) report the "
        "watched objects that survived and the container types "
        "that grew most",
        description="Run SCRIPT as __main__ (as python SCRIPT would).  At "
        "exit, and whenever the process gets SIGUSR1, write on stderr "
        "every object the script watched with altgc.watch(obj, 'label') "
        "that is still alive after its name went -- what holds it and the "
        "code that releases it -- and the ten container types whose "
        "number of live objects grew most.  Exit status: the script's "
        "(2 when there is no such script).",
    )
    p.add_argument("script", help="the Python script to run")
    rest = p.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the script")
    # argparse marks every REMAINDER positional as required, and so named
    # "args" as missing along with "script" when both were.
    rest.required = False


def main(args: argparse.Namespace) -> int:
    """Run ``python -m altgc run`` with parsed arguments."""
    ended = run(args.script, args.args, ends_process=True)
    if ended.interrupted:
        exit_as_interpreter(ended)
    return ended.status


def _is_altgc_type(t: type) -> bool:
    """Whether ``t`` is defined in the altgc package."""
    module = getattr(t, "__module__", None)
    return isinstance(module, str) and (module == "altgc" or module.startswith("altgc."))


def _type_counts(counts: collections.Counter[str] | None = None) -> collections.Counter[str]:
    """Add to ``counts`` (by default a new Counter, made once the objects
    are listed) the live objects the builtin gc tracks, per type name;
    altgc's own types are left out.  The objects this function makes are
    not counted, and it makes no lasting ones (a ``Counter(iterable)``
    would: the isinstance() check of its argument adds to the caches of
    the abstract base classes)."""
    by_type: dict[type, int] = {}
    for o in gc.get_objects():
        t = type(o)
        by_type[t] = by_type.get(t, 0) + 1
    if counts is None:
        counts = collections.Counter()
    for t, n in by_type.items():
        if not _is_altgc_type(t):
            counts[t.__qualname__] += n
    return counts


def report(baseline: collections.Counter[str], out: TextIO, top: int = 10) -> None:
    """Write the survivors report and the growing container types."""
    # Counted first, before the lines below make their own objects.  No
    # closure in this function may use its variables: their cells would be
    # made on entry, before the count, and counted as growth.
    now = _type_counts()
    w = out.write
    w("\n==== altgc: survivors ====\n")
    watched = _explain.watched()
    if not watched:
        w("(the script watched nothing: call altgc.watch(obj, 'label'))\n")
    for info in watched:
        w(f"{info}\n")
    survivors = _explain.survivors()
    for e in survivors:
        w(str(e) + "\n")
    if watched and not survivors:
        w("no survivors: every watched object whose name went is freed\n")
    growth = []
    for t, n in now.items():
        growth.append((n - baseline.get(t, 0), t))
    growth.sort(reverse=True)
    w(f"\n==== altgc: the {top} container types that grew most ====\n")
    for delta, t in growth[:top]:
        if delta <= 0:
            break
        w(f"{delta:>+10}  {t}  (now {now[t]})\n")
    out.flush()


def run(
    script: str, args: Sequence[str], out: TextIO | None = None, *, ends_process: bool = False
) -> ScriptExit:
    """Run ``script`` as ``__main__`` with ``args``; report at exit (while
    the script's ``__main__`` is still in ``sys.modules``, so its globals
    are named roots) and on ``SIGUSR1``.  Returns how the script ended;
    status 2 when there is no such script, or it is a directory or a zip
    file.  With ``ends_process`` (the command line, whose process ends
    after the script) the script's non-daemon threads end before the exit
    report, as the interpreter waits for them after the main module."""
    stream = out if out is not None else sys.stderr
    unsupported = unsupported_script(script)
    if unsupported is not None:
        stream.write(f"{PROG} run: error: {unsupported}\n")
        return ScriptExit(2)
    baseline: collections.Counter[str] = collections.Counter()

    def report_now() -> None:
        report(baseline, stream)

    previous = None
    if hasattr(signal, "SIGUSR1"):
        previous = signal.signal(signal.SIGUSR1, lambda signum, frame: report_now())
    pid = os.getpid()
    settings: list[Any] = [None, None, 0]

    def at_exit() -> None:
        # No trace or profile function of the script sees the report, nor
        # does its recursion limit stop it.  A process the script forked
        # that comes back here ends without a report of its own.
        suspend_script_settings(settings)
        try:
            if ends_process:
                wait_for_threads(settings[0], settings[1])
            if os.getpid() == pid:
                report_now()
        finally:
            restore_script_settings(settings)

    def printing_is_not_growth(print_traceback: Callable[[], None]) -> None:
        # What printing an uncaught exception makes and keeps is the
        # interpreter's, not the script's (3.15's first traceback imports
        # its colour themes: 170 dataclass Fields, functions, cells...):
        # it joins the baseline.
        before = _type_counts()
        print_traceback()
        for t, n in _type_counts().items():
            if n > before[t]:
                baseline[t] += n - before[t]

    # The baseline is counted last before the script starts, once the
    # objects this run keeps until the report (the counter itself, the
    # report functions) exist, so that they are not counted as growth.
    _type_counts(baseline)
    try:
        return run_script_as_main(
            script, args, before_restore=at_exit, around_traceback=printing_is_not_growth
        )
    finally:
        if previous is not None:
            signal.signal(signal.SIGUSR1, previous)
