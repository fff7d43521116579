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
exit status, up to the end of the script's non-daemon threads (which the
interpreter waits for after the main module); then it writes the result
file (not in a process the script forked) and ends the process as the
interpreter would have ended it after the script (see
:func:`altgc._util.exit_as_interpreter`), with the script's trace and
profile functions and recursion limit, taken away meanwhile, back.

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
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from .._util import ScriptExit

SETUP_ENV = "ALTGC_COMPARE_SETUP"

#: The gc-like functions whose calls by the script are recorded.
RECORDED_CALLS = ("disable", "enable", "set_threshold", "freeze", "collect")

#: The counters of ``altgc.install_info()`` a run under altgc records (as
#: their change over the script): the work install mode does outside the
#: collections, which the recorded pauses do not include.
INSTALL_FIGURES = ("adopted", "adoptions", "adopt_ns", "polls", "poll_ns")


def _caller() -> str:
    """file:line of the script code calling a wrapped gc function; "?"
    when no Python code called it (an atexit handler, a callback from C)."""
    f = sys._getframe(1).f_back
    if f is None:
        return "?"
    return f"{os.path.basename(f.f_code.co_filename)}:{f.f_lineno}"


def _json_arg(value: Any) -> Any:
    """An argument of a recorded call as JSON can hold it: ints, floats,
    strings, booleans and None as themselves (subclasses as the base
    type), anything else as its (shortened) repr."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    # Subclasses as their base type, without running their own methods.
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= 200 else text[:197] + "..."


def wait_for_threads(trace: Any = None, profile: Any = None) -> None:
    """Wait for the script's non-daemon threads, as the interpreter does
    after the main module, before the atexit handlers
    (``threading._shutdown()``, which it then finds done), with the trace
    and profile functions ``trace`` and ``profile`` set meanwhile (as the
    script left them: they see that code run, as under plain python).  An
    exception there is printed and ignored, as the interpreter does."""
    threading = sys.modules.get("threading")
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is None:
        return
    try:
        sys.setprofile(profile)
        sys.settrace(trace)
        shutdown()
    except BaseException as exc:
        sys.settrace(None)
        sys.setprofile(None)
        import traceback

        sys.stderr.write(f"Exception ignored in: {threading!r}\n")
        traceback.print_exception(type(exc), exc, exc.__traceback__)
    finally:
        sys.settrace(None)
        sys.setprofile(None)


def suspend_script_settings(saved: list[Any]) -> None:
    """Take away what the script left set that would act on the harness's
    code after it: its trace and profile functions (they would see that
    code, and print or record it), a recursion limit too low for it.
    ``saved`` (a list of three, filled in place: no new container) gets
    them for :func:`restore_script_settings`."""
    saved[0] = sys.gettrace()
    saved[1] = sys.getprofile()
    saved[2] = sys.getrecursionlimit()
    sys.settrace(None)
    sys.setprofile(None)
    sys.setrecursionlimit(max(saved[2], 1000))


def restore_script_settings(saved: Sequence[Any]) -> None:
    """Put back what :func:`suspend_script_settings` took away, for the
    rest of the process (atexit handlers, finalization)."""
    trace, profile, limit = saved
    with contextlib.suppress(RecursionError, ValueError):
        sys.setrecursionlimit(limit)
    sys.setprofile(profile)
    sys.settrace(trace)


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
    # A process the script forks runs on to the end of this function too:
    # only this one writes the record.
    pid = os.getpid()
    collector = setup["collector"]
    script = setup["script"]
    import gc as real_gc

    import altgc

    from .._util import run_script_as_main

    mod: Any
    if collector == "altgc":
        mod = altgc
        altgc_stats = altgc.stats

        def sizes(g: int) -> int:
            return altgc_stats().generations[g].size

    else:
        mod = real_gc
        get_objects = real_gc.get_objects

        def sizes(g: int) -> int:
            return len(get_objects(g))

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
                "args": [_json_arg(a) for a in args],
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
    # The originals, for the harness (the script gets recording wrappers,
    # and may replace or delete any of these attributes).
    m_disable, m_enable, m_isenabled = mod.disable, mod.enable, mod.isenabled
    m_get_stats, m_get_threshold, m_callbacks = mod.get_stats, mod.get_threshold, mod.callbacks
    install_info = altgc.install_info
    # No automatic collection between the stats snapshot and arming the
    # callback (nor, at the end, between disarming it and the snapshot):
    # the recorded collections are exactly those get_stats() counts.
    was_enabled = m_isenabled()
    m_disable()
    m_callbacks.append(callback)
    _wrap_gc_functions(mod, record_call, explicit)
    stats_before = m_get_stats()
    threshold_start = list(m_get_threshold())
    info_before = install_info() if collector == "altgc" else None
    state["t0"] = time.perf_counter_ns()
    state["armed"] = True
    if was_enabled:
        m_enable()

    # The bootstrap put the package's parent first on sys.path; the script
    # gets its own directory there instead, as under plain python.
    t0 = time.perf_counter_ns()
    ended = run_script_as_main(script, setup["args"])
    # suspend_script_settings(), inline: a trace function would see a call.
    settings = (sys.gettrace(), sys.getprofile(), sys.getrecursionlimit())
    sys.settrace(None)
    sys.setprofile(None)
    sys.setrecursionlimit(max(settings[2], 1000))
    # The program goes on in its threads; their collections count too.
    wait_for_threads(*settings[:2])
    script_ns = time.perf_counter_ns() - t0
    enabled_at_exit = bool(m_isenabled())
    m_disable()
    state["armed"] = False
    stats_after = m_get_stats()
    install = None
    if info_before is not None:
        info_after = install_info()
        install = {k: getattr(info_after, k) - getattr(info_before, k) for k in INSTALL_FIGURES}
    with contextlib.suppress(ValueError):
        m_callbacks.remove(callback)
    if os.getpid() != pid:
        _end(ended, settings)
    # (The script's output streams are flushed as the interpreter ends,
    # as after ``python script.py``: they may be closed or replaced.)
    result = {
        "collector": collector,
        "events": events,
        "gc_calls": calls,
        "stats_before": stats_before,
        "stats_after": stats_after,
        "enabled_at_exit": enabled_at_exit,
        "threshold": list(m_get_threshold()),
        "threshold_start": threshold_start,
        "script_ns": script_ns,
        "harness_overhead_ns": overhead[0],
        "install": install,
        "status": ended.status,
        "error": ended.error,
        "python": sys.version.split()[0],
    }
    if collector == "altgc":
        result["altgc_stats"] = altgc_stats().as_dict()
    with open(setup["result"], "w") as f:
        json.dump(result, f)
    _end(ended, settings)


def _end(ended: ScriptExit, settings: Sequence[Any]) -> NoReturn:
    """End the process as the interpreter would have ended it after the
    script, with the script's settings back (see
    :func:`restore_script_settings`) as its atexit handlers run."""
    from .._util import exit_as_interpreter

    restore_script_settings(settings)
    if not ended.interrupted:
        # What exit_as_interpreter() does, without a call a trace function
        # of the script would see.
        raise SystemExit(ended.status)
    exit_as_interpreter(ended)
