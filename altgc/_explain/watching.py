"""Watching: remember an object under a label without changing its
lifetime, and tell later whether it is still alive.

The C core keeps one token per watch; its death hooks mark the token dead
before the object's memory can be reused.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
import types
import weakref
from typing import Any, cast

from .. import _core
from .frames import frame_locals, is_function_frame

Namespace = dict[str, Any]


@dataclasses.dataclass
class WatchRecord:
    """One watch: the core's token and what was known when it was taken."""

    token: int
    label: str
    type_name: str
    #: ``sys.getsizeof`` of the object when it was watched
    size: int
    #: the process's RSS when it was watched
    rss: int
    watched_at: float
    #: (module weakly or None, namespace's watch token or None, name): the
    #: namespaces are not kept alive (an exec()'d one may hold the object)
    _held: list[tuple[Any, int | None, str]] = dataclasses.field(default_factory=list, repr=False)

    @property
    def names(self) -> list[tuple[Namespace, str]]:
        """(namespace, name) pairs that bound the object then, for the
        namespaces still alive."""
        out = []
        for modref, ns_token, name in self._held:
            ns = _namespace(modref, ns_token)
            if ns is not None:
                out.append((ns, name))
        return out

    @names.setter
    def names(self, pairs: list[tuple[Namespace, str]]) -> None:
        held = [(*_hold(ns), name) for ns, name in pairs]
        self._forget()
        self._held = held

    def _forget(self) -> None:
        """Discard the watch tokens of the namespaces (the record is gone)."""
        held, self._held = self._held, []
        for _modref, ns_token, _name in held:
            if ns_token is not None:
                _core._watch_discard(ns_token)


def _hold(ns: Namespace) -> tuple[Any, int | None]:
    """``ns`` without a reference: its module's weak reference when ``ns``
    is a module's globals, else a watch token of the core (an exec()'d
    namespace).  ``({}, None)`` for the empty namespace of a function's
    locals (never re-checked)."""
    if not ns:
        return {}, None
    try:
        name = dict.get(ns, "__name__")
        mod = sys.modules.get(name) if type(name) is str else None
        if mod is not None and getattr(mod, "__dict__", None) is ns:
            return weakref.ref(mod), None
    except Exception:
        pass
    return None, _core._watch_add(ns)


def _namespace(modref: Any, ns_token: int | None) -> Namespace | None:
    if ns_token is not None:
        return cast("Namespace | None", _core._watch_get(ns_token))
    if type(modref) is dict:
        return cast(Namespace, modref)
    mod = modref()
    return None if mod is None else cast(Namespace, mod.__dict__)


#: label -> watch, oldest first.
watches: dict[str, WatchRecord] = {}


@dataclasses.dataclass(frozen=True)
class WatchInfo:
    """State of one watched object, as :func:`watched` lists it."""

    label: str
    type_name: str
    alive: bool
    #: seconds between the object's death and this report (None: alive)
    freed_seconds_ago: float | None
    #: ``sys.getsizeof`` of the object when it was watched
    size: int

    def __str__(self) -> str:
        state = "alive" if self.alive else f"freed {self.freed_seconds_ago:.1f} s ago"
        return f"{self.label} ({self.type_name}): {state}"


def process_rss() -> int:
    """Resident set size of this process in bytes (0 if unknown)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        try:
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        except Exception:
            return 0


def watch(obj: object, label: str | None = None) -> None:
    """Remember ``obj`` under ``label`` without changing its lifetime.

    Works for every object whose memory goes through Python's object
    allocator, weak-referenceable or not (lists, dicts, tuples, ints,
    strings, arrays): altgc's death hooks mark the watch dead before the
    memory can be reused, so a new object at the same address is never
    mistaken for it.  ``label`` defaults to the name the caller's frame
    binds to ``obj`` (else ``"<type> at 0x..."``).  Watching one object
    under two labels keeps both; a label already in use is re-pointed.

    >>> import altgc
    >>> data = [0] * 10
    >>> altgc.watch(data, "data")
    >>> [str(w) for w in altgc.watched() if w.label == "data"]
    ['data (list): alive']
    >>> del data
    >>> [w.alive for w in altgc.watched() if w.label == "data"]
    [False]
    >>> altgc.unwatch("data")
    """
    if label is not None and not issubclass(type(label), str):
        raise TypeError("watch() argument 'label' must be str or None, not " + type(label).__name__)
    try:
        frame: types.FrameType | None = sys._getframe(1)
    except ValueError:  # called from C with no Python frame (a new thread)
        frame = None
    names = _bound_names(frame, obj) if frame is not None else []
    del frame
    if label is None:
        label = names[0][1] if names else f"{type(obj).__name__} at {id(obj):#x}"
    else:
        # a plain str: a subclass's __hash__/__eq__ must not run in the
        # table, where a failure would lose the core's token
        label = str.__str__(label)
    if label == "":
        raise ValueError("watch() argument 'label' must not be empty")
    try:
        size = sys.getsizeof(obj)
    except Exception:
        size = 0
    record = WatchRecord(0, label, type(obj).__name__, size, process_rss(), time.time())
    record.token = _core._watch_add(obj)
    try:
        record.names = names
        _put(record)
    except BaseException:  # MemoryError, or asynchronous (KeyboardInterrupt)
        if watches.get(record.label) is not record:
            _core._watch_discard(record.token)
            record._forget()
        raise


def _put(record: WatchRecord) -> None:
    """Store ``record`` under its label, discarding the watch it replaces.

    Safe against other threads and against finalizers that run in between
    (and watch or unwatch): the table only gains records by ``setdefault``
    (never overwriting one) and loses them by ``pop``, whose caller alone
    then discards the core's token -- so every token is discarded exactly
    once, and none is lost."""
    while True:
        current = watches.setdefault(record.label, record)
        if current is record:
            return
        old = watches.pop(record.label, None)
        if old is not None:
            _core._watch_discard(old.token)
            old._forget()


def _bound_names(frame: types.FrameType, obj: object) -> list[tuple[dict[str, Any], str]]:
    """The (namespace, name) pairs binding ``obj`` in ``frame``: its
    globals, and (with an empty namespace: not re-checked later) the locals
    of a function frame."""
    out = []
    for k, v in list(frame.f_globals.items()):
        if v is obj and issubclass(type(k), str) and not k.startswith("_"):
            out.append((frame.f_globals, k))
    if is_function_frame(frame):
        for k, v in frame_locals(frame):
            if v is obj and not k.startswith("_"):
                out.insert(0, ({}, k))
    return out


def unwatch(label: str) -> None:
    """Forget the watch ``label`` (``KeyError`` if there is none).

    >>> import altgc
    >>> altgc.unwatch("never-watched")
    Traceback (most recent call last):
    ...
    KeyError: "unwatch() argument 'label': no watched object is labelled 'never-watched'"
    """
    w = watches.pop(_check_label(label, "unwatch"), None)
    if w is None:
        raise KeyError(f"unwatch() argument 'label': no watched object is labelled {label!r}")
    _core._watch_discard(w.token)
    w._forget()


def _check_label(label: object, fn: str) -> str:
    if not issubclass(type(label), str):
        raise TypeError(f"{fn}() argument 'label' must be str, not " + type(label).__name__)
    # a plain str, as watch() stores it (a subclass may hash differently)
    return str.__str__(cast(str, label))


def _check_bool(value: object, fn: str, name: str) -> bool:
    """``value``, checked to be a bool: else ``TypeError`` naming the
    argument, as ``install()`` raises (``refresh="no"`` would read as true)."""
    if type(value) is not bool:
        raise TypeError(f"{fn}() argument {name!r} must be bool, not {type(value).__name__}")
    return value


def watched() -> list[WatchInfo]:
    """Every watched label with its state, oldest first.

    >>> import altgc
    >>> isinstance(altgc.watched(), list)
    True
    """
    out = []
    # a copy: a finalizer run by an allocation below may watch or unwatch
    for w in list(watches.values()):
        if watches.get(w.label) is not w:
            continue  # unwatched or re-pointed meanwhile
        try:
            alive, death = _core._watch_state(w.token)
        except KeyError:  # pragma: no cover - discarded meanwhile
            continue
        ago = None if alive else max(0, _core._now_ns() - death) / 1e9
        out.append(WatchInfo(w.label, w.type_name, alive, ago, w.size))
    return out
