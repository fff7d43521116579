"""Named roots: the places a user can name that keep objects alive -- a
module's globals, IPython's output cache and stored traceback, ``sys.last_*``,
``gc.garbage``, the current context's variables, the signal handlers,
pyplot's open figures, the locals of running functions -- each with the
command that releases what it holds."""

from __future__ import annotations

import contextvars
import dataclasses
import gc
import sys
import types
from collections.abc import Iterator, Sequence
from typing import Any

from .. import _core
from .frames import frame_locals, is_function_frame, other_thread_frames


@dataclasses.dataclass
class Root:
    """A named root: an object a user can name, and how to release what it holds."""

    kind: str  # a CAUSES key
    name: str  # how a user spells it: "Out", "module m", ...
    expr: str  # expression for the root object itself
    release: str  # command releasing "<expr><step>", {step} filled in


def altgc_own(info: Root) -> bool:
    """Whether ``info`` is the namespace of one of altgc's own submodules
    (``altgc._install.builtin_garbage`` is gc.garbage): a path from it is
    named only when no other root leads there (``altgc`` itself is the
    public ``altgc.garbage``)."""
    return info.kind == "name" and info.expr.startswith("altgc.")


def ipython_shell() -> Any:
    mod = sys.modules.get("IPython")
    if mod is None:
        return None
    try:
        return mod.get_ipython()
    except Exception:
        return None


def named_roots(skip_frames: Sequence[Any]) -> tuple[list[Any], list[Root]]:
    """The named roots: two parallel lists (objects, descriptions).

    Only plain lists are made here (the caller excludes them from the heap
    index), so no new container refers to the target.
    """
    objs: list[Any] = []
    infos: list[Root] = []

    def add(obj: Any, info: Root) -> None:
        if obj is None:
            return
        objs.append(obj)
        infos.append(info)

    shell = ipython_shell()
    if shell is not None:
        user_ns = getattr(shell, "user_ns", None) or {}
        out = user_ns.get("Out")
        add(out, Root("output_cache", "IPython output cache", "Out", "del Out{step}"))
        hist = getattr(shell, "history_manager", None)
        oh = getattr(hist, "output_hist", None)
        if oh is not None and oh is not out:
            add(oh, Root("output_cache", "IPython output cache", "_oh", "del _oh{step}"))
        # the shell's attributes that hold results and tracebacks
        for attr, kind, what, release in (
            ("displayhook", "output_cache", "IPython displayhook", "{} = None"),
            ("last_execution_result", "output_cache", "IPython last execution result", "{} = None"),
            ("InteractiveTB", "traceback", "IPython's stored traceback", "{} = None"),
            ("user_ns_hidden", "output_cache", "IPython hidden namespace", "del {}"),
        ):
            expr = f"get_ipython().{attr}"
            add(getattr(shell, attr, None), Root(kind, what, expr, release.format(expr + "{step}")))
    for attr in ("last_exc", "last_value", "last_traceback"):
        v = getattr(sys, attr, None)
        if v is not None:
            add(
                v,
                Root(
                    "traceback",
                    f"sys.{attr}",
                    f"sys.{attr}",
                    "import sys; sys.last_exc = sys.last_value = sys.last_traceback = None",
                ),
            )
    add(gc.garbage, Root("garbage", "gc.garbage", "gc.garbage", "import gc; gc.garbage.clear()"))
    add(
        _core.garbage,
        Root("garbage", "altgc.garbage", "altgc.garbage", "import altgc; altgc.garbage.clear()"),
    )
    # The current context's variables: the thread state holds the context,
    # no object of the heap does
    for value, info in context_variables():
        add(value, info)
    # Signal handlers: the signal module's C state holds them
    for handler, info in signal_handlers():
        add(handler, info)
    ph = sys.modules.get("matplotlib._pylab_helpers")
    figs = getattr(getattr(ph, "Gcf", None), "figs", None)
    if figs is not None:
        add(
            figs,
            Root(
                "matplotlib",
                "pyplot's open figures",
                "matplotlib._pylab_helpers.Gcf.figs",
                "import matplotlib.pyplot as plt; plt.close({key})",
            ),
        )
    # Locals of running functions (their references are invisible to the
    # heap on 3.11+).
    skip = {id(f) for f in skip_frames}
    f: types.FrameType | None = sys._getframe(1)
    while f is not None:
        if id(f) not in skip and is_function_frame(f):
            fname = f.f_code.co_name
            for k, v in frame_locals(f):
                add(v, Root("local", f"running {fname}()", k, f"del {k}   (in {fname}())"))
        f = f.f_back
    del f
    # ... and of other threads' (a thread's target and its arguments)
    for thread, g in other_thread_frames():
        if is_function_frame(g):
            fname = g.f_code.co_name
            for k, v in frame_locals(g):
                add(
                    v,
                    Root(
                        "local",
                        f"running {fname}() in thread {thread!r}",
                        k,
                        f"del {k}   (in {fname}() in thread {thread!r})",
                    ),
                )
    for modname, d in module_namespaces():
        if not modname:
            add(d, Root("name", "the main namespace", "", "del {step}"))
        else:
            add(d, Root("name", f"module {modname}", modname, "del " + modname + ".{step}"))
    return objs, infos


def module_namespaces(main_first: bool = False) -> Iterator[tuple[str, dict[str, Any]]]:
    """The global namespaces of ``sys.modules``' modules, in its order (with
    ``main_first``, ``__main__``'s first and only once): ``(name, dict)``,
    the name ``""`` for ``__main__``'s.  An entry whose ``__dict__`` is no
    dict, or raises, is passed over."""
    main = sys.modules.get("__main__")
    mods = list(sys.modules.items())
    if main_first and main is not None:
        mods = [("", main), *[(n, m) for n, m in mods if m is not main]]
    for modname, mod in mods:
        try:
            d = getattr(mod, "__dict__", None)
        except Exception:  # not a module: a dead weakref.proxy, a property that raises
            continue
        if type(d) is dict:
            yield ("" if mod is main else modname), d


def signal_handlers() -> list[tuple[Any, Root]]:
    """The Python callables installed as signal handlers (``signal.signal()``),
    each with its root: ``signal.getsignal(signal.SIGUSR1)``, released by
    restoring the default action (``signal.SIG_DFL``; for SIGINT Python's
    own ``signal.default_int_handler``).  The handlers live in the C state
    of the ``_signal`` module, which no object of the heap refers to.

    ``getsignal()`` reads them from any thread; ``signal.signal()``, the
    release, runs only in the main thread."""
    _signal = sys.modules.get("_signal")  # imported at start-up: what signal.signal() sets
    if _signal is None:
        return []
    signals = getattr(sys.modules.get("signal"), "Signals", None)  # names, when imported
    out: list[tuple[Any, Root]] = []
    try:
        valid = sorted(_signal.valid_signals())
    except Exception:  # not on this platform
        return out
    default_int = getattr(_signal, "default_int_handler", None)
    for signum in valid:
        try:
            handler = _signal.getsignal(signum)
        except Exception:
            continue
        # SIG_DFL, SIG_IGN (ints), None (set by C code), Python's own SIGINT handler
        if handler is None or issubclass(type(handler), int) or handler is default_int:
            continue
        if not callable(handler):
            continue
        try:
            spelled = f"signal.{signals(signum).name}" if signals is not None else str(signum)
        except Exception:  # a real-time signal with no name of its own
            spelled = str(signum)
        name = spelled.removeprefix("signal.")
        restore = "signal.default_int_handler" if name == "SIGINT" else "signal.SIG_DFL"
        out.append(
            (
                handler,
                Root(
                    "signal_handler",
                    f"the signal handler of {name}",
                    f"signal.getsignal({spelled})",
                    f"import signal; signal.signal({spelled}, {restore})",
                ),
            )
        )
    return out


def context_variables() -> list[tuple[Any, Root]]:
    """The values of the current context's variables (``ContextVar.set()``),
    each with its root: ``mod.cv.get()`` for a variable a module's global
    names (else found by its ``.name``), released by setting it to None.

    The context is copied (``contextvars.copy_context()``, which shares the
    current one's mapping) and the copy dropped: no reference stays."""
    ctx = contextvars.copy_context()
    items = list(ctx.items())
    del ctx
    out: list[tuple[Any, Root]] = []
    try:
        if not items:
            return out
        names = _global_names([var for var, _ in items])
        for var, value in items:
            try:
                vname = var.name
            except Exception:
                continue
            if type(vname) is not str:
                continue
            spelled = names.get(id(var))
            if spelled is not None:
                expr, release = f"{spelled}.get()", f"{spelled}.set(None)"
                imp = spelled.rpartition(".")[0]
                if imp:
                    release = f"import {imp}; {release}"
            else:
                expr = f"<ContextVar {vname!r}>.get()"
                release = (
                    "import contextvars; "
                    f"[v.set(None) for v in contextvars.copy_context() if v.name == {vname!r}]"
                )
            out.append(
                (value, Root("context_variable", f"the context variable {vname!r}", expr, release))
            )
        return out
    finally:
        items.clear()


def _global_names(objs: list[Any]) -> dict[int, str]:
    """The module global (``mod.name``, a bare name in ``__main__``) that
    binds each of ``objs``, by id; the main namespace first, then
    ``sys.modules``' order."""
    want = {id(o) for o in objs}
    out: dict[int, str] = {}
    for modname, d in module_namespaces(main_first=True):
        for k, v in list(d.items()):
            if (
                id(v) in want
                and type(k) is str
                and k.isidentifier()
                and id(v) not in out
                and any(o is v for o in objs)
            ):
                out[id(v)] = f"{modname}.{k}" if modname else k
        if len(out) == len(want):
            break
    return out


# ---------------------------------------------------------------------------
