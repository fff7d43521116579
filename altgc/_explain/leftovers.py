"""``cells()``: what each executed cell left alive that no name of the
user holds.

A per-cell log, kept by ``%load_ext altgc`` through IPython's
``pre_run_cell``/``post_run_cell`` events (or by calling
:meth:`CellLog.before` and :meth:`CellLog.after` around any code).  After
a cell it records, without keeping a reference (:class:`~.held.Ref`: a
weak reference or a watch token):

- its output, cached in ``Out[n]`` and the hidden ``_``/``__``/``___``;
- the locals of the frames of its traceback, when it failed;
- the pyplot figures it opened;
- the entries it added to the ``functools.lru_cache`` functions of the
  user's namespace and modules;
- the reference cycles it left waiting for a collection: the young
  generations of the builtin gc are analysed as a collection would
  (references from outside them subtracted), without collecting.

:func:`cells` reports what of it is still alive and bound to no name the
user typed, with its retained size and the code that releases it.  The
cost after a cell is bounded by the young generations' size (a few
thousand objects), not by the heap's: ``benchmarks/bench_cells.py``.
"""

from __future__ import annotations

import dataclasses
import gc
import html
import sys
import types
from collections import Counter
from typing import Any

from .._install import builtin_api
from .explanation import CAUSES, fmt_bytes
from .frames import frame_locals, is_function_frame
from .held import Ref, deep_size, retained, shallow_size
from .holders import (
    _NOT_DATA,
    Table,
    lru_caches,
    release_cell,
    size_cell,
    user_names,
    user_namespace,
)
from .notice import holder_name
from .roots import ipython_shell

#: objects the young generations may hold for the cycle analysis to run
#: (more: gc is disabled or the cell made very many objects; skipped)
MAX_YOUNG = 50_000


@dataclasses.dataclass(frozen=True)
class Leftover:
    """One thing a cell left alive that no name of the user holds."""

    #: the cell's execution count (``In[n]``)
    cell: int
    #: what holds it, as the user knows it: ``Out[4], _``, ``big in
    #: work() (traceback)``, ``pyplot figure 2``, ``load (lru_cache)``,
    #: ``cycle of 3 objects (Node)``
    label: str
    #: a :data:`~altgc._explain.explanation.CAUSES` key: output_cache,
    #: traceback, matplotlib, lru_cache, cycle
    kind: str
    #: retained bytes (what releasing it frees)
    bytes: int
    #: the code that releases it ("" when no code can: see ``note``)
    release: str
    type_name: str = ""
    note: str = ""

    def __str__(self) -> str:
        fix = self.release.replace("\n", "; ") or f"({self.note or 'no release code'})"
        return (
            f"In[{self.cell}]: {self.label} ({self.type_name}, {fmt_bytes(self.bytes)})"
            f"  \u2192 {fix}"
        )


class Leftovers(Table):
    """What :func:`cells` returns: a tuple of :class:`Leftover` in cell
    order, shown as a table (text, IPython, HTML)."""

    title = "what the cells left alive that no name of yours holds"
    empty = "nothing"
    css = "altgc-leftovers"
    headers = ("cell", "held by", "type", "retained", "why", "release it")

    def _cells(self, x: Leftover) -> list[str]:
        return [
            f"In[{x.cell}]",
            f"<code>{html.escape(x.label)}</code>",
            html.escape(x.type_name),
            size_cell(x.bytes),
            html.escape(CAUSES.get(x.kind, x.kind)),
            release_cell(x.release or x.note),
        ]


@dataclasses.dataclass
class Entry:
    """One thing recorded after a cell (no reference to it: ``ref``)."""

    cell: int
    label: str
    kind: str
    ref: Ref
    type_name: str
    #: fixed release code (figures, caches, cycles); "" asks explain()
    release: str
    #: bytes estimated when recorded (deep_size, or the cycle's members)
    bytes: int


def _young_garbage(min_bytes: int) -> list[tuple[list[Any], int]]:
    """Reference cycles of the builtin gc's young generations that nothing
    outside them reaches -- garbage waiting for a collection -- found the
    way a collection finds them, without collecting: (members, bytes) per
    group of at least ``min_bytes`` (members' sizes and what they alone
    hold).  [] when the young generations hold more than MAX_YOUNG."""
    gens = [builtin_api.get_objects(0), builtin_api.get_objects(1)]
    young = gens[0] + gens[1]
    gens.clear()
    if len(young) > MAX_YOUNG:
        young.clear()
        return []
    probe: list[Any] = []  # held by `young` only: calibrates the counts below
    young.append(probe)
    del probe
    # Bulk calls (C loops): the cost is a few passes over the young objects.
    ids = list(map(id, young))
    pos = dict(zip(ids, range(len(young)), strict=True))
    young_ids = set(ids)
    # references among them (young objects are tracked: the ints and strings
    # most references lead to are left out first)
    tracked = gc.is_tracked
    inside = Counter(map(id, filter(tracked, gc.get_referents(*young))))
    internal = list(map(inside.__getitem__, ids))
    del inside
    # references from outside: the count less `young`'s own and the call's
    # (the probe has none but those) and the ones from young objects
    counts = list(map(sys.getrefcount, young))
    base = counts[-1]
    reached = {ids[i] for i in range(len(young)) if counts[i] - base - internal[i] > 0}
    reached.add(ids[-1])
    frontier = [young[pos[i]] for i in reached]
    while frontier:
        refs = gc.get_referents(*frontier)
        frontier.clear()
        new = set(map(id, filter(tracked, refs))) & young_ids
        del refs
        new -= reached
        reached |= new
        frontier = [young[pos[i]] for i in new]
    garbage = [young[pos[i]] for i in young_ids - reached]
    young.clear()
    if not garbage:
        return []
    # group the garbage by reference (one group a connected cycle), size it
    gpos = {id(o): i for i, o in enumerate(garbage)}
    parent = list(range(len(garbage)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    own_bytes = [shallow_size(o) for o in garbage]
    for i in range(len(garbage)):
        refs = gc.get_referents(garbage[i])
        for k in range(len(refs)):
            j = gpos.get(id(refs[k]))
            if j is not None:
                parent[find(i)] = find(j)
            elif not gc.is_tracked(refs[k]) and sys.getrefcount(refs[k]) <= 3:
                own_bytes[i] += shallow_size(refs[k])  # an array, a str only it holds
        refs.clear()
    groups: dict[int, list[int]] = {}
    for i in range(len(garbage)):
        groups.setdefault(find(i), []).append(i)
    out = []
    for members in groups.values():
        size = sum(own_bytes[i] for i in members)
        if size >= min_bytes:
            out.append(([garbage[i] for i in members], size))
    garbage.clear()
    return out


class CellLog:
    """The per-cell log: what each cell left alive (see :func:`cells`)."""

    def __init__(self, min_bytes: int = 1024, cycle_min_bytes: int = 1 << 20) -> None:
        #: smaller leftovers are not recorded
        self.min_bytes = min_bytes
        #: smaller garbage cycles are not recorded (IPython leaves some of
        #: its own after a failed cell: the formatting of the traceback)
        self.cycle_min_bytes = cycle_min_bytes
        self.entries: list[Entry] = []
        self._figs: set[Any] = set()
        self._lru: dict[int, int] = {}

    # -- around a cell ---------------------------------------------------

    def before(self) -> None:
        """Before a cell: the open figures and the caches' sizes."""
        self._figs = set(_figures())
        self._lru = {}
        for _expr, fn in lru_caches():
            self._lru[id(fn)] = _cache_size(fn)
        self._prune()

    def after(
        self, cell: int, result: Any = None, error: BaseException | None = None
    ) -> list[Entry]:
        """After cell ``cell`` whose value was ``result`` (and which raised
        ``error``): record what it left; return the new entries."""
        new: list[Entry] = []
        shell = ipython_shell()
        out: Any = shell.user_ns.get("Out") if shell is not None else None
        if result is not None and issubclass(type(out), dict) and out.get(cell) is result:
            self._add(new, cell, f"Out[{cell}]", "output_cache", result, "")
        del result, out
        if error is not None:
            self._add_locals(new, cell, error)
        del error
        figs = _figures()
        for num, manager in figs.items():
            if num not in self._figs:
                self._add(
                    new,
                    cell,
                    f"pyplot figure {num}",
                    "matplotlib",
                    manager,
                    f"import matplotlib.pyplot as plt; plt.close({num!r})",
                    force=True,
                )
        figs.clear()
        for expr, fn in lru_caches():
            grown = _cache_size(fn) - self._lru.get(id(fn), 0)
            if grown > 0:
                mod = expr.rpartition(".")[0]
                self._add(
                    new,
                    cell,
                    f"{expr} (lru_cache, +{grown} entries)",
                    "lru_cache",
                    fn,
                    (f"import {mod}; " if mod else "") + f"{expr}.cache_clear()",
                    force=True,
                )
        for members, size in _young_garbage(self.cycle_min_bytes):
            members.sort(key=shallow_size, reverse=True)  # the biggest names it
            kinds = list(dict.fromkeys(type(o).__name__ for o in members))
            n = len(members)
            label = f"cycle of {n} object{'s' if n > 1 else ''} ({', '.join(kinds[:3])})"
            for o in members:
                try:
                    ref = Ref(o)
                except TypeError:
                    continue
                new.append(
                    Entry(
                        cell,
                        label,
                        "cycle",
                        ref,
                        type(o).__name__,
                        "import gc; gc.collect();",
                        size,
                    )
                )
                break
            members.clear()
        self.entries.extend(new)
        return new

    def _add_locals(self, new: list[Entry], cell: int, error: BaseException) -> None:
        for f in _error_frames(error):
            fname = f.f_code.co_name
            for k, v in frame_locals(f):
                if not issubclass(type(v), _NOT_DATA):
                    self._add(new, cell, f"{k} in {fname}() (traceback)", "traceback", v, "")

    def _add(
        self,
        new: list[Entry],
        cell: int,
        label: str,
        kind: str,
        obj: Any,
        release: str,
        force: bool = False,
    ) -> None:
        size = deep_size(obj, stop_at=self.min_bytes)
        if size < self.min_bytes and not force:
            return
        try:
            ref = Ref(obj)
        except TypeError:  # neither weakly referenceable nor watchable
            return
        new.append(Entry(cell, label, kind, ref, type(obj).__name__, release, size))

    def _prune(self) -> None:
        """Forget what died."""
        keep = []
        for e in self.entries:
            if e.ref.alive():
                keep.append(e)
            else:
                e.ref.discard()
        self.entries = keep

    @staticmethod
    def _collect(
        e: Entry, named: set[int], seen: set[int], todo: list[Entry], objs: list[Any]
    ) -> None:
        o = e.ref.get()
        if o is None or id(o) in named or id(o) in seen:
            return
        seen.add(id(o))
        todo.append(e)
        objs.append(o)

    def clear(self) -> None:
        for e in self.entries:
            e.ref.discard()
        self.entries = []

    # -- the report ------------------------------------------------------

    def report(self, explained: int = 20) -> Leftovers:
        """What of the log is still alive and bound to no name of the user;
        the release code of the ``explained`` largest (one explain() each,
        a scan of the heap's referrers: the others say so in ``note``)."""
        self._prune()
        ns, hidden = user_namespace()
        named = {id(ns[k]) for k in user_names(ns, hidden) if k in ns}
        todo: list[Entry] = []
        objs: list[Any] = []
        seen: set[int] = set()
        for e in self.entries:
            self._collect(e, named, seen, todo, objs)
        sizes = retained(objs) if objs else []
        objs.clear()
        from .explaining import explain

        out = []
        by_size = sorted(range(len(todo)), key=lambda i: -(sizes[i] or (0, todo[i].bytes))[1])
        chosen = set(by_size[:explained])
        for i, (e, size) in enumerate(zip(todo, sizes, strict=True)):
            release, note = e.release, ""
            label = e.label
            if not release and i not in chosen:
                note = f"not among the {explained} largest: cells(explained=...) for its code"
            elif not release:
                # the index retained() built serves (objs is cleared: no holder)
                ex = explain(e.ref.get(), 4, literal=True, refresh=False)
                if not ex.alive:
                    continue
                release, note = ex.release, ex.release_note
                label = _holder_names(ex.paths, e.label)
                del ex
            nbytes = size[1] if size is not None else e.bytes
            if e.kind == "cycle":
                nbytes = max(nbytes, e.bytes)
            out.append(Leftover(e.cell, label, e.kind, nbytes, release, e.type_name, note))
        return Leftovers(out)


def _holder_names(paths: Any, fallback: str) -> str:
    """``Out[4], _`` for an output; the recorded label otherwise."""
    if not fallback.startswith("Out[") or not paths:
        return fallback
    names = [holder_name(p) for p in paths if p.root != "traceback"]
    return ", ".join(dict.fromkeys(names)) if names else fallback


def _figures() -> dict[Any, Any]:
    ph = sys.modules.get("matplotlib._pylab_helpers")
    figs = getattr(getattr(ph, "Gcf", None), "figs", None)
    return dict(figs) if isinstance(figs, dict) else {}


def _cache_size(fn: Any) -> int:
    try:
        return int(fn.cache_info().currsize)
    except Exception:
        return 0


def _error_frames(error: BaseException) -> list[types.FrameType]:
    """The function frames of ``error``'s traceback from the cell's own
    frame on (IPython's frames come first)."""
    ns, _hidden = user_namespace()
    chain = []
    t = error.__traceback__
    while t is not None:
        chain.append(t.tb_frame)
        t = t.tb_next
    start = next((i for i, f in enumerate(chain) if f.f_globals is ns), 0)
    return [f for f in chain[start:] if is_function_frame(f)]


#: the log ``%load_ext altgc`` keeps
log = CellLog()


def cells(explained: int = 20) -> Leftovers:
    """For each executed cell: what it left alive that no name of the
    user holds -- its output in ``Out[n]`` and ``_``, the locals of its
    traceback, the pyplot figures it opened, its ``lru_cache`` entries,
    the reference cycles it left for a collection -- with the retained
    size and the code that releases each (for the ``explained`` largest:
    one ``explain()`` each; the others say so in their ``note``).  Nothing
    is collected; cells
    run before ``%load_ext altgc`` are not in the log.

    Outside IPython, :meth:`CellLog.before` / :meth:`CellLog.after` of
    ``log`` mark the cells:

    >>> import altgc
    >>> from altgc._explain.leftovers import log
    >>> log.cycle_min_bytes = 100_000
    >>> log.before()
    >>> a = [bytearray(100_000)]; a.append(a); del a     # a cycle
    >>> [(x.kind, x.label) for x in log.after(1) if x.bytes >= 100_000]
    [('cycle', 'cycle of 1 object (list)')]
    >>> [x.release for x in altgc.cells() if x.bytes >= 100_000]
    ['import gc; gc.collect();']
    >>> import gc; _ = gc.collect(); log.clear(); log.cycle_min_bytes = 1 << 20
    """
    if type(explained) is bool or not issubclass(type(explained), int):
        raise TypeError("cells() argument 'explained' must be int, not " + type(explained).__name__)
    if explained < 0:
        raise ValueError("cells() argument 'explained' must be >= 0")
    return log.report(explained)
