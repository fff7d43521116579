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
from typing import Any, cast

from .. import _core
from .frames import frame_locals, is_function_frame


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
    #: (namespace, name) pairs that bound the object then
    names: list[tuple[dict[str, Any], str]]
    watched_at: float


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
    frame = sys._getframe(1)
    names = _bound_names(frame, obj)
    if label is None:
        label = names[0][1] if names else f"{type(obj).__name__} at {id(obj):#x}"
    if label == "":
        raise ValueError("watch() argument 'label' must not be empty")
    try:
        size = sys.getsizeof(obj)
    except Exception:
        size = 0
    token = _core._watch_add(obj)
    old = watches.pop(label, None)
    if old is not None:
        _core._watch_discard(old.token)
    watches[label] = WatchRecord(
        token, label, type(obj).__name__, size, process_rss(), names, time.time()
    )
    del frame


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


def _check_label(label: object, fn: str) -> str:
    if not issubclass(type(label), str):
        raise TypeError(f"{fn}() argument 'label' must be str, not " + type(label).__name__)
    return cast(str, label)


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
    now = _core._now_ns()
    out = []
    for w in watches.values():
        alive, death = _core._watch_state(w.token)
        out.append(
            WatchInfo(w.label, w.type_name, alive, None if alive else (now - death) / 1e9, w.size)
        )
    return out
