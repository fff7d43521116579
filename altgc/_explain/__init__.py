"""Why is it still alive?  ``watch``, ``explain`` and ``survivors``.

:func:`watch` remembers an object under a label without changing its
lifetime; :func:`explain` answers, for a live object or a label, *what*
keeps it alive -- the shortest reference paths from named roots (a module
global, IPython's ``Out[4]``, a local of a stored traceback, a class
attribute, a closure cell, an ``lru_cache``, a pyplot figure,
``gc.garbage``), the cause in words, the command that releases it, how
much memory that would free, whether it only sits in a cycle waiting for a
collection (and when that collection comes) and whether a C extension
holds a reference nobody can see::

    >>> import altgc
    >>> cache = {"rows": [1, 2, 3]}
    >>> rows = cache["rows"]
    >>> altgc.watch(rows, "rows")
    >>> del rows
    >>> e = altgc.explain("rows")
    >>> e.alive, e.cause in ("name", "local")   # a global; doctest: a local
    (True, True)
    >>> e.paths[0].expr.endswith("['rows']")     # cache['rows']
    True
    >>> bool(e.release) != bool(e.release_note)  # del cache['rows'], or why no code can
    True

The modules, by topic: :mod:`.watching` (``watch``, ``unwatch``,
``watched``), :mod:`.roots` (the named roots), :mod:`.index` (the heap
index, built in C by ``src/heapindex.c``; it holds no reference),
:mod:`.paths` (the path search and how a path is spelled; paths are
re-checked on the live objects before they are reported),
:mod:`.explanation` (the :class:`Explanation` type), :mod:`.explaining`
(``explain`` and ``survivors``), :mod:`.releasing` (the release code,
``release``), :mod:`.held` (retained and deep sizes), :mod:`.holders`
(``top``: the named roots holding the most memory), :mod:`.leftovers`
(``cells``: what each notebook cell left alive) and :mod:`.notice` (the
post-cell notices); :mod:`.frames` reads the running stack.
"""

from __future__ import annotations

from .explaining import explain, survivors
from .explanation import CAUSES, Explanation, RefPath
from .holders import Holder, Holders, top
from .index import HeapIndex, heap_index
from .leftovers import Leftover, Leftovers, cells
from .releasing import release
from .watching import WatchInfo, unwatch, watch, watched
from .watching import watches as _watches  # noqa: F401 - the label table, for tests

__all__ = [
    "CAUSES",
    "Explanation",
    "HeapIndex",
    "Holder",
    "Holders",
    "Leftover",
    "Leftovers",
    "RefPath",
    "WatchInfo",
    "cells",
    "explain",
    "heap_index",
    "release",
    "survivors",
    "top",
    "unwatch",
    "watch",
    "watched",
]
