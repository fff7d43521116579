"""altgc: a second, inspectable cycle collector for CPython.

altgc keeps its own registry of container objects (borrowed pointers: a
registered object lives and dies exactly as it would without altgc) and
finds the unreachable cycles among them with CPython's own algorithm --
shadow reference counts, three generations, finalizers, weakrefs,
resurrection, uncollectable garbage -- while letting you look at what it
found and why the rest survived.

Its API mirrors the :mod:`gc` module, so ``import altgc as gc`` code runs
unchanged::

    >>> import altgc
    >>> a = []; b = [a]; a.append(b)
    >>> altgc.track(a); altgc.track(b)
    >>> del a, b
    >>> [len(group) for group in altgc.find_unreachable()]
    [2]
    >>> altgc.collect()
    2

The builtin gc keeps running next to altgc and may free such a cycle first;
the examples here assume it does not run in between (``gc.disable()``).

The C core, ``altgc._core``, returns plain data; this module gives it names
(:class:`Stats`, :class:`CollectionInfo`) and documentation.

``import altgc`` loads only the collector (the C core and install mode);
the records of :func:`stats`, the explain and compare functions and the
notebook code load on first use (see ``_LAZY``).
"""

from __future__ import annotations

# typing.TYPE_CHECKING without importing typing (mypy knows the name)
TYPE_CHECKING = False

from . import _version_check

_version_check.check()

try:
    from . import _core
except ImportError as _exc:  # pragma: no cover - depends on the checkout
    import os as _os

    raise ImportError(
        f"altgc's C extension altgc._core is not built in "
        f"{_os.path.dirname(_os.path.abspath(__file__))} -- probably the "
        "source tree is shadowing an installed altgc.  Build it in place "
        "with `python -m pip install -e .` (or `python setup.py build_ext "
        "--inplace`), or run from another directory."
    ) from _exc

from ._install import install, install_info, installed, is_installed, uninstall

# Loaded with the package, not on first use: a collection callback reads
# these records, and a first import of them from user code could be half
# done when an automatic collection runs the callback (_stats imports
# nothing itself, so this costs little).
from ._stats import CollectionInfo, GenerationStats, InstallInfo, Stats

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._explain import (
        CAUSES,
        Explanation,
        HeapIndex,
        Holder,
        Holders,
        Leftover,
        Leftovers,
        RefPath,
        WatchInfo,
        cells,
        explain,
        heap_index,
        release,
        survivors,
        top,
        unwatch,
        watch,
        watched,
    )
    from ._trace import Trace, TraceObject, trace
    from .compare import HeapComparison, HeapDifference, compare_heap

# Grouped by topic, as docs/API.md lists them (not sorted).
__all__ = [  # noqa: RUF022
    "track", "untrack", "is_tracked", "get_objects",
    "collect", "find_unreachable",
    "get_threshold", "set_threshold", "get_count",
    "enable", "disable", "isenabled",
    "set_debug", "get_debug",
    "freeze", "unfreeze", "get_freeze_count",
    "get_referrers", "get_referents", "is_finalized",
    "get_stats", "stats", "last_collection",
    "garbage", "callbacks",
    "DEBUG_STATS", "DEBUG_COLLECTABLE", "DEBUG_UNCOLLECTABLE",
    "DEBUG_SAVEALL", "DEBUG_LEAK",
    "Stats", "GenerationStats", "CollectionInfo",
    # the live-heap comparison (altgc.compare)
    "compare_heap", "HeapComparison", "HeapDifference",
    # install mode (altgc._install)
    "install", "uninstall", "installed", "is_installed", "install_info",
    "InstallInfo",
    # why is it still alive? (altgc._explain, altgc._ipython)
    "watch", "unwatch", "watched", "explain", "release", "survivors", "heap_index",
    "Explanation", "RefPath", "WatchInfo", "HeapIndex", "CAUSES",
    "top", "cells", "Holder", "Holders", "Leftover", "Leftovers",
    "load_ipython_extension", "unload_ipython_extension",
    # a collection step by step (altgc._trace)
    "trace", "Trace", "TraceObject",
]  # fmt: skip

__version__ = "0.1.0"

#: Objects found uncollectable (legacy ``tp_del`` cycles), and with
#: ``DEBUG_SAVEALL`` every object found unreachable.  The same list for the
#: life of the process, as :data:`gc.garbage`.
garbage: list[Any] = _core.garbage

#: Callables invoked as ``cb(phase, info)`` before (``"start"``) and after
#: (``"stop"``) every collection, ``info`` being a dict with the keys
#: ``"generation"``, ``"collected"`` and ``"uncollectable"`` -- as
#: :data:`gc.callbacks`.
callbacks: list[Callable[[str, dict[str, int]], object]] = _core.callbacks

DEBUG_STATS: int = _core.DEBUG_STATS
DEBUG_COLLECTABLE: int = _core.DEBUG_COLLECTABLE
DEBUG_UNCOLLECTABLE: int = _core.DEBUG_UNCOLLECTABLE
DEBUG_SAVEALL: int = _core.DEBUG_SAVEALL
DEBUG_LEAK: int = _core.DEBUG_LEAK


# ---- the registry -------------------------------------------------------


def track(obj: object) -> None:
    """Register a container object with altgc.

    The registry holds a *borrowed* pointer: ``obj``'s reference count,
    lifetime and finalizers are untouched, and it leaves the registry by
    itself when it dies.  Registering twice is a no-op.  New objects join
    generation 0 and count towards ``threshold0``.

    Raises :exc:`TypeError` for objects whose type does not take part in
    cycle collection (ints, strings, ...).

    >>> import altgc
    >>> x = []
    >>> altgc.track(x); altgc.is_tracked(x)
    True
    >>> altgc.track(42)
    Traceback (most recent call last):
    ...
    TypeError: track() argument 'obj' must be a container object whose type supports the cycle collector, not int
    """  # noqa: E501 - a doctest's expected output is one line
    _core.track(obj)


def untrack(obj: object) -> bool:
    """Remove ``obj`` from the registry; return whether it was registered.

    >>> import altgc
    >>> x = {}
    >>> altgc.track(x)
    >>> altgc.untrack(x), altgc.untrack(x)
    (True, False)
    """
    return _core.untrack(obj)


def is_tracked(obj: object) -> bool:
    """Whether ``obj`` is registered with altgc (compare :func:`gc.is_tracked`).

    >>> import altgc
    >>> altgc.is_tracked([])
    False
    """
    return _core.is_tracked(obj)


def get_objects(generation: int | None = None) -> list[Any]:
    """The registered objects of ``generation`` (0, 1 or 2), or of all three.

    Frozen objects (see :func:`freeze`) are not included, as with
    :func:`gc.get_objects`.

    >>> import altgc
    >>> x = []
    >>> altgc.track(x)
    >>> any(o is x for o in altgc.get_objects(0))
    True
    >>> altgc.untrack(x)
    True
    """
    return _core.get_objects(generation)


# ---- collecting ---------------------------------------------------------


def collect(generation: int = 2) -> int:
    """Collect generations ``0..generation``; return how many unreachable
    objects were found (collected plus uncollectable), as :func:`gc.collect`.

    Weakrefs to the garbage are cleared (callbacks of weakrefs that are
    garbage themselves do not run), ``__del__`` runs once per object,
    resurrected objects survive, cycles kept by a legacy ``tp_del`` go to
    :data:`garbage`, and with :data:`DEBUG_SAVEALL` all garbage does.
    Called from a finalizer during a collection, it returns 0.

    >>> import altgc
    >>> a = []; a.append(a); altgc.track(a); del a
    >>> altgc.collect()
    1
    """
    return _core.collect(generation)


def find_unreachable(generation: int = 2) -> list[list[Any]]:
    """The unreachable registered objects of generations ``0..generation``,
    without finalizing or freeing anything.

    Returns the strongly connected components of the garbage: each cycle is
    one group; an object that merely hangs off a cycle is a group of its
    own.  The returned lists hold strong references; drop them and call
    :func:`collect` to free the garbage.

    >>> import altgc
    >>> a = {}; b = {"a": a}; a["b"] = b
    >>> altgc.track(a); altgc.track(b); del a, b
    >>> [sorted(len(d) for d in g) for g in altgc.find_unreachable()]
    [[1, 1]]
    >>> altgc.collect()
    2
    """
    return _core.find_unreachable(generation)


def get_threshold() -> tuple[int, int, int]:
    """The collection thresholds ``(threshold0, threshold1, threshold2)``.

    They start at the running interpreter's own defaults: ``(700, 10, 10)``
    on CPython 3.11-3.12, ``(2000, 10, 10)`` from 3.13.

    >>> import altgc, gc, sys
    >>> altgc.get_threshold()[1:]
    (10, 10)
    """
    return _core.get_threshold()


def set_threshold(
    threshold0: int, threshold1: int | None = None, threshold2: int | None = None
) -> None:
    """Set the collection thresholds (omitted ones stay as they are).

    ``threshold0`` is how many registrations (minus deaths) trigger a
    collection of generation 0; ``threshold1``/``threshold2`` how many
    collections of the next younger generation trigger one of generation
    1/2 -- the full one also waits until the objects awaiting it exceed a
    quarter of generation 2, as CPython's does.  0 disables automatic
    collection.  Negative values raise :exc:`ValueError`.

    >>> import altgc
    >>> old = altgc.get_threshold()
    >>> altgc.set_threshold(500); altgc.get_threshold()[0]
    500
    >>> altgc.set_threshold(*old)
    """
    kwargs = {}
    if threshold1 is not None:
        kwargs["threshold1"] = threshold1
    if threshold2 is not None:
        kwargs["threshold2"] = threshold2
    _core.set_threshold(threshold0, **kwargs)


def get_count() -> tuple[int, int, int]:
    """``(count0, count1, count2)``: registrations minus deaths since the
    last collection of generation 0, and collections of generations 0 and 1
    since the last collection of generations 1 and 2.

    >>> import altgc
    >>> len(altgc.get_count())
    3
    """
    return _core.get_count()


def enable() -> None:
    """Turn automatic collection on (the default).

    Automatic collections are scheduled with ``Py_AddPendingCall`` when
    ``count0`` passes ``threshold0`` and run at the interpreter's next safe
    point -- never inside :func:`track` or while an object is being freed.
    Installed, they start where the version's builtin gc starts its own,
    since its trigger starts them: 3.11 inside the container allocation
    that passes the threshold, 3.12+ at the eval breaker after it.

    >>> import altgc
    >>> altgc.enable(); altgc.isenabled()
    True
    """
    _core.enable()


def disable() -> None:
    """Turn automatic collection off; :func:`collect` still works.

    >>> import altgc
    >>> altgc.disable(); altgc.isenabled()
    False
    >>> altgc.enable()
    """
    _core.disable()


def isenabled() -> bool:
    """Whether automatic collection is on.

    >>> import altgc
    >>> isinstance(altgc.isenabled(), bool)
    True
    """
    return _core.isenabled()


def set_debug(flags: int) -> None:
    """Set the debugging flags (the ``DEBUG_*`` constants, as in :mod:`gc`).

    Output goes to ``sys.stderr``, in the builtin gc's format.

    >>> import altgc
    >>> altgc.set_debug(altgc.DEBUG_SAVEALL); altgc.get_debug() == altgc.DEBUG_SAVEALL
    True
    >>> altgc.set_debug(0)
    """
    _core.set_debug(flags)


def get_debug() -> int:
    """The debugging flags.

    >>> import altgc
    >>> altgc.get_debug()
    0
    """
    return _core.get_debug()


def freeze() -> None:
    """Move every registered object into the permanent generation, which no
    collection looks at (as :func:`gc.freeze`).

    Called while a collection runs (from a finalizer, a weakref callback or
    a collection callback), the move waits for that collection to end:
    :func:`get_freeze_count` reads 0 until then, where the builtin gc's
    counts the objects at once.  :func:`unfreeze` waits the same way.

    While installed (:func:`install`; when ``gc.freeze()`` is this function),
    what it froze stays frozen after :func:`uninstall`, in the builtin
    gc's permanent generation, as the builtin ``gc.freeze()`` would have
    left it.

    >>> import altgc
    >>> x = []; altgc.track(x); altgc.freeze()
    >>> altgc.get_freeze_count() >= 1
    True
    >>> altgc.unfreeze(); altgc.untrack(x)
    True
    """
    _core.freeze()


def unfreeze() -> None:
    """Move the permanent generation back into generation 2.

    While installed (:func:`install`), it also thaws what the builtin gc held
    frozen at :func:`install` and, after ``install(adopt=False)``, the
    heap left to nobody: altgc adopts both at its next collection, as the
    builtin ``gc.unfreeze()`` would have made them collectable.

    >>> import altgc
    >>> altgc.unfreeze(); altgc.get_freeze_count()
    0
    """
    _core.unfreeze()


def get_freeze_count() -> int:
    """How many registered objects are in the permanent generation.

    >>> import altgc
    >>> altgc.get_freeze_count()
    0
    """
    return _core.get_freeze_count()


def get_referrers(*objs: object) -> list[Any]:
    """The registered objects (generations 0-2) that refer to any of
    ``objs``, as :func:`gc.get_referrers` does over the gc's objects.

    >>> import altgc
    >>> x = []; holder = [x]; altgc.track(holder)
    >>> altgc.get_referrers(x) == [holder]
    True
    >>> altgc.untrack(holder)
    True
    """
    return _core.get_referrers(*objs)


def get_referents(*objs: object) -> list[Any]:
    """The objects that ``objs`` refer to, as reported by their
    ``tp_traverse`` (as :func:`gc.get_referents`).

    >>> import altgc
    >>> sorted(altgc.get_referents([1, 2]))
    [1, 2]
    """
    return _core.get_referents(*objs)


def is_finalized(obj: object) -> bool:
    """Whether ``obj``'s ``__del__`` has been run by a collector.

    >>> import altgc
    >>> altgc.is_finalized([])
    False
    """
    return _core.is_finalized(obj)


# ---- inspection ---------------------------------------------------------


def get_stats() -> list[dict[str, Any]]:
    """Per generation ``{"collections", "collected", "uncollectable"}``
    (and on 3.15 ``"candidates"``, the objects examined, and
    ``"duration"``, seconds): exactly the shape of :func:`gc.get_stats`.

    >>> import altgc
    >>> {"collected", "collections", "uncollectable"} <= set(altgc.get_stats()[0])
    True
    """
    return _core.get_stats()


def stats() -> Stats:
    """Per-generation collections, objects collected and uncollectable,
    total / last / longest pause (ns) and size, plus the permanent
    generation's size and the registry's size and memory.

    >>> import altgc
    >>> s = altgc.stats()
    >>> len(s.generations), s.registry_bytes >= 0
    (3, True)
    """
    raw = _core.stats()
    gens = [GenerationStats(**g) for g in raw.pop("generations")]
    return Stats(generations=gens, **raw)


def last_collection() -> CollectionInfo | None:
    """A :class:`CollectionInfo` for the most recent collection, or None.

    >>> import altgc
    >>> a = []; a.append(a); altgc.track(a); del a
    >>> altgc.collect()
    1
    >>> info = altgc.last_collection()
    >>> info.unreachable, info.cycles[0][0][0]
    (1, 'list')
    """
    raw = _core.last_collection()
    if raw is None:
        return None
    return CollectionInfo(**raw)


def _guard_tracemalloc() -> None:
    """Keep altgc's allocator hook across ``tracemalloc.stop()``.

    altgc learns of deaths through a PEP 445 wrapper around the object
    allocator.  If tracemalloc was tracing when altgc was imported, altgc's
    wrapper sits on top of tracemalloc's, and ``tracemalloc.stop()`` puts
    back what tracemalloc found at ``start()`` -- dropping altgc's wrapper.
    So ``tracemalloc.stop`` is wrapped to re-install it at once.  (Started
    after altgc, tracemalloc wraps altgc's hook and its stop() restores it:
    nothing to do.)
    """
    import functools
    import tracemalloc

    stop = tracemalloc.stop
    if getattr(stop, "_altgc_guard", False):
        return

    @functools.wraps(stop)
    def guarded_stop() -> None:
        try:
            stop()
        finally:
            _core._reinstall_hooks()

    guarded_stop._altgc_guard = True  # type: ignore[attr-defined]
    tracemalloc.stop = guarded_stop


def _tracing() -> bool:
    """Whether tracemalloc traces now (without importing :mod:`tracemalloc`,
    which imports :mod:`pickle`)."""
    import _tracemalloc

    return _tracemalloc.is_tracing()


if _tracing():
    _guard_tracemalloc()


# ---- the IPython extension ------------------------------------------------


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext altgc``: the ``%altgc`` line magic and post-cell notices
    (see :mod:`altgc._ipython`)."""
    from . import _ipython

    _ipython.load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext altgc``."""
    from . import _ipython

    _ipython.unload(ipython)


# ---- loaded on first use ---------------------------------------------------

#: Public names defined by a submodule that ``import altgc`` does not load:
#: the first access (``altgc.explain``, ``from altgc import Stats``) imports
#: the submodule and caches the name in this module's namespace.
_LAZY: dict[str, str] = {
    "compare_heap": "compare",
    "HeapComparison": "compare",
    "HeapDifference": "compare",
    "watch": "_explain",
    "unwatch": "_explain",
    "watched": "_explain",
    "explain": "_explain",
    "release": "_explain",
    "survivors": "_explain",
    "heap_index": "_explain",
    "Explanation": "_explain",
    "RefPath": "_explain",
    "WatchInfo": "_explain",
    "HeapIndex": "_explain",
    "CAUSES": "_explain",
    "trace": "_trace",
    "Trace": "_trace",
    "TraceObject": "_trace",
    "top": "_explain",
    "cells": "_explain",
    "Holder": "_explain",
    "Holders": "_explain",
    "Leftover": "_explain",
    "Leftovers": "_explain",
}

if not TYPE_CHECKING:  # mypy sees the imports above, and no catch-all

    def __getattr__(name: str) -> Any:
        """Load a name of ``_LAZY`` on first access (PEP 562)."""
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    """The module's names, the ones not loaded yet included."""
    return sorted(set(globals()) | set(_LAZY))
