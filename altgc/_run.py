"""``python -m altgc run script.py [args]``: run a script, then report.

At exit (and whenever the process gets ``SIGUSR1``) it writes to stderr the
survivors report for what the script watched (:func:`altgc.watch`) -- every
watched object still alive after its name went, with cause and fix -- and
the ten container types whose number of live objects grew most since the
script started.
"""

from __future__ import annotations

import builtins
import collections
import gc
import os
import signal
import sys
import traceback
import types
from typing import Counter, List, Optional, TextIO

from . import _explain


def _type_counts() -> Counter:
    counts: Counter = collections.Counter()
    for o in gc.get_objects():
        counts[type(o).__qualname__] += 1
    return counts


def report(baseline: Counter, out: TextIO, top: int = 10) -> None:
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
    growth = sorted(((now[t] - baseline.get(t, 0), t) for t in now),
                    reverse=True)[:top]
    w(f"\n==== altgc: the {top} container types that grew most ====\n")
    for delta, t in growth:
        if delta <= 0:
            break
        w(f"{delta:>+10}  {t}  (now {now[t]})\n")
    out.flush()


def run(script: str, args: List[str], out: Optional[TextIO] = None) -> int:
    """Run ``script`` as ``__main__`` with ``args``; report at exit."""
    out = out if out is not None else sys.stderr
    if not os.path.isfile(script):
        out.write(f"python -m altgc run: no such script: {script}\n")
        return 2
    baseline = _type_counts()
    previous = None
    if hasattr(signal, "SIGUSR1"):
        previous = signal.signal(signal.SIGUSR1,
                                 lambda signum, frame: report(baseline, out))
    sys.argv = [script] + list(args)
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    # The script runs in a real __main__ module that stays in sys.modules
    # until the report is written, so its globals are named roots.
    main = types.ModuleType("__main__")
    main.__file__ = script
    main.__builtins__ = builtins
    saved_main = sys.modules.get("__main__")
    sys.modules["__main__"] = main
    code = 0
    try:
        with open(script, "rb") as f:
            source = f.read()
        exec(compile(source, script, "exec"), main.__dict__)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (
            0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        report(baseline, out)
        if previous is not None:
            signal.signal(signal.SIGUSR1, previous)
        if saved_main is not None:
            sys.modules["__main__"] = saved_main
    return code
