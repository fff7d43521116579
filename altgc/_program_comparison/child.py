"""The harness a script runs under in a program comparison, in a child
process.

Started as ``python -c <bootstrap>`` by :mod:`.runner` with the settings in
the environment variable ``ALTGC_COMPARE_SETUP`` (JSON: ``collector``
"builtin" or "altgc", ``threshold`` or null, ``result`` the path of the
JSON file to write, ``script`` and ``args``).  It records every collection
through the collector's callbacks (generation, collected, uncollectable,
pause, time since the script started, objects in the collected
generations), every call the script makes to ``disable``, ``enable``,
``set_threshold``, ``freeze`` and ``collect``, the collector's own
``get_stats()`` before and after, under altgc what install mode did outside
the collections meanwhile (``altgc.install_info()`` after minus before:
containers adopted, adoptions, polls, and their time), and the script's
exit status; then it writes the result file and ends the process as the
interpreter would have ended it after the script (see
:func:`altgc._util.exit_as_interpreter`).

The script runs as ``__main__`` (see :func:`altgc._util.run_script_as_main`
for the exit status).  Under "altgc", altgc is installed
(``altgc.install(adopt=True)``) and ``sys.modules["gc"]`` is altgc, so the
script's ``import gc`` gets altgc.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

SETUP_ENV = "ALTGC_COMPARE_SETUP"

#: The gc-like functions whose calls by the script are recorded.
RECORDED_CALLS = ("disable", "enable", "set_threshold", "freeze", "collect")

#: The counters of ``altgc.install_info()`` a run under altgc records (as
#: their change over the script): the work install mode does outside the
#: collections, which the recorded pauses do not include.
INSTALL_FIGURES = ("adopted", "adoptions", "adopt_ns", "polls", "poll_ns")


def _caller() -> str:
    """file:line of the script code calling a wrapped gc function."""
    f = sys._getframe(2)
    return f"{os.path.basename(f.f_code.co_filename)}:{f.f_lineno}"


def _wrap_gc_functions(
    module: Any, record: Callable[[str, tuple[Any, ...], str], None], explicit: list[int]
) -> None:
    """Replace the gc-like functions of ``module`` with recording ones;
    ``explicit[0]`` is non-zero while the script's own ``collect()`` runs."""

    def wrapper(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        if name == "collect":

            def collect(*args: Any, **kwargs: Any) -> Any:
                record(name, args, _caller())
                explicit[0] += 1
                try:
                    return fn(*args, **kwargs)
                finally:
                    explicit[0] -= 1

            return collect

        def call(*args: Any, **kwargs: Any) -> Any:
            record(name, args, _caller())
            return fn(*args, **kwargs)

        call.__name__ = name
        call.__doc__ = fn.__doc__
        return call

    for name in RECORDED_CALLS:
        setattr(module, name, wrapper(name, getattr(module, name)))


def _examined(gen: int, sizes: Callable[[int], int]) -> int | None:
    try:
        return sum(sizes(g) for g in range(gen + 1))
    except Exception:
        return None


def main() -> None:
    """Run the script described by ``ALTGC_COMPARE_SETUP``; end the process
    as the interpreter would have ended it after the script."""
    setup = json.loads(os.environ.pop(SETUP_ENV))
    collector = setup["collector"]
    script = setup["script"]
    import gc as real_gc

    import altgc

    from .._util import exit_as_interpreter, run_script_as_main

    mod: Any
    if collector == "altgc":
        mod = altgc

        def sizes(g: int) -> int:
            return altgc.stats().generations[g].size

    else:
        mod = real_gc

        def sizes(g: int) -> int:
            return len(real_gc.get_objects(g))

    events: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    explicit = [0]
    overhead = [0]
    state = {"t0": 0, "armed": False}
    pending: dict[str, Any] = {}

    def record_call(name: str, args: tuple[Any, ...], where: str) -> None:
        calls.append(
            {
                "func": name,
                "args": list(args),
                "t_ns": time.perf_counter_ns() - state["t0"],
                "where": where,
            }
        )

    def callback(phase: str, info: dict[str, int]) -> None:
        if not state["armed"]:
            return
        now = time.perf_counter_ns()
        if phase == "start":
            examined = _examined(info.get("generation", 2), sizes)
            pending["examined"] = examined
            after = time.perf_counter_ns()
            overhead[0] += after - now
            pending["start"] = after
        elif phase == "stop" and "start" in pending:
            start = pending.pop("start")
            events.append(
                {
                    "t_ns": start - state["t0"],
                    "pause_ns": now - start,
                    "generation": info.get("generation"),
                    "collected": info.get("collected", 0),
                    "uncollectable": info.get("uncollectable", 0),
                    "examined": pending.pop("examined", None),
                    "explicit": explicit[0] > 0,
                }
            )

    if collector == "altgc":
        # install() takes over the builtin gc's thresholds: set ours after.
        altgc.install(adopt=True)
        sys.modules["gc"] = altgc
    if setup.get("threshold"):
        mod.set_threshold(*setup["threshold"])
    # The originals, for the harness (the script gets recording wrappers).
    m_disable, m_enable, m_isenabled = mod.disable, mod.enable, mod.isenabled
    # No automatic collection between the stats snapshot and arming the
    # callback (nor, at the end, between disarming it and the snapshot):
    # the recorded collections are exactly those get_stats() counts.
    was_enabled = m_isenabled()
    m_disable()
    mod.callbacks.append(callback)
    _wrap_gc_functions(mod, record_call, explicit)
    stats_before = mod.get_stats()
    info_before = altgc.install_info() if collector == "altgc" else None
    state["t0"] = time.perf_counter_ns()
    state["armed"] = True
    if was_enabled:
        m_enable()

    # The bootstrap put the package's parent first on sys.path; the script
    # gets its own directory there instead, as under plain python.
    t0 = time.perf_counter_ns()
    ended = run_script_as_main(script, setup["args"])
    script_ns = time.perf_counter_ns() - t0
    enabled_at_exit = bool(m_isenabled())
    m_disable()
    state["armed"] = False
    stats_after = mod.get_stats()
    install = None
    if info_before is not None:
        info_after = altgc.install_info()
        install = {k: getattr(info_after, k) - getattr(info_before, k) for k in INSTALL_FIGURES}
    with contextlib.suppress(ValueError):
        mod.callbacks.remove(callback)
    sys.stdout.flush()
    sys.stderr.flush()
    result = {
        "collector": collector,
        "events": events,
        "gc_calls": calls,
        "stats_before": stats_before,
        "stats_after": stats_after,
        "enabled_at_exit": enabled_at_exit,
        "threshold": list(mod.get_threshold()),
        "script_ns": script_ns,
        "harness_overhead_ns": overhead[0],
        "install": install,
        "status": ended.status,
        "error": ended.error,
        "python": sys.version.split()[0],
    }
    if collector == "altgc":
        result["altgc_stats"] = altgc.stats().as_dict()
    with open(setup["result"], "w") as f:
        json.dump(result, f)
    exit_as_interpreter(ended)
