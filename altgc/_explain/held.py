"""How much memory an object holds, two ways.

:func:`retained` is exact and needs the heap index: what freeing each of
several objects would free (its dominator subtree: the objects reachable
only through it), from one index build.  :func:`deep_size` is a bounded
estimate that needs no index, cheap enough to run after every cell: the
sizes of what an object reaches, not crossing into types, modules,
functions or code (which every instance reaches and nobody frees with it).
Neither keeps a reference to what it measured.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import types
import weakref
from collections.abc import Sequence
from typing import Any

from .. import _core
from .frames import own_frames
from .index import build_index

#: what deep_size() does not cross into: shared by every instance, freed with none
_SHARED = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.CodeType,
    types.MethodType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    types.GetSetDescriptorType,
    types.MemberDescriptorType,
)


def shallow_size(obj: Any) -> int:
    """``sys.getsizeof``, or a buffer's ``nbytes`` when larger (a numpy
    view reports its data there only)."""
    try:
        n = sys.getsizeof(obj)
    except Exception:
        n = 0
    if getattr(type(obj), "nbytes", None) is not None:
        with contextlib.suppress(Exception):
            n = max(n, int(obj.nbytes))
    return n


def _deep_sizeof(t: type) -> bool:
    """Whether ``t``'s ``__sizeof__`` is written in Python: then it counts
    what the object holds (pandas' objects: ``memory_usage(deep=True)``),
    and deep_size() does not count it again."""
    return type(getattr(t, "__sizeof__", None)) is types.FunctionType


def deep_size(obj: Any, stop_at: int | None = None, max_objects: int = 20_000) -> int:
    """The bytes ``obj`` reaches: its own size and the sizes of the
    objects it refers to, transitively, each counted once, not crossing
    into types, modules, functions, code or frames' globals; at most
    ``max_objects`` objects, and no further once ``stop_at`` bytes are
    reached (the caller only wants to know whether it is that big).

    A list of numpy arrays weighs what the arrays hold; a pandas
    DataFrame what its ``__sizeof__`` says (its columns, deeply: an
    object whose ``__sizeof__`` is Python code is not looked into).

    >>> from altgc._explain.held import deep_size
    >>> rows = [bytearray(1000) for _ in range(10)]
    >>> deep_size(rows) > 10_000 > sys.getsizeof(rows)
    True
    """
    seen = {id(obj)}
    stack = [obj]
    total = 0
    count = 0
    try:
        while stack:
            o = stack.pop()
            total += shallow_size(o)
            count += 1
            if (stop_at is not None and total >= stop_at) or count >= max_objects:
                break
            if not gc.is_tracked(o) or _deep_sizeof(type(o)):
                continue
            refs = gc.get_referents(o)
            if type(o) is types.FrameType:  # its locals, not its globals
                g, b = o.f_globals, o.f_builtins
                refs = [r for r in refs if r is not g and r is not b]
            for r in refs:
                # type(), not isinstance(): the objects are the user's (see .paths)
                if id(r) not in seen and not issubclass(type(r), _SHARED):
                    seen.add(id(r))
                    stack.append(r)
            del refs
    finally:
        stack.clear()
        del o
    return total


def retained(objs: Sequence[Any], refresh: bool = True) -> list[tuple[int, int] | None]:
    """For each object of ``objs``, the (objects, bytes) freeing it alone
    would free -- its dominator subtree in the heap index, itself
    included -- or None when the index does not hold it.  One index build
    for all of them (``refresh=False`` reuses the current index when it
    holds every object), which ``explain(..., refresh=False)`` may reuse:
    ``objs`` (a list) and altgc's frames are left out of it."""
    box = list(objs)
    mine = own_frames()
    # the caller's list is no holder either: an explain() reusing this
    # index (refresh=False) must not count it
    theirs = [objs] if isinstance(objs, list) else []
    try:
        if refresh or not all(_core._hg_contains(o) for o in box):
            build_index(box, [box, mine, *mine, *theirs])
        out: list[tuple[int, int] | None] = []
        for i in range(len(box)):
            r = _core._hg_retained(box[i])
            out.append(r if r is None else (int(r[0]), int(r[1])))
        return out
    finally:
        box.clear()
        mine.clear()
        theirs.clear()


class Ref:
    """A reference that does not keep its object alive: a weak reference
    where the type has them, else a watch token of the C core (lists,
    dicts, tuples).  ``TypeError`` when neither can see the object die."""

    __slots__ = ("_token", "_wr")

    def __init__(self, obj: Any) -> None:
        self._token: int | None = None
        self._wr: weakref.ref[Any] | None = None
        try:
            self._wr = weakref.ref(obj)
        except TypeError:
            self._token = _core._watch_add(obj)

    def get(self) -> Any:
        """The object, or None once it died."""
        if self._wr is not None:
            return self._wr()
        if self._token is not None:
            return _core._watch_get(self._token)
        return None

    def alive(self) -> bool:
        if self._wr is not None:
            return self._wr() is not None
        return self._token is not None and _core._watch_state(self._token)[0]

    def discard(self) -> None:
        """Forget the object (frees the watch slot)."""
        if self._token is not None:
            _core._watch_discard(self._token)
            self._token = None
        self._wr = None

    def __del__(self) -> None:
        self.discard()
