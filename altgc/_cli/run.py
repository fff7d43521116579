"""``python -m altgc run script.py [args]``: run a script, then report.

At exit (and whenever the process gets ``SIGUSR1``) it writes to stderr the
survivors report for what the script watched (:func:`altgc.watch`) -- every
watched object still alive after its name went, with cause and fix -- and
the ten container types whose number of live objects grew most since the
script started.  The exit status is the script's (see
:func:`altgc._util.run_script_as_main`).
"""

from __future__ import annotations

import argparse
import collections
import gc
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from .. import _explain
from .._util import run_script_as_main


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run a script; at exit (or on SIGUSR1) report the "
        "watched objects that survived and the container types "
        "that grew most",
    )
    p.add_argument("script")
    p.add_argument("args", nargs=argparse.REMAINDER)


def main(args: argparse.Namespace) -> int:
    """Run ``python -m altgc run`` with parsed arguments."""
    return run(args.script, args.args)


def _type_counts() -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    for o in gc.get_objects():
        counts[type(o).__qualname__] += 1
    return counts


def report(baseline: collections.Counter[str], out: TextIO, top: int = 10) -> None:
    """Write the survivors report and the growing container types."""
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
    now = _type_counts()
    growth = sorted(((now[t] - baseline.get(t, 0), t) for t in now), reverse=True)[:top]
    w(f"\n==== altgc: the {top} container types that grew most ====\n")
    for delta, t in growth:
        if delta <= 0:
            break
        w(f"{delta:>+10}  {t}  (now {now[t]})\n")
    out.flush()


def run(script: str, args: Sequence[str], out: TextIO | None = None) -> int:
    """Run ``script`` as ``__main__`` with ``args``; report at exit (while
    the script's ``__main__`` is still in ``sys.modules``, so its globals
    are named roots) and on ``SIGUSR1``.  Returns the script's exit status,
    2 when there is no such script."""
    stream = out if out is not None else sys.stderr
    if not os.path.isfile(script):
        stream.write(f"python -m altgc run: no such script: {script}\n")
        return 2
    baseline = _type_counts()
    previous = None
    if hasattr(signal, "SIGUSR1"):
        previous = signal.signal(signal.SIGUSR1, lambda signum, frame: report(baseline, stream))
    try:
        ended = run_script_as_main(script, args, before_restore=lambda: report(baseline, stream))
    finally:
        if previous is not None:
            signal.signal(signal.SIGUSR1, previous)
    return ended.status
