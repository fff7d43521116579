"""Compare altgc with the builtin gc on the live heap.

:func:`compare_heap` asks both collectors which objects are unreachable
*right now*: altgc with its non-destructive :func:`altgc.find_unreachable`
over its registry, then the builtin gc with ``DEBUG_SAVEALL`` (so nothing is
freed or cleared: the garbage lands in ``gc.garbage``, which is handed back
as it was afterwards, leaving that garbage exactly as unreachable as
before).  It returns both sets, whether they agree, and, for every object
only one side found, why the other did not see it as garbage:

===============================  =========================================
reason                           meaning
===============================  =========================================
``unregistered``                 builtin only: not in altgc's registry, so
                                 altgc cannot see it at all
``altgc_frozen``                 builtin only: in altgc's permanent
                                 generation (:func:`altgc.freeze`)
``altgc_older_generation``       builtin only: in an altgc generation older
                                 than the one collected
``held_from_outside_registry``   builtin only: referenced by an object of
                                 the three rows above, so to altgc it is
                                 held from outside (the conservative
                                 answer) -- or reachable from such an object
``builtin_untracked``            altgc only: the builtin gc does not track
                                 it (``gc.is_tracked`` is false)
``builtin_frozen``               altgc only: in the builtin gc's permanent
                                 generation (:func:`gc.freeze`)
``builtin_older_generation``     altgc only: in a builtin generation older
                                 than the one collected
``held_by_unexamined``           altgc only: referenced by (or reachable
                                 from) an object of the three rows above
``resurrected``                  altgc only: a ``__del__`` run by the
                                 builtin gc made it reachable again
``unexplained``                  none of the above: a real disagreement
===============================  =========================================

Side effects are those of ``gc.collect(generation)`` minus the freeing:
the builtin gc runs the ``__del__`` of the garbage it finds (once, as it
would when collecting it), clears weakrefs to it and calls their callbacks,
and moves survivors to an older builtin generation.  Its automatic
collection and altgc's are off during the comparison; debug flags,
``gc.garbage``, ``gc.callbacks`` (not called for this look) and thresholds
are restored.  To compare on a part of the heap only, :func:`gc.freeze`
what the builtin gc must not examine first (frozen objects are then
reported as such, not hidden).

With altgc installed (:func:`altgc.install`), adopted objects sit in the
builtin gc's permanent generation; compare_heap unfreezes it for the
builtin gc's look and lets install mode adopt and freeze again afterwards
(objects frozen before ``install()`` stay set aside, out of both looks).
The builtin gc then holds the whole heap in its generation 2: compare
generation 2.
"""

from __future__ import annotations

import dataclasses
import types
from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import Any

from . import _core
from ._install import (
    builtin_api,
    builtin_garbage,
    find_builtin_gc,
    is_installed,
)

__all__ = ["compare_heap", "HeapComparison", "HeapDifference", "builtin_gc", "REASONS"]  # noqa: RUF022 - as documented

#: Reason code -> explanation, for every difference compare_heap can report.
REASONS: dict[str, str] = {
    "unregistered": "not registered with altgc, which cannot see it",
    "altgc_frozen": "frozen in altgc (permanent generation, altgc.freeze)",
    "altgc_older_generation": "in an older altgc generation than the one collected",
    "held_from_outside_registry": "held from outside altgc's registry",
    "builtin_untracked": "not tracked by the builtin gc",
    "builtin_frozen": "frozen in the builtin gc (gc.freeze)",
    "builtin_older_generation": "in an older builtin gc generation than the one collected",
    "held_by_unexamined": "held by an object the builtin gc did not examine",
    "resurrected": "resurrected by a __del__ the builtin gc ran",
    "unexplained": "UNEXPLAINED: both collectors examined it",
}


def builtin_gc() -> types.ModuleType:
    """The builtin :mod:`gc` module, even when ``sys.modules["gc"]`` has
    been replaced (``sys.modules["gc"] = altgc`` in install mode).

    >>> import altgc.compare, sys
    >>> altgc.compare.builtin_gc().__name__, altgc.compare.builtin_gc() is not altgc
    ('gc', True)
    """
    return find_builtin_gc()


_gc = builtin_gc()

#: (source id, hops) of the nearest source an object is reachable from
Reach = tuple[int, int]


@dataclasses.dataclass(frozen=True)
class HeapDifference:
    """One object only one collector found unreachable.

    ``side`` is ``"altgc"`` or ``"builtin"`` (the side that found it),
    ``reason`` a key of :data:`REASONS`, ``detail`` the explanation in
    words (naming the object that holds it, when there is one).
    """

    side: str
    type_name: str
    id: int
    reason: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class HeapComparison:
    """What :func:`compare_heap` returns.

    ``altgc_ids`` / ``builtin_ids``: the ids of the objects each collector
    found unreachable (ids only: the result keeps no garbage alive);
    ``differences``: one :class:`HeapDifference` per object in one set
    only.  ``agree`` is true when the sets are equal; ``explained`` when
    every difference has a reason other than ``"unexplained"``.
    ``registered``: how many containers altgc examined (its registered
    ones in generations 0..``generation``), ``builtin_examined`` the
    builtin gc's.  ``note``: when altgc examined none, why and what to do
    (the comparison is then empty on altgc's side, whatever ``agree``
    says); ``""`` otherwise.
    """

    generation: int
    altgc_ids: frozenset[int]
    builtin_ids: frozenset[int]
    differences: list[HeapDifference]
    registered: int
    builtin_examined: int
    note: str = ""

    @property
    def agree(self) -> bool:
        return self.altgc_ids == self.builtin_ids

    @property
    def common(self) -> int:
        return len(self.altgc_ids & self.builtin_ids)

    @property
    def explained(self) -> bool:
        return all(d.reason != "unexplained" for d in self.differences)

    def only(self, side: str) -> list[HeapDifference]:
        """The differences found by ``side`` only ("altgc" or "builtin")."""
        if side not in ("altgc", "builtin"):
            raise ValueError(f"only() argument 'side' must be 'altgc' or 'builtin', not {side!r}")
        return [d for d in self.differences if d.side == side]

    def reasons(self) -> dict[str, int]:
        """How many differences each reason explains."""
        return dict(Counter(d.reason for d in self.differences))

    def as_dict(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "altgc_ids": sorted(self.altgc_ids),
            "builtin_ids": sorted(self.builtin_ids),
            "differences": [d.as_dict() for d in self.differences],
            "registered": self.registered,
            "builtin_examined": self.builtin_examined,
            "agree": self.agree,
            "explained": self.explained,
            "note": self.note,
        }

    def __str__(self, limit: int = 40) -> str:
        verdict = (
            "AGREE"
            if self.agree
            else (
                "DIFFER (every difference explained)"
                if self.explained
                else "DIFFER (some differences UNEXPLAINED)"
            )
        )
        if self.note:
            verdict += " -- altgc examined no containers"
        lines = [f"compare_heap(generation={self.generation}): {verdict}"]
        if self.note:
            lines.append(self.note)
        lines += [
            f"{'':28}{'altgc':>12}{'builtin gc':>14}",
            f"{'containers examined':28}{self.registered:>12}{self.builtin_examined:>14}",
            f"{'unreachable':28}{len(self.altgc_ids):>12}{len(self.builtin_ids):>14}",
            f"{'  found by both':28}{self.common:>12}{self.common:>14}",
            f"{'  found by this side only':28}"
            f"{len(self.altgc_ids - self.builtin_ids):>12}"
            f"{len(self.builtin_ids - self.altgc_ids):>14}",
        ]
        if self.differences:
            lines.append("")
            lines.append(f"{'only':8} {'type':16} {'id':>16}  why the other side did not find it")
            for d in self.differences[:limit]:
                lines.append(
                    f"{d.side:8} {d.type_name[:16]:16} {d.id:#16x}  {d.reason}: {d.detail}"
                )
            if len(self.differences) > limit:
                lines.append(
                    f"... {len(self.differences) - limit} more "
                    f"({', '.join(f'{k} {v}' for k, v in sorted(self.reasons().items()))})"
                )
        return "\n".join(lines)


def _check_generation(generation: object) -> int:
    if isinstance(generation, bool) or not isinstance(generation, int):
        raise TypeError(
            f"compare_heap() argument 'generation' must be an int, not {type(generation).__name__}"
        )
    if not 0 <= generation <= 2:
        raise ValueError(
            "compare_heap() argument 'generation' must be 0, 1 or 2, not %d" % generation
        )
    return generation


def _generation_map(objects_of: Callable[[int], list[Any]]) -> dict[int, int]:
    """id -> generation (0..2) of the objects a collector lists."""
    gens: dict[int, int] = {}
    for g in range(3):
        objs = objects_of(g)
        for o in objs:
            gens[id(o)] = g
        del objs
    return gens


def _edges(objs: dict[int, Any]) -> dict[int, list[int]]:
    """referrer id -> referent ids, within ``objs`` (via gc.get_referents)."""
    out: dict[int, list[int]] = {}
    for i, o in objs.items():
        out[i] = [id(r) for r in _gc.get_referents(o) if id(r) in objs]
    return out


def _spread(
    sources: Iterable[int], edges: dict[int, list[int]], targets: set[int]
) -> dict[int, Reach]:
    """Multi-source BFS: target id -> (source id, hops) of the nearest
    source it is reachable from."""
    found: dict[int, Reach] = {}
    seen: set[int] = set()
    queue: deque[tuple[int, int, int]] = deque()
    for s in sources:
        seen.add(s)
        queue.append((s, s, 0))
    while queue:
        node, src, hops = queue.popleft()
        for nxt in edges.get(node, ()):
            if nxt in seen:
                continue
            seen.add(nxt)
            if nxt in targets:
                found[nxt] = (src, hops + 1)
            queue.append((nxt, src, hops + 1))
    return found


def _name(objs: dict[int, Any], i: int) -> str:
    return f"{type(objs[i]).__name__}@{i:#x}"


def _held_by(
    objs: dict[int, Any], found: Reach, reason: dict[int, tuple[str, str]], collector: str
) -> str:
    """Words for an object reachable from a source ``collector`` did not
    examine: ``found`` is ``(source id, hops)`` from :func:`_spread`."""
    src, hops = found
    how = "referenced by" if hops == 1 else f"reachable ({hops} references) from"
    return f"{how} {_name(objs, src)}, which {collector} did not examine ({reason[src][0]})"


def compare_heap(generation: int = 2) -> HeapComparison:
    """Ask altgc and the builtin gc which objects are unreachable now, and
    explain every object only one of them found (see the module docstring
    for the reasons and the side effects).

    >>> import altgc, gc
    >>> from altgc.compare import compare_heap
    >>> a = []; a.append(a); altgc.track(a); del a   # a registered cycle
    >>> b = []; b.append(b); del b                    # one altgc cannot see
    >>> r = compare_heap()
    >>> r.agree, r.explained, sorted(r.reasons())
    (False, True, ['unregistered'])
    >>> print(str(r).splitlines()[0])
    compare_heap(generation=2): DIFFER (every difference explained)
    >>> altgc.collect() >= 1, gc.collect() >= 1
    (True, True)
    """
    generation = _check_generation(generation)
    # The builtin gc's own garbage list, whatever the module's attribute is
    # now (a program may rebind gc.garbage; while installed it is altgc's).
    garbage = builtin_garbage
    gc_enabled = builtin_api.isenabled()
    gc_debug = builtin_api.get_debug()
    gc_threshold = builtin_api.get_threshold()
    altgc_enabled = _core.isenabled()
    builtin_api.disable()
    _core.disable()
    saved_garbage = list(garbage)
    try:
        # altgc first: its look changes nothing.  Keep ids and the facts
        # needed later, not the objects (the builtin gc must see them as
        # unreachable too).
        try:
            a_ids, a_finalized = _altgc_look(generation)
        except RuntimeError as exc:
            if "cannot run during a collection" not in str(exc):
                raise
            raise RuntimeError(
                "compare_heap() cannot run during a collection (altgc's: "
                "from a __del__ or weakref callback it runs)"
            ) from None
        registered = sum(len(_core.get_objects(g)) for g in range(generation + 1))
        note = "" if registered else _nothing_examined(generation)

        # The builtin gc, saving everything it finds instead of freeing it.
        # (No callbacks: not even install mode's, which would run an altgc
        # collection instead: on 3.11 its trigger's list is the one the
        # builtin gc calls, not gc.callbacks.)
        quiet = _core._builtin_swap_callbacks([])
        del garbage[:]
        builtin_api.set_debug(_gc.DEBUG_SAVEALL)
        installed = is_installed()
        try:
            if installed:
                # Install mode parks what altgc adopted in the builtin gc's
                # permanent generation; let the builtin gc see it.  (The
                # builtin function: while installed gc.unfreeze is altgc's,
                # which left the builtin gc 1 object to examine.)
                builtin_api.unfreeze()
            b_young = _young_ids(builtin_api.get_objects, generation)
            runs = _builtin_collections()
            found = builtin_api.collect(generation)  # not gc.collect: altgc's while installed
            ran = _builtin_collections() != runs
        finally:
            builtin_api.set_debug(gc_debug)
            _core._builtin_swap_callbacks(quiet)
            if installed:
                _core.get_count()  # install mode adopts and re-freezes
        if not ran:
            # The builtin gc returns 0 at once when a collection of its
            # own is running: "found nothing" would be a wrong answer.
            raise RuntimeError(
                "compare_heap() cannot run during a collection (the builtin "
                "gc's: from a __del__ or weakref callback it runs, or in "
                "another thread while it runs)"
            )
        if len(garbage) < found:  # (a finalizer emptied it meanwhile)
            raise RuntimeError(
                f"compare_heap(): the builtin gc found {found} unreachable "
                f"objects but its garbage list holds {len(garbage)}: "
                "something emptied it during the collection"
            )
        b_objs = {id(o): o for o in garbage}
        # Hand the garbage back: restored gc.garbage, the found objects
        # are unreachable again once b_objs goes.
        garbage[:] = saved_garbage
        b_ids = set(b_objs)
        differences: list[HeapDifference] = []
        if a_ids != b_ids:
            differences = _explain_differences(generation, a_ids, b_objs, a_finalized, b_young)
        del b_objs
        return HeapComparison(
            generation=generation,
            altgc_ids=frozenset(a_ids),
            builtin_ids=frozenset(b_ids),
            differences=differences,
            registered=registered,
            builtin_examined=len(b_young),
            note=note,
        )
    finally:
        if len(garbage) != len(saved_garbage):
            garbage[:] = saved_garbage
        builtin_api.set_threshold(*gc_threshold)
        if altgc_enabled:
            _core.enable()
        if gc_enabled:
            builtin_api.enable()


def _nothing_examined(generation: int) -> str:
    """Why altgc examined no container in generations 0..``generation``,
    and what to do about it."""
    older = sum(len(_core.get_objects(g)) for g in range(generation + 1, 3))
    frozen = _core.get_freeze_count()
    if older or frozen:
        parts = []
        if older:
            parts.append(
                f"{older} {_are(older)} in generations older than {generation} "
                "(compare_heap(2) examines all generations)"
            )
        if frozen:
            parts.append(f"{frozen} {_are(frozen)} frozen (altgc.unfreeze() returns them)")
        n = older + frozen
        return (
            f"altgc examined none of its {n} registered container{'' if n == 1 else 's'}: "
            + "; ".join(parts)
        )
    if is_installed():
        return "altgc is installed but has nothing registered yet"
    return (
        "altgc has nothing registered (neither altgc.track() nor altgc.install() "
        "was called), so the comparison is empty on altgc's side: call "
        "altgc.install() or altgc.track(obj) first"
    )


def _are(n: int) -> str:
    return "is" if n == 1 else "are"


def _builtin_collections() -> int:
    """How many collections the builtin gc has run (all generations)."""
    return sum(st["collections"] for st in builtin_api.get_stats())


def _altgc_look(generation: int) -> tuple[set[int], dict[int, bool]]:
    """altgc's unreachable ids, and whether each was finalized already."""
    groups = _core.find_unreachable(generation)
    ids: set[int] = set()
    finalized: dict[int, bool] = {}
    for group in groups:
        for o in group:
            ids.add(id(o))
            finalized[id(o)] = _gc.is_finalized(o)
    return ids, finalized


def _young_ids(objects_of: Callable[[int], list[Any]], generation: int) -> set[int]:
    """ids of the objects a collector lists in generations 0..generation."""
    ids: set[int] = set()
    for g in range(generation + 1):
        ids.update(map(id, objects_of(g)))
    return ids


def _explain_differences(
    generation: int,
    a_ids: set[int],
    b_objs: dict[int, Any],
    a_finalized: dict[int, bool],
    b_young: set[int],
) -> list[HeapDifference]:
    """One HeapDifference per object in one set only."""
    diffs: list[HeapDifference] = []
    b_ids = set(b_objs)

    # --- found by the builtin gc only: why did altgc not see it? --------
    only_b = b_ids - a_ids
    if only_b:
        a_gen = _generation_map(_core.get_objects)
        reason: dict[int, tuple[str, str]] = {}
        for i in only_b | (b_ids & a_ids):
            o = b_objs[i]
            if not _core.is_tracked(o):
                reason[i] = ("unregistered", REASONS["unregistered"])
            elif i not in a_gen:
                reason[i] = ("altgc_frozen", REASONS["altgc_frozen"])
            elif a_gen[i] > generation:
                reason[i] = (
                    "altgc_older_generation",
                    f"in altgc generation {a_gen[i]}, older than "
                    f"the collected generation {generation}",
                )
        sources = [i for i in reason if i in b_ids]
        pending = {i for i in only_b if i not in reason}
        reach = _spread(sources, _edges(b_objs), pending)
        for i in sorted(only_b):
            if i in reason:
                code, text = reason[i]
            elif i in reach:
                code = "held_from_outside_registry"
                text = _held_by(b_objs, reach[i], reason, "altgc")
            else:
                code, text = "unexplained", REASONS["unexplained"]
            diffs.append(HeapDifference("builtin", type(b_objs[i]).__name__, i, code, text))

    # --- found by altgc only: why did the builtin gc not collect it? ----
    only_a = a_ids - b_ids
    if only_a:
        a_objs: dict[int, Any] = {}
        for g in range(3):
            objs = _core.get_objects(g)
            for o in objs:
                if id(o) in a_ids:
                    a_objs[id(o)] = o
            del objs
        b_all = _generation_map(builtin_api.get_objects)
        reason = {}
        for i, o in a_objs.items():
            if i in b_ids:
                continue
            if not _gc.is_tracked(o):
                reason[i] = ("builtin_untracked", REASONS["builtin_untracked"])
            elif i not in b_all:
                reason[i] = ("builtin_frozen", REASONS["builtin_frozen"])
            elif i not in b_young:
                reason[i] = (
                    "builtin_older_generation",
                    f"in builtin gc generation {b_all[i]}, older "
                    f"than the collected generation {generation}",
                )
        edges = _edges(a_objs)
        pending = {i for i in only_a if i in a_objs and i not in reason}
        reach = _spread(list(reason), edges, pending)
        resurrected = [
            i
            for i in only_a
            if i in a_objs
            and i not in reason
            and not a_finalized.get(i, False)
            and _gc.is_finalized(a_objs[i])
        ]
        reach_res = _spread(resurrected, edges, pending)
        for i in sorted(only_a):
            if i not in a_objs:
                diffs.append(
                    HeapDifference(
                        "altgc",
                        "?",
                        i,
                        "unexplained",
                        "freed while the builtin gc ran (a finalizer or callback dropped it)",
                    )
                )
                continue
            if i in reason:
                code, text = reason[i]
            elif i in resurrected:
                code = "resurrected"
                text = (
                    "its __del__ ran during the builtin gc's collection and made it reachable again"
                )
            elif i in reach:
                code = "held_by_unexamined"
                text = _held_by(a_objs, reach[i], reason, "the builtin gc")
            elif i in reach_res:
                src, _hops = reach_res[i]
                code = "resurrected"
                text = (
                    f"reachable from {_name(a_objs, src)}, resurrected "
                    "by its __del__ during the builtin gc's collection"
                )
            else:
                code, text = "unexplained", REASONS["unexplained"]
            diffs.append(HeapDifference("altgc", type(a_objs[i]).__name__, i, code, text))
        del a_objs
    return diffs
