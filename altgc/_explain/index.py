"""The heap index: every object the builtin gc tracks (and altgc's
registry) plus what they reference, built in C (``src/heapindex.c``) in
compressed sparse rows, with a dominator tree for retained sizes.  It holds
no reference to the objects."""

from __future__ import annotations

import dataclasses
import gc
import sys
from typing import Any

from .. import _core

_PROGRESS_OBJECTS = 4_000_000  # indexing more objects takes > ~2 s


@dataclasses.dataclass(frozen=True)
class HeapIndex:
    """Figures of the current heap index (see :func:`heap_index`)."""

    nodes: int
    edges: int
    bytes: int
    build_seconds: float

    @property
    def bytes_per_object(self) -> float:
        return self.bytes / self.nodes if self.nodes else 0.0

    def __str__(self) -> str:
        return (
            f"heap index: {self.nodes} objects, {self.edges} references, "
            f"{self.bytes / 2**20:.1f} MiB ({self.bytes_per_object:.1f} "
            f"bytes/object), built in {self.build_seconds:.3f} s"
        )


def build_index(extra: list[Any], exclude: list[Any]) -> HeapIndex:
    """Index the builtin gc's generations and altgc's registry, plus
    ``extra`` objects, leaving out the ``exclude`` ones (explain's own
    frames and lists); return the index's figures."""
    l0 = gc.get_objects(0)
    l1 = gc.get_objects(1)
    l2 = gc.get_objects(2)
    n = len(l0) + len(l1) + len(l2)
    progress = n > _PROGRESS_OBJECTS
    if progress:
        sys.stderr.write(f"altgc: indexing {n} tracked objects for explain() ...\n")
        sys.stderr.flush()
    registry = _core.get_objects(None) if _core.get_count() else []
    gens = [l0, l1, l2]
    everything = extra + registry
    # Our own lists are no part of the heap being explained.
    exclude = [*exclude, registry, gens, extra, everything]
    r = _core._hg_build(gens, everything, exclude)
    del l0, l1, l2, gens, registry, everything, exclude
    idx = HeapIndex(r[0], r[1], r[2], r[3] / 1e9)
    if progress:
        sys.stderr.write(f"altgc: {idx}\n")
    return idx


def heap_index(refresh: bool = True) -> HeapIndex:
    """Build (or with ``refresh=False`` reuse) the heap index; its figures.

    ``explain(..., refresh=False)`` answers from the existing index (a few
    milliseconds) and rebuilds only when it no longer fits the heap.

    >>> import altgc
    >>> idx = altgc.heap_index()
    >>> idx.nodes > 0 and idx.bytes_per_object > 0
    True
    """
    if not refresh:
        st = _core._hg_stats()
        if st is not None:
            return HeapIndex(st[0], st[1], st[2], st[3] / 1e9)
    return build_index([], [sys._getframe()])
