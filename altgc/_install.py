"""Install mode: altgc as the process's cycle collector.

The mechanics are in ``src/install.c`` (how new containers are adopted from
the builtin gc's generation lists, and how the builtin gc's own trigger
starts altgc's collections).  This
module hands the settings over between the collectors, routes the builtin
gc module's collector functions (``gc.collect()``, ``gc.disable()``,
``gc.get_objects()``, ... :data:`_ROUTED_NAMES`) to altgc while installed,
and hands the heap back at exit so the interpreter's shutdown collection
sees it.

It is part of what ``import altgc`` loads, so it imports nothing but
builtin modules and the records of ``_stats``, which import nothing
(``ALTGC_INSTALL=1`` runs it in every process).
"""

from __future__ import annotations

import _thread
import atexit
import sys
import types

from . import _core
from ._stats import InstallInfo

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from typing import Any


def find_builtin_gc() -> types.ModuleType:
    """The interpreter's own :mod:`gc` module, even when ``sys.modules["gc"]``
    has been replaced (``sys.modules["gc"] = altgc`` in install mode).

    >>> import sys
    >>> saved = sys.modules["gc"]; sys.modules["gc"] = sys
    >>> found = find_builtin_gc()
    >>> sys.modules["gc"] = saved
    >>> found.__name__, found is not sys, found.isenabled() == saved.isenabled()
    ('gc', True, True)
    """
    if "gc" not in sys.modules:
        # a builtin module: the BuiltinImporter finds it before any gc.py
        import gc  # noqa: F401
    mod = sys.modules.get("gc")
    spec = getattr(mod, "__spec__", None)
    if (
        mod is not None
        and getattr(mod, "__name__", None) == "gc"
        and spec is not None
        and spec.origin == "built-in"
    ):
        return mod
    return _load_builtin_gc()


def _load_builtin_gc() -> types.ModuleType:
    """A module object of the builtin gc made afresh from the interpreter
    (its functions act on the same collector as ``sys.modules["gc"]``'s,
    whatever Python code has since assigned to that module's attributes)."""
    import importlib.machinery
    import importlib.util

    spec = importlib.machinery.BuiltinImporter.find_spec("gc")
    assert spec is not None and spec.loader is not None  # gc is always built in
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


#: The builtin gc module (never altgc, whatever ``sys.modules`` says).
builtin_gc = find_builtin_gc()

#: The list the builtin gc calls its callbacks from (taken now: the C gc
#: keeps calling this list whatever ``gc.callbacks`` is rebound to later,
#: a non-list included).
builtin_callbacks: list[Any] = (
    builtin_gc.callbacks if type(builtin_gc.callbacks) is list else _load_builtin_gc().callbacks
)

#: The builtin gc's own ``garbage`` list (taken now, for the same reason).
#: While installed the module's ``garbage`` attribute is altgc's list
#: (``altgc.garbage``), where altgc's collections put uncollectable and,
#: with ``DEBUG_SAVEALL``, all garbage: ``gc.set_debug(gc.DEBUG_SAVEALL);
#: gc.collect(); gc.garbage`` works as without altgc.  :func:`uninstall`
#: puts this one back; what the builtin gc saved before :func:`install`
#: stays in it.
builtin_garbage: list[Any] = (
    builtin_gc.garbage if type(builtin_gc.garbage) is list else _load_builtin_gc().garbage
)


class _Saved:
    """The builtin gc's and altgc's settings that :func:`install` replaced."""

    __slots__ = (
        "altgc_debug",
        "altgc_enabled",
        "altgc_threshold",
        "builtin_debug",
        "builtin_enabled",
        "builtin_threshold",
    )

    def __init__(
        self,
        builtin_enabled: bool,
        builtin_threshold: tuple[int, int, int],
        builtin_debug: int,
        altgc_enabled: bool,
        altgc_threshold: tuple[int, int, int],
        altgc_debug: int,
    ) -> None:
        self.builtin_enabled = builtin_enabled
        self.builtin_threshold = builtin_threshold
        self.builtin_debug = builtin_debug
        self.altgc_enabled = altgc_enabled
        self.altgc_threshold = altgc_threshold
        self.altgc_debug = altgc_debug


_lock = _thread.RLock()
_saved: _Saved | None = None


#: The builtin gc module's functions that are altgc's while installed, so
#: that code which imported the builtin gc before :func:`install` (most
#: libraries) acts on the collector that runs.  While installed the builtin
#: gc holds only the containers altgc has not adopted yet: its own
#: ``get_objects()`` and ``get_referrers()`` saw almost nothing, its
#: ``disable()`` did not stop altgc's collections (a library's
#: ``gc.disable()`` ... ``gc.enable()`` around a bulk load then switched
#: the builtin gc back on), its ``freeze()`` froze only the containers not
#: adopted yet and its ``unfreeze()`` handed the adopted heap back while
#: altgc kept it too.  ``collect`` returns what altgc found; a ``collect``
#: bound before :func:`install` reaches altgc's collection through the
#: builtin gc's callback (``src/install.c``) but returns 0.  :func:`uninstall` puts the
#: builtin ones back, and a reference taken while installed (``from gc
#: import collect`` in a module imported then) acts on the builtin gc again
#: once altgc is uninstalled.  Code of altgc's own that needs the builtin
#: gc's answers while installed calls :data:`_BUILTIN`.
_ROUTED_NAMES = (
    "collect",
    "enable",
    "disable",
    "isenabled",
    "get_count",
    "get_threshold",
    "set_threshold",
    "get_debug",
    "set_debug",
    "get_objects",
    "get_referrers",
    "get_stats",
    "freeze",
    "unfreeze",
    "get_freeze_count",
)


def _originals() -> dict[str, Any]:
    """The builtin gc's own functions of :data:`_ROUTED_NAMES`, even if a
    library has assigned its own to the module's attributes before altgc
    was imported (``gc.collect = lambda *a: 0``)."""
    out = {name: getattr(builtin_gc, name, None) for name in _ROUTED_NAMES}
    if any(type(fn) is not type(len) for fn in out.values()):
        fresh = _load_builtin_gc()
        out = {name: getattr(fresh, name) for name in _ROUTED_NAMES}
    return out


#: the builtin functions the routed ones stand in for
_BUILTIN: dict[str, Any] = _originals()


def _route(name: str) -> Any:
    """The stand-in for the builtin ``gc.<name>``: altgc's ``name`` while
    installed, the builtin's otherwise."""
    builtin_fn = _BUILTIN[name]
    altgc_fn = getattr(_core, name)

    def routed(*args: Any, **kwargs: Any) -> Any:
        if _saved is None:
            return builtin_fn(*args, **kwargs)
        return altgc_fn(*args, **kwargs)

    routed.__name__ = routed.__qualname__ = name
    # pickled by reference as gc.<name> (the builtin one in another process)
    routed.__module__ = "gc"
    routed.__wrapped__ = builtin_fn  # type: ignore[attr-defined]  # for inspect.signature
    routed.__doc__ = (
        f"gc.{name} while altgc is installed: altgc.{name}; the builtin "
        f"gc's own again after altgc.uninstall().\n\n{altgc_fn.__doc__ or ''}"
    )
    return routed


_ROUTED = {name: _route(name) for name in _ROUTED_NAMES}

#: The builtin gc's own functions by attribute, whether installed or not
#: (``builtin_api.get_objects(0)``: the builtin gc's generation 0).
builtin_api = types.SimpleNamespace(**_BUILTIN)


def _at_exit() -> None:
    # Hand the heap back so the interpreter's shutdown collection (which
    # finalizes cycles with __del__) sees it; keep the registry: it is
    # going away with the process.
    with _lock:
        if _saved is not None:
            routed = getattr(builtin_gc, "garbage", None) is _core.garbage
            _restore(keep_registry=True)
            if routed and _core.garbage:
                # What altgc saved as uncollectable was the program's
                # gc.garbage: the interpreter's shutdown report ("gc: N
                # uncollectable objects at shutdown", a ResourceWarning)
                # reads the builtin gc's list, so it counts them there.
                builtin_garbage.extend(_core.garbage)


def _apply(module: Any, threshold: tuple[int, int, int], debug: int, enabled: bool) -> None:
    """Set a collector's (the builtin gc's or altgc's) thresholds, debug
    flags and enabled flag."""
    module.set_threshold(*threshold)
    module.set_debug(debug)
    (module.enable if enabled else module.disable)()


def _restore(keep_registry: bool) -> None:
    global _saved
    saved = _saved
    assert saved is not None
    error: BaseException | None = None
    now = (_core.get_threshold(), _core.get_debug(), _core.isenabled())
    try:
        _core._uninstall(keep_registry)
    except BaseException as exc:
        if is_installed():  # refused (during a collection): no change
            raise
        error = exc  # uninstalled, but the hand-back failed
    _saved = None
    for name, fn in _ROUTED.items():
        if getattr(builtin_gc, name, None) is fn:  # not replaced by someone else since
            setattr(builtin_gc, name, _BUILTIN[name])
    if getattr(builtin_gc, "garbage", None) is _core.garbage:
        setattr(builtin_gc, "garbage", builtin_garbage)  # noqa: B010
    # The collector's settings as they are now -- taken over at install and
    # perhaps changed since through either module (gc.disable() is
    # altgc's while installed) -- go back to the builtin gc.
    _apply(builtin_api, *now)
    _apply(_core, saved.altgc_threshold, saved.altgc_debug, saved.altgc_enabled)
    atexit.unregister(_at_exit)
    if error is not None:
        raise error


def install(adopt: bool = True) -> bool:
    """Make altgc this process's cycle collector.

    From here on every new container is adopted by altgc, the builtin gc no
    longer collects automatically, and altgc collects on its thresholds,
    which start as the builtin gc's current ones (by default 700/10/10 on
    3.11-3.12, 2000/10/10 from 3.13); its enabled flag and debug flags are
    taken over too.  With ``adopt=True`` every container the builtin gc
    tracks now is adopted as well (into generation 2), so the whole heap is
    altgc's; with ``adopt=False`` only containers created from now on are,
    and the existing ones are collected by nobody until :func:`uninstall`
    (or until :func:`altgc.unfreeze`, which hands them to altgc).

    Code that does ``import gc`` after ``sys.modules["gc"] = altgc`` (or
    ``import altgc as gc``) then behaves as with the builtin gc.  Code that
    imported the builtin gc earlier acts on altgc: while installed the
    builtin gc module's ``collect``, ``enable``, ``disable``, ``isenabled``,
    ``get_count``, ``get_threshold``, ``set_threshold``, ``get_debug``,
    ``set_debug``, ``get_objects``, ``get_referrers``, ``get_stats``,
    ``freeze``, ``unfreeze`` and ``get_freeze_count`` are altgc's, and its
    ``garbage`` is :data:`altgc.garbage` (all put back by
    :func:`uninstall`).  Only a ``collect`` bound before install (``from
    gc import collect``) still runs the builtin function: altgc collects
    then too, but it returns 0.

    Returns True if it installed, False if altgc was already installed
    (then nothing changes).  Raises :exc:`ValueError` (nothing changed) if
    one of the builtin gc's thresholds is negative, which the builtin
    ``gc.set_threshold()`` accepts and altgc's does not.

    >>> import altgc
    >>> altgc.install()
    True
    >>> altgc.is_installed()
    True
    >>> class Node: pass
    >>> a = Node(); a.self = a
    >>> del a
    >>> altgc.collect() >= 1          # found by altgc, not by the builtin gc
    True
    >>> altgc.uninstall()
    True
    """
    global _saved
    if not isinstance(adopt, bool):
        raise TypeError(f"install() argument 'adopt' must be bool, not {type(adopt).__name__}")
    with _lock:
        if _saved is not None:
            return False
        threshold = builtin_api.get_threshold()
        if min(threshold) < 0:
            raise ValueError(
                f"install(): the builtin gc's thresholds {threshold} include a "
                "negative one, which altgc cannot take over (its thresholds "
                "are >= 0); call gc.set_threshold() with values >= 0 first"
            )
        saved = _Saved(
            builtin_api.isenabled(),
            threshold,
            builtin_api.get_debug(),
            _core.isenabled(),
            _core.get_threshold(),
            _core.get_debug(),
        )
        builtin_api.disable()
        try:
            # altgc takes over the builtin gc's settings
            _apply(_core, saved.builtin_threshold, saved.builtin_debug, saved.builtin_enabled)
            # (the builtin list's entries, callbacks libraries appended
            # before install(), are called by altgc's collections too)
            _core._install(builtin_api, adopt, builtin_callbacks)
        except BaseException:
            _apply(_core, saved.altgc_threshold, saved.altgc_debug, saved.altgc_enabled)
            if saved.builtin_enabled:
                builtin_api.enable()
            raise
        _saved = saved
        # altgc took the debug flags over: the builtin gc's full collection
        # that empties the free lists after altgc's (src/install.c) must not
        # report a second, empty collection (DEBUG_STATS) nor save anything.
        builtin_api.set_debug(0)
        for name, fn in _ROUTED.items():
            # (a library's own replacement, gc.collect = noop, stays its own)
            if getattr(builtin_gc, name, None) is _BUILTIN[name]:
                setattr(builtin_gc, name, fn)
        if getattr(builtin_gc, "garbage", None) is builtin_garbage:
            setattr(builtin_gc, "garbage", _core.garbage)  # noqa: B010
        atexit.register(_at_exit)
        return True


def uninstall(keep_registry: bool = False) -> bool:
    """Give the cycle collection back to the builtin gc.

    The builtin gc gets the enabled flag, thresholds and debug flags that
    altgc took over at :func:`install`, as they are now (changed or not
    since, through ``altgc`` or the ``gc`` module), and altgc gets its own
    settings back.  Every
    adopted container goes back to the builtin gc (into its oldest
    generation, collectable again); no object is freed or lost by the
    hand-over.  Adopted objects are unregistered from altgc unless
    ``keep_registry=True`` (objects you registered with :func:`track`
    always stay registered).  Returns False if altgc was not installed.

    Frozen objects stay frozen: those frozen with the builtin
    ``gc.freeze()`` before :func:`install` (install mode sets them aside,
    and neither collector examines them meanwhile), and those frozen while
    installed (``gc.freeze()`` is altgc's then), which go to the builtin
    gc's permanent generation, where the builtin ``gc.freeze()`` would have
    put them.

    >>> import altgc
    >>> altgc.uninstall()           # not installed: nothing to do
    False
    """
    if not isinstance(keep_registry, bool):
        raise TypeError(
            f"uninstall() argument 'keep_registry' must be bool, not {type(keep_registry).__name__}"
        )
    with _lock:
        if _saved is None:
            return False
        _restore(keep_registry=keep_registry)
        return True


def is_installed() -> bool:
    """True while altgc is the process's cycle collector.

    >>> import altgc
    >>> altgc.is_installed()
    False
    """
    return bool(_core._install_info()["installed"])


class _Installed:
    """The context manager :func:`installed` returns."""

    def __init__(self, adopt: bool) -> None:
        self._adopt = adopt
        self._did = False

    def __enter__(self) -> None:
        self._did = install(self._adopt)

    def __exit__(self, *exc_info: object) -> None:
        if self._did:
            self._did = False
            uninstall()


def installed(adopt: bool = True) -> AbstractContextManager[None]:
    """``with altgc.installed(): ...`` -- install for the block only.

    If altgc was already installed, the block leaves it installed.

    >>> import altgc
    >>> with altgc.installed():
    ...     altgc.is_installed()
    True
    >>> altgc.is_installed()
    False
    """
    return _Installed(adopt)


def install_info() -> InstallInfo:
    """Figures of install mode: objects adopted, checks of count0, their cost.

    >>> import altgc
    >>> altgc.install_info().adoptions >= 0
    True
    """
    return InstallInfo(**_core._install_info())
