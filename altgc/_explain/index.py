"""The heap index: every object the builtin gc tracks (and altgc's
registry) plus the untracked containers they reach, built in C
(``src/heapindex.c``): the addresses sorted and compressed by page, and each
object's referrers in compressed sparse rows (about 6 + 4 x references/objects
bytes per object).  It holds no reference to the objects.  A build expected
to take over 2 s shows its progress: in a notebook a display updated in
place, elsewhere a line on stderr."""

from __future__ import annotations

import dataclasses
import html
import importlib
import sys
from typing import Any

from .. import _core
from .._install import builtin_api
from .roots import ipython_shell
from .watching import _check_bool

#: Show progress for a build expected to take longer (seconds).
_PROGRESS_SECONDS = 2.0
#: Build time per tracked object before any build was measured (about
#: 0.15 s per 10**6 lists, each referring to another, on a 2026 laptop).
_DEFAULT_NS_PER_OBJECT = 150.0
#: Measured by the last build.
_ns_per_object: float | None = None


def _ipython_display() -> Any:
    """IPython.display (untyped here: IPython is optional)."""
    return importlib.import_module("IPython.display")


class _Progress:
    """The progress of a long build: an IPython display handle updated in
    place in a notebook (a kernel's shell), a line on stderr elsewhere."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.handle: Any = None
        shell = ipython_shell()
        if shell is not None and getattr(shell, "kernel", None) is not None:
            try:
                self.handle = _ipython_display().display(
                    self._html(10, f"indexing {n} tracked objects for explain() ..."),
                    display_id=True,
                )
            except Exception:
                self.handle = None
        if self.handle is None:
            sys.stderr.write(f"altgc: indexing {n} tracked objects for explain() ...\n")
            sys.stderr.flush()

    @staticmethod
    def _html(percent: int, text: str) -> Any:
        return _ipython_display().HTML(
            f'<progress value="{percent}" max="100" style="width:16em"></progress> '
            f"<code>altgc</code> {html.escape(text)}"
        )

    def update(self, percent: int, text: str) -> None:
        if self.handle is not None:
            try:
                self.handle.update(self._html(percent, text))
                return
            except Exception:
                self.handle = None
        if percent >= 100:
            sys.stderr.write(f"altgc: {text}\n")
            sys.stderr.flush()


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
    global _ns_per_object
    # The builtin gc's own lists (while installed gc.get_objects is altgc's,
    # whose objects come from the registry below).
    l0 = builtin_api.get_objects(0)
    l1 = builtin_api.get_objects(1)
    l2 = builtin_api.get_objects(2)
    # and its permanent generation (gc.freeze(); while installed, what altgc
    # adopted, which the registry below repeats and the build merges): a
    # frozen heap may be reachable from nothing else the index is given
    frozen = _core._builtin_frozen_objects()
    n = len(l0) + len(l1) + len(l2) + len(frozen)
    per = _ns_per_object if _ns_per_object is not None else _DEFAULT_NS_PER_OBJECT
    progress = _Progress(n) if n * per / 1e9 > _PROGRESS_SECONDS else None
    registry = _core.get_objects(None)
    gens = [l0, l1, l2, frozen]
    everything = extra + registry
    # Our own lists are no part of the heap being explained.
    exclude = [*exclude, registry, gens, extra, everything]
    r = _core._hg_build(gens, everything, exclude)
    del l0, l1, l2, frozen, gens, registry, everything, exclude
    idx = HeapIndex(r[0], r[1], r[2], r[3] / 1e9)
    if n:
        _ns_per_object = r[3] / n
    if progress is not None:
        progress.update(100, str(idx))
    return idx


def heap_index(refresh: bool = True) -> HeapIndex:
    """Build (or with ``refresh=False`` reuse) the heap index; its figures.

    ``explain(..., refresh=False)`` answers from the existing index (or
    the last answer, checked again) and rebuilds only when it no longer
    fits the heap.

    >>> import altgc
    >>> idx = altgc.heap_index()
    >>> idx.nodes > 0 and idx.bytes_per_object > 0
    True
    """
    if not _check_bool(refresh, "heap_index", "refresh"):
        st = _core._hg_stats()
        if st is not None:
            return HeapIndex(st[0], st[1], st[2], st[3] / 1e9)
    return build_index([], [sys._getframe()])
