"""The harness ``python -m altgc compare`` runs a script under, in a child
process (private).

Started as ``python -c <bootstrap>`` by :mod:`altgc._compare_cli` with the
settings in the environment variable ``ALTGC_COMPARE_SETUP`` (JSON:
``collector`` "builtin" or "altgc", ``threshold`` or null, ``result`` the
path of the JSON file to write, ``script`` and ``args``).  It records every
collection through the collector's callbacks (generation, collected,
uncollectable, pause, time since the script started, objects in the
collected generations), every call the script makes to ``disable``,
``enable``, ``set_threshold``, ``freeze`` and ``collect``, the collector's
own ``get_stats()`` before and after, and the script's exit status; then it
writes the result file and exits with the script's status.

The script runs as ``__main__`` with ``sys.argv = [script, *args]`` and its
directory first on ``sys.path``.  Under "altgc", altgc is installed
(``altgc.install(adopt=True)``) and ``sys.modules["gc"]`` is altgc, so the
script's ``import gc`` gets altgc.
"""

import json
import os
import sys
import time
import traceback

SETUP_ENV = "ALTGC_COMPARE_SETUP"
#: Exit status of the harness itself failing (not the script).
HARNESS_FAILED = 121


def _caller() -> str:
    """file:line of the script code calling a wrapped gc function."""
    f = sys._getframe(2)
    return "%s:%d" % (os.path.basename(f.f_code.co_filename), f.f_lineno)


def _wrap(module, record, explicit):
    """Replace the gc-like functions of ``module`` with recording ones."""
    def wrapper(name, fn):
        if name == "collect":
            def collect(*args, **kwargs):
                record(name, args, _caller())
                explicit[0] += 1
                try:
                    return fn(*args, **kwargs)
                finally:
                    explicit[0] -= 1
            return collect

        def call(*args, **kwargs):
            record(name, args, _caller())
            return fn(*args, **kwargs)
        call.__name__ = name
        call.__doc__ = fn.__doc__
        return call

    for name in ("disable", "enable", "set_threshold", "freeze", "collect"):
        fn = getattr(module, name)
        setattr(module, name, wrapper(name, fn))


def _examined(gen, sizes):
    try:
        return sum(sizes(g) for g in range(gen + 1))
    except Exception:
        return None


def main() -> None:
    setup = json.loads(os.environ.pop(SETUP_ENV))
    collector = setup["collector"]
    script = setup["script"]
    import gc as real_gc

    import altgc
    if collector == "altgc":
        if not hasattr(altgc, "install"):
            sys.stderr.write(
                "altgc compare: this altgc has no install mode "
                "(altgc.install is missing), so the script cannot run with "
                "altgc as its collector\n")
            sys.exit(HARNESS_FAILED)
        mod = altgc

        def sizes(g):
            return altgc.stats().generations[g].size
    else:
        mod = real_gc

        def sizes(g):
            return len(real_gc.get_objects(g))

    events = []
    calls = []
    explicit = [0]
    overhead = [0]
    state = {"t0": 0, "armed": False}
    pending = {}

    def record_call(name, args, where):
        calls.append({"func": name, "args": list(args),
                      "t_ns": time.perf_counter_ns() - state["t0"],
                      "where": where})

    def callback(phase, info):
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
            events.append({
                "t_ns": start - state["t0"],
                "pause_ns": now - start,
                "generation": info.get("generation"),
                "collected": info.get("collected", 0),
                "uncollectable": info.get("uncollectable", 0),
                "examined": pending.pop("examined", None),
                "explicit": explicit[0] > 0,
            })

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
    _wrap(mod, record_call, explicit)
    stats_before = mod.get_stats()
    state["t0"] = time.perf_counter_ns()
    state["armed"] = True
    if was_enabled:
        m_enable()

    sys.argv = [script] + list(setup["args"])
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    status = 0
    error = None
    import runpy
    t0 = time.perf_counter_ns()
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        if code is None:
            status = 0
        elif isinstance(code, int):
            status = code
        else:
            sys.stderr.write(str(code) + "\n")
            status = 1
    except BaseException as exc:
        status = 1
        error = "%s: %s" % (type(exc).__name__, exc)
        _print_script_traceback(exc, script)
    script_ns = time.perf_counter_ns() - t0
    enabled_at_exit = bool(m_isenabled())
    m_disable()
    state["armed"] = False
    stats_after = mod.get_stats()
    try:
        mod.callbacks.remove(callback)
    except ValueError:
        pass
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
        "status": status,
        "error": error,
        "python": sys.version.split()[0],
    }
    if collector == "altgc":
        result["altgc_stats"] = altgc.stats().as_dict()
    with open(setup["result"], "w") as f:
        json.dump(result, f)
    sys.exit(status)


def _print_script_traceback(exc, script):
    """The traceback Python would print, without the harness's frames."""
    tb = exc.__traceback__
    script = os.path.abspath(script)
    while tb is not None and os.path.abspath(
            tb.tb_frame.f_code.co_filename) != script:
        tb = tb.tb_next
    if tb is None:
        tb = exc.__traceback__
    sys.stderr.write("".join(traceback.format_exception(
        type(exc), exc, tb)))
