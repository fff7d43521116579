"""A collection told step by step: :func:`trace` and the :class:`Trace` it
returns (a table, JSON, a self-contained HTML page and a notebook picture
with next/previous controls).

The C core (``_core._trace``) runs altgc's own collector with a recorder
and hands back compact plain data: per phase, every examined object's
gc_refs and state (bytes columns); the edges that changed them and the
events (weakrefs cleared, callbacks, finalizers, ``tp_clear``), an int32
array.  The per-object steps (``Trace.steps``) are built from it when
asked for.  Objects are named by id, type and a
repr taken before the collection: a trace keeps no reference to them.
"""

from __future__ import annotations

import array
import dataclasses
import html
import itertools
import json
import sys
from typing import Any

from . import _core

#: The default of ``trace(limit=...)``: at most this many objects examined.
DEFAULT_LIMIT = 10_000

#: What each phase does, in CPython's words (its functions' names).
PHASES: dict[str, str] = {
    "update_refs": "gc_refs := refcount: each examined object's reference count is copied",
    "subtract_refs": (
        "each reference from an examined object to an examined object is subtracted: "
        "what is left counts the references from outside"
    ),
    "move_unreachable": (
        "objects with gc_refs > 0 are reachable, and so is everything they reach; "
        "the rest is unreachable"
    ),
    "move_legacy_finalizers": (
        "unreachable objects with a legacy finalizer (tp_del), and what they reach, "
        "are uncollectable (they go to garbage)"
    ),
    "handle_weakrefs": (
        "weakrefs to the unreachable objects are cleared; the callbacks of the "
        "weakrefs that are not garbage themselves run"
    ),
    "handle_weakref_callbacks": (
        "weakrefs with a callback to the unreachable objects are cleared and their "
        "callbacks run (the others wait for clear_weakrefs)"
    ),
    "finalize_garbage": "tp_finalize (__del__) runs once per unreachable object",
    "handle_resurrected_objects": (
        "reachability among the garbage again: what a finalizer or callback made "
        "reachable is resurrected and survives"
    ),
    "clear_weakrefs": "the weakrefs left to what is still garbage are cleared, without callbacks",
    "delete_garbage": "tp_clear breaks the cycles and the objects are freed",
}

#: the state of an object whose registry entry went during the collection
#: while it lived on (a finalizer or a weakref callback called
#: altgc.untrack() on it): alive, no longer examined
_UNTRACKED_ALIVE = "untracked, alive"

# _core._trace's record: an object row's flags, gc_refs when it has none
_IMMORTAL, _EXPLICIT, _FINALIZER, _LEGACY = 1, 2, 4, 8
_REFS_NONE = -(2**63)

_EVENT_TEXT = {
    "weakref_cleared": "a weakref to {t} cleared",
    "callback": "the callback of a weakref to {t} called",
    "finalized": "{t}.__del__ (tp_finalize) called",
    "cleared": "tp_clear({t}) called",
}


@dataclasses.dataclass(frozen=True)
class TraceObject:
    """One examined object as the trace saw it (no reference to it)."""

    #: its number in the trace (the young set's order), shown as ``#index``
    index: int
    id: int
    type: str
    #: ``repr()`` taken before the collection, cut to 80 characters (a
    #: builtin container's is not written beyond them), lone surrogates
    #: escaped (None: registered while the trace ran)
    repr: str | None
    #: the generation it was in when the collection started
    generation: int
    #: its reference count, less the trace's own references to it (None:
    #: immortal, or not examined)
    refcount: int | None
    #: passed to trace() explicitly
    explicit: bool
    immortal: bool
    has_finalizer: bool
    has_legacy_finalizer: bool
    #: per phase of :attr:`Trace.phases`: gc_refs (None when it has none)
    gc_refs: tuple[int | None, ...]
    #: per phase: tentative, reachable, unreachable, legacy, resurrected,
    #: untracked (the interpreter does not track it: not examined), held,
    #: freed, "untracked, alive" (it left the registry during the
    #: collection, untracked by a finalizer or callback, and lived on),
    #: gone
    states: tuple[str, ...]
    #: the object whose traversal made it reachable (an index), None when
    #: it was held from outside or stayed unreachable
    moved_by: int | None
    #: gc_refs > 0 after subtract_refs: referenced from outside
    held_from_outside: bool
    #: found unreachable by move_unreachable (legacy ones included)
    unreachable: bool
    #: uncollectable: a legacy finalizer holds it (garbage)
    uncollectable: bool
    #: its tp_finalize ran during this collection
    finalized: bool
    weakrefs_cleared: int
    callbacks: int
    resurrected: bool
    #: its tp_clear ran
    cleared: bool
    #: it died during the collection
    freed: bool
    #: it left the registry during the collection (a finalizer or a weakref
    #: callback untracked it) and was alive at its end: not freed
    untracked_alive: bool = False

    @property
    def label(self) -> str:
        return f"#{self.index} {self.type}"

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _nonzero(b: bytes) -> bytes | None:
    """``b``, or None when all its bytes are 0 (nothing to keep)."""
    return None if b.count(0) == len(b) else b


def _printable(s: str) -> str:
    """``s`` without lone surrogates (a repr or a type name may hold them;
    UTF-8 cannot encode them): each becomes its escape, ``\\udc80``."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-8", "backslashreplace").decode("utf-8")
    return s


def _due_generation(
    counts: tuple[int, ...], thresholds: tuple[int, ...], pending: int, total: int
) -> int | None:
    """The generation an automatic collection would examine now, or None
    when none is due -- the C core's rule (``agc_maybe_schedule`` and
    ``agc_collect_generations``): one is due when ``count0 > threshold0 >
    0``; it examines the oldest generation whose count exceeds its
    threshold, generation 2 only when the objects awaiting a full
    collection are at least a quarter of it."""
    if not counts[0] > thresholds[0] > 0:
        return None
    for i in (2, 1):
        if counts[i] > thresholds[i] and not (i == 2 and pending < total // 4):
            return i
    return 0


def _automatic(
    counts: tuple[int, ...],
    thresholds: tuple[int, ...],
    pending: int,
    total: int,
    enabled: bool,
    collected: bool,
) -> str:
    """What the automatic collection stands at: disabled, off by a 0
    threshold, due (and of which generation) or not due."""
    if not enabled:
        call = "trace(collect=True)" if collected else "trace()"
        return (
            "automatic collection is disabled (altgc.disable()): no collection runs "
            f"unless one is asked for, as this {call} call did; altgc.enable() turns "
            "automatic collection back on"
        )
    if thresholds[0] == 0:
        return (
            "no automatic collection runs: threshold0 = 0 turns them off "
            "(altgc.set_threshold(n) with n > 0 turns them back on)"
        )
    i = _due_generation(counts, thresholds, pending, total)
    if i is None:
        return (
            f"no automatic collection is due: count0 = {counts[0]} <= "
            f"threshold0 = {thresholds[0]} (generation 0 is collected when more objects "
            "than that were registered since its last collection)"
        )
    text = (
        f"an automatic collection of generation {i} is due: count0 = {counts[0]} "
        "(objects registered since the last collection of generation 0) "
        f"> threshold0 = {thresholds[0]}"
    )
    if i > 0:
        text += (
            f", and count{i} = {counts[i]} (collections of generation {i - 1} since "
            f"the last collection of generation {i}) > threshold{i} = {thresholds[i]}"
        )
    return text


def _why(
    gen: int,
    given: bool,
    counts: tuple[int, ...],
    thresholds: tuple[int, ...],
    pending: int,
    total: int,
    enabled: bool,
    requested: bool,
    collected: bool,
) -> str:
    if requested:
        head = f"generation {gen} was asked for"
    elif given:
        head = (
            f"generation {gen} is the oldest holding one of the given objects "
            "(the ones the trace registered join generation 0)"
        )
    else:
        head = f"generation {gen} (all generations) by default"
    gens = "generation 0" if gen == 0 else f"generations 0..{gen}"
    auto = _automatic(counts, thresholds, pending, total, enabled, collected)
    return f"{head}; a collection of generation {gen} examines {gens}; {auto}"


class Trace:
    """What :func:`trace` recorded.  Holds ids, type names, reprs and
    numbers, never a reference to a traced object."""

    def __init__(self, raw: dict[str, Any], requested: bool) -> None:
        self.generation: int = raw["generation"]
        #: True: a real collection (``collect=True``); False: a look only
        self.collected: bool = raw["collect"]
        #: the phases recorded, named as CPython's sources name them
        self.phases: tuple[str, ...] = tuple(raw["phases"])
        before = raw["before"]
        self.counts_before: tuple[int, int, int] = tuple(before["counts"])
        self.counts_after: tuple[int, int, int] = tuple(raw["counts_after"])
        self.thresholds: tuple[int, int, int] = tuple(before["thresholds"])
        self.enabled: bool = before["enabled"]
        #: the number of unreachable objects the collector reported
        self.found: int = raw["found"]
        given = any(o[5] & _EXPLICIT for o in raw["objects"] if o is not None)
        #: why this collection examined these generations
        self.why: str = _why(
            self.generation, given, self.counts_before, self.thresholds,
            before["long_lived_pending"], before["long_lived_total"], self.enabled, requested,
            self.collected,
        )  # fmt: skip
        self.objects: list[TraceObject] = []
        self._build(raw)

    def _build(self, raw: dict[str, Any]) -> None:
        # The C core's record is compact (_core._trace): per phase, columns
        # of bytes over the young set; the edges and events an int32 array
        # of (phase, kind, source, target).  What is kept of it is compact
        # too: steps are built from it when asked for (``steps``).
        rows = raw["objects"]
        present = [j for j, o in enumerate(rows) if o is not None]
        holes = len(present) != len(rows)
        number = {j: k for k, j in enumerate(present)} if holes else None
        names = raw["states"]
        kinds = raw["kinds"]
        cols = raw["snapshots"]
        nphases = len(self.phases)
        flat = memoryview(raw["steps"]).cast("i").tolist()
        quads = [tuple(flat[i : i + 4]) for i in range(0, len(flat), 4)]
        del flat
        if number is not None:  # edges from or to a hole are not shown
            quads = [
                (p, kind, number[a], number[b] if b >= 0 else -1)
                for p, kind, a, b in quads
                if a in number and (b < 0 or b in number)
            ]
        quads.sort(key=lambda x: x[0])  # by phase (stable: as recorded within one)
        #: (phase, kind, a, b) per edge and event, a and b object indices
        self._quads = array.array("i", itertools.chain.from_iterable(quads))
        self._kinds: list[str] = kinds
        moved_by: dict[int, int] = {}
        events: dict[tuple[int, int], int] = {}
        k_mu = self.phases.index("move_unreachable") if "move_unreachable" in self.phases else -1
        for p, kind, a, b in quads:
            name = kinds[kind]
            if name == "move" and p == k_mu:
                moved_by.setdefault(b, a)
            elif name not in ("move", "decref"):
                events[(kind, a)] = events.get((kind, a), 0) + 1
        del quads
        ev = {name: kinds.index(name) for name in _EVENT_TEXT}

        def column(k: int) -> list[Any]:
            raw_refs = memoryview(cols[k][0]).cast("q").tolist()
            refs = [None if v == _REFS_NONE else v for v in raw_refs]
            return [refs[j] for j in present] if holes else refs

        def states_at(k: int) -> list[str]:
            codes = cols[k][1]
            return [names[codes[j]] for j in present] if holes else [names[c] for c in codes]

        # per object, one tuple of its gc_refs and one of its states over
        # the phases; equal tuples are shared (most objects have the same)
        shared: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        n = len(present)
        all_refs = list(zip(*(column(k) for k in range(nphases)), strict=True)) or [()] * n
        all_states = list(zip(*(states_at(k) for k in range(nphases)), strict=True)) or [()] * n
        #: per phase, the objects' finalized flags (uint8) and weakref
        #: counts (int32) as the C core gave them: bytes in the young set's
        #: order (holes included, ``_present``), None when all are 0
        self._fin = [_nonzero(c[2]) for c in cols]
        self._weak = [_nonzero(c[3]) for c in cols]
        self._present = present if holes else None
        self._young = len(rows)
        pidx = {name: k for k, name in enumerate(self.phases)}
        k_sub = pidx.get("subtract_refs")
        k_leg = pidx.get("move_legacy_finalizers")
        k_res = pidx.get("handle_resurrected_objects")
        for k, j in enumerate(present):
            o = rows[j]
            refs = shared.setdefault(all_refs[k], all_refs[k])
            states = shared.setdefault(all_states[k], all_states[k])
            outside = (
                k_sub is not None and refs[k_sub] is not None and refs[k_sub] > 0
                and states[k_sub] != "untracked"
            )  # fmt: skip
            last = states[-1] if states else None
            self.objects.append(
                TraceObject(
                    index=k, id=o[0], type=_printable(o[1]),
                    repr=None if o[2] is None else _printable(o[2]),
                    generation=o[3], refcount=o[4], explicit=bool(o[5] & _EXPLICIT),
                    immortal=bool(o[5] & _IMMORTAL), has_finalizer=bool(o[5] & _FINALIZER),
                    has_legacy_finalizer=bool(o[5] & _LEGACY), gc_refs=refs, states=states,
                    moved_by=moved_by[k] if k in moved_by and not outside else None,
                    held_from_outside=outside,
                    unreachable=k_mu >= 0 and states[k_mu] == "unreachable",
                    uncollectable=k_leg is not None and states[k_leg] == "legacy",
                    finalized=events.get((ev["finalized"], k), 0) > 0,
                    weakrefs_cleared=events.get((ev["weakref_cleared"], k), 0),
                    callbacks=events.get((ev["callback"], k), 0),
                    resurrected=k_res is not None and states[k_res] == "resurrected",
                    cleared=events.get((ev["cleared"], k), 0) > 0,
                    freed=last == "freed",
                    untracked_alive=last == _UNTRACKED_ALIVE,
                )
            )  # fmt: skip

    @property
    def steps(self) -> list[dict[str, Any]]:
        """Per phase: the edges ``{"phase", "kind": "decref"|"move",
        "source", "target"}`` (ids) and events ``{"phase", "kind", "id"}``
        of that phase, then ``{"phase", "kind": "object", "id", "gc_refs",
        "state", "finalized", "weakrefs"}`` per object.  Built from the
        trace's compact record on each access (a new list: keep it if it
        is used more than once)."""
        out: list[dict[str, Any]] = []
        objs = self.objects
        ids = [o.id for o in objs]
        young = self._present if self._present is not None else range(len(objs))
        q = self._quads
        i, nq = 0, len(q)
        for k, name in enumerate(self.phases):
            while i < nq and q[i] == k:  # (sorted by phase)
                kind = self._kinds[q[i + 1]]
                a, b = q[i + 2], q[i + 3]
                if kind in ("decref", "move"):
                    out.append({"phase": name, "kind": kind, "source": ids[a], "target": ids[b]})
                else:
                    out.append({"phase": name, "kind": kind, "id": ids[a]})
                i += 4
            fin = self._fin[k] or bytes(self._young)
            weak = memoryview(self._weak[k] or bytes(4 * self._young)).cast("i")
            for o, j in zip(objs, young, strict=True):
                out.append(
                    {"phase": name, "kind": "object", "id": o.id, "gc_refs": o.gc_refs[k],
                     "state": o.states[k], "finalized": bool(fin[j]), "weakrefs": weak[j]}
                )  # fmt: skip
        return out

    @property
    def _items(self) -> list[tuple[str, str, int, int]]:
        """(phase, kind, a, b) per edge and event, a and b indices."""
        q = self._quads
        return [
            (self.phases[q[i]], self._kinds[q[i + 1]], q[i + 2], q[i + 3])
            for i in range(0, len(q), 4)
        ]

    # ---- the answers ---------------------------------------------------

    @property
    def unreachable(self) -> list[int]:
        """Ids of the objects the collection found unreachable (what
        :func:`altgc.find_unreachable` would return, uncollectable ones
        included)."""
        return [o.id for o in self.objects if o.unreachable]

    def by_id(self, ident: int) -> TraceObject:
        """The traced object with this id (KeyError if none)."""
        for o in self.objects:
            if o.id == ident:
                return o
        raise KeyError(ident)

    def as_dict(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "collected": self.collected,
            "why": self.why,
            "counts_before": list(self.counts_before),
            "counts_after": list(self.counts_after),
            "thresholds": list(self.thresholds),
            "enabled": self.enabled,
            "found": self.found,
            "phases": list(self.phases),
            "unreachable": self.unreachable,
            "objects": [o.as_dict() for o in self.objects],
            "steps": self.steps,
        }

    def to_json(self, **kwargs: Any) -> str:
        """The trace as JSON (``json.dumps`` keyword arguments)."""
        return json.dumps(self.as_dict(), **kwargs)

    # ---- text ------------------------------------------------------------

    def _headline(self) -> str:
        n = len(self.objects)
        what = "collected" if self.collected else "look only, nothing freed"
        unr = len(self.unreachable)
        line = f"altgc trace of generation {self.generation} ({what}): {n} examined, "
        line += f"{unr} unreachable"
        if self.collected:
            freed = sum(o.freed for o in self.objects)
            line += f", {freed} freed"
            untracked = sum(o.untracked_alive for o in self.objects)
            if untracked:
                line += f", {untracked} untracked (alive)"
        return line

    def __str__(self) -> str:
        def fmt(v: object) -> str:
            return "-" if v is None else str(v)

        k_sub = self.phases.index("subtract_refs") if "subtract_refs" in self.phases else None
        rows = []
        for o in self.objects:
            name = o.label + (f" {o.repr}" if o.repr is not None else "")
            if len(name) > 38:
                name = name[:35] + "..."
            if o.states and o.states[0] == "untracked":
                reach = "untracked"
            elif o.unreachable:
                reach = "no (legacy)" if o.uncollectable else "no"
            else:
                reach = "yes"
            if o.resurrected:
                reach += ", resurrected"
            by = (
                f"#{o.moved_by}" if o.moved_by is not None
                else "outside" if o.held_from_outside else "-"
            )  # fmt: skip
            fin = "yes" if o.finalized else "-"
            clr = "freed" if o.freed else "yes" if o.cleared else "-"
            if o.untracked_alive:
                clr = ("yes; " if o.cleared else "") + _UNTRACKED_ALIVE
            rows.append(
                (name, str(o.generation), fmt(o.refcount), fmt(o.gc_refs[0] if o.gc_refs else None),
                 fmt(o.gc_refs[k_sub] if k_sub is not None else None), reach, by, fin,
                 str(o.weakrefs_cleared or "-"), clr)
            )  # fmt: skip
        head = ("object", "gen", "refcount", "gc_refs copy", "after subtract", "reachable",
                "moved back by", "finalized", "weakrefs cleared", "cleared")  # fmt: skip
        widths = [max(len(r[c]) for r in [head, *rows]) for c in range(len(head))]
        lines = [self._headline(), f"why: {self.why}",
                 f"counts {self.counts_before} -> {self.counts_after}, "
                 f"thresholds {self.thresholds}", ""]  # fmt: skip
        for r in [head, *rows]:
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        lines.append("")
        lines.append("phases: " + ", ".join(self.phases))
        unr = [f"#{o.index} {o.type}" for o in self.objects if o.unreachable]
        lines.append("unreachable: " + (", ".join(unr) if unr else "none"))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<altgc.Trace generation={self.generation} objects={len(self.objects)} " + (
            f"unreachable={len(self.unreachable)} collected={self.collected}>"
        )

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """Terminal IPython prints the same text as ``str()``."""
        p.text(str(self))

    # ---- pictures ------------------------------------------------------------

    def frames(self) -> list[dict[str, Any]]:
        """The step-through: one frame per step the picture shows, each
        ``{"phase", "text", "gc_refs", "states", "edge"}`` (gc_refs and
        states per object, ``edge`` the [source, target] indices the step
        is about, or None).  Each decrement of subtract_refs and each move
        of move_unreachable is a step (grouped by source object when there
        are more than 150 of them)."""
        return _frames(self)

    def _repr_html_(self) -> str:
        """The step-through picture (an inline SVG with next/previous
        controls) above the table (a ``<pre>``, legible without scripts)."""
        return _html_fragment(self)

    def to_html(self, path: str | None = None) -> str:
        """A self-contained HTML page (no external resource): the graph with
        gc_refs on the nodes, next/previous step controls (buttons, the
        arrow keys) and the table.  Written to ``path`` when given;
        returned either way."""
        page = (
            '<!DOCTYPE html><html><head><meta charset="utf-8">'
            '<meta name="color-scheme" content="light dark">'
            f"<title>altgc trace of generation {self.generation}</title>"
            "<style>body{font-family:system-ui,sans-serif;margin:1.5em;"
            "background:#fff;color:#1f1f1f}"
            "@media (prefers-color-scheme: dark){body{background:#111;color:#e6e6e6}}"
            "</style></head><body>"
            f"<h1 style='font-size:1.2em'>{html.escape(self._headline())}</h1>"
            f"{_html_fragment(self)}</body></html>"
        )
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(page)
        return page


# ---- the step-through --------------------------------------------------------

_MAX_EDGE_STEPS = 150


def _frames(t: Trace) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    if not t.phases:
        return frames
    refs = [o.gc_refs[0] for o in t.objects]
    states = [o.states[0] for o in t.objects]

    def add(phase: str, text: str, edge: list[int] | None = None) -> None:
        frames.append(
            {"phase": phase, "text": text, "gc_refs": list(refs), "states": list(states),
             "edge": edge}
        )  # fmt: skip

    def lab(i: int) -> str:
        return t.objects[i].label

    for k, phase in enumerate(t.phases):
        items = [it for it in t._items if it[0] == phase]
        edges = [it for it in items if it[1] in ("decref", "move")]
        if k == 0:
            add(phase, f"{phase}: {PHASES.get(phase, '')}")
            continue
        per_edge = len(edges) <= _MAX_EDGE_STEPS
        if phase == "move_unreachable":
            roots = [o.index for o in t.objects if o.held_from_outside]
            for i in roots:
                states[i] = "reachable"
            add(phase, f"{phase}: gc_refs > 0, held from outside, so reachable: "
                + (", ".join(f"#{i}" for i in roots) or "none"))  # fmt: skip
        for _p, kind, a, b in edges:
            if phase == "move_unreachable" and t.objects[b].held_from_outside:
                continue  # reachable already: found before the scan met it
            if kind == "decref":
                v = refs[b]
                if v is not None:
                    refs[b] = v - 1
                text = f"{phase}: {lab(a)} references {lab(b)}: gc_refs of #{b} -> {refs[b]}"
            else:
                states[b] = t.objects[b].states[k] if phase != "move_unreachable" else "reachable"
                text = f"{phase}: {lab(a)} reaches {lab(b)}: {states[b]}"
            if per_edge:
                add(phase, text, [a, b])
        events = [it for it in items if it[1] not in ("decref", "move")]
        refs = [o.gc_refs[k] for o in t.objects]
        states = [o.states[k] for o in t.objects]
        said = "; ".join(_EVENT_TEXT[kind].format(t=f"#{a}") for _p, kind, a, _b in events[:12])
        if len(events) > 12:
            said += f"; ... ({len(events)} events)"
        text = f"{phase}: {PHASES.get(phase, '')}"
        if phase == "move_unreachable":
            unr = [f"#{o.index}" for o in t.objects if o.unreachable]
            text = f"{phase}: the rest is unreachable: " + (", ".join(unr) or "none")
        if said:
            text += f" ({said})"
        add(phase, text)
    return frames


_STATE_FILL = {
    "tentative": "#9ca3af",
    "reachable": "#22c55e",
    "unreachable": "#ef4444",
    "legacy": "#f59e0b",
    "resurrected": "#a855f7",
    "held": "#ef4444",
    "freed": "none",
    "gone": "none",
    "untracked": "none",
    _UNTRACKED_ALIVE: "none",
}

_COUNTER = itertools.count()

_SCRIPT = """
(function(){
var root=document.getElementById('%(uid)s');
var data=JSON.parse(root.querySelector('script[type="application/json"]').textContent);
var fills=%(fills)s;
var k=0,n=data.frames.length;
var label=root.querySelector('.agc-step'),text=root.querySelector('.agc-text');
if(!n){
  label.textContent='nothing was examined: no step to show';
  root.querySelector('.agc-prev').disabled=true;
  root.querySelector('.agc-next').disabled=true;
  return;
}
function show(i){
  k=Math.max(0,Math.min(n-1,i));
  var f=data.frames[k];
  root.setAttribute('data-step',String(k));
  label.textContent='step '+(k+1)+' of '+n+' \u2014 '+f.phase;
  text.textContent=f.text;
  root.querySelectorAll('[data-node]').forEach(function(g){
    var i=+g.getAttribute('data-node');
    var r=f.gc_refs[i],s=f.states[i];
    g.querySelector('.agc-refs').textContent=(r===null?'\u2013':String(r));
    g.querySelector('.agc-state').textContent=s;
    var c=g.querySelector('circle');
    c.setAttribute('fill',fills[s]||'none');
    c.setAttribute('stroke-dasharray',(s==='freed'||s==='gone')?'3 3':'');
  });
  root.querySelectorAll('[data-edge]').forEach(function(e){
    var on=f.edge&&e.getAttribute('data-edge')===f.edge[0]+'-'+f.edge[1];
    e.setAttribute('stroke-width',on?'3':'1');
    e.setAttribute('opacity',on?'1':'0.45');
  });
  root.querySelectorAll('tr[data-row]').forEach(function(tr){
    var i=+tr.getAttribute('data-row');
    tr.cells[1].textContent=(f.gc_refs[i]===null?'\u2013':String(f.gc_refs[i]));
    tr.cells[2].textContent=f.states[i];
  });
  root.querySelector('.agc-prev').disabled=(k===0);
  root.querySelector('.agc-next').disabled=(k===n-1);
}
root.querySelector('.agc-prev').addEventListener('click',function(){show(k-1);});
root.querySelector('.agc-next').addEventListener('click',function(){show(k+1);});
root.addEventListener('keydown',function(ev){
  if(ev.key==='ArrowRight'){show(k+1);ev.preventDefault();}
  if(ev.key==='ArrowLeft'){show(k-1);ev.preventDefault();}
});
show(0);
})();
"""

_GRAPH_MAX = 60


def _svg(t: Trace) -> str:
    import math

    n = len(t.objects)
    if n == 0 or n > _GRAPH_MAX:
        return ""
    r_node = 22
    radius = max(120.0, n * 70 / (2 * math.pi))
    size = 2 * (radius + r_node + 40)
    cx = cy = size / 2
    pos = []
    for i in range(n):
        a = 2 * math.pi * i / n - math.pi / 2
        pos.append((cx + radius * math.cos(a), cy + radius * math.sin(a)))
    seen = set()
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size:.0f} {size:.0f}" '
        f'width="{size:.0f}" style="max-width:100%;height:auto" role="img" '
        'aria-label="the traced objects and their references">'
        '<defs><marker id="agc-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="currentColor"/></marker></defs>'
    ]
    for _p, kind, a, b in t._items:
        if kind != "decref" or (a, b) in seen or a == b:
            continue
        seen.add((a, b))
        (x1, y1), (x2, y2) = pos[a], pos[b]
        d = math.hypot(x2 - x1, y2 - y1) or 1.0
        ux, uy = (x2 - x1) / d, (y2 - y1) / d
        # a slight bend so that a -> b and b -> a do not overlap
        mx, my = (x1 + x2) / 2 - uy * 14, (y1 + y2) / 2 + ux * 14
        sx, sy = x1 + ux * r_node, y1 + uy * r_node
        ex, ey = x2 - ux * (r_node + 2), y2 - uy * (r_node + 2)
        parts.append(
            f'<path data-edge="{a}-{b}" d="M{sx:.1f},{sy:.1f} Q{mx:.1f},{my:.1f} '
            f'{ex:.1f},{ey:.1f}" fill="none" stroke="currentColor" stroke-width="1" '
            'opacity="0.45" marker-end="url(#agc-arrow)"/>'
        )
    for o in t.objects:
        x, y = pos[o.index]
        parts.append(
            f'<g data-node="{o.index}"><title>{html.escape(o.label)} '
            f"{html.escape(o.repr or '')}</title>"
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r_node}" fill="none" '
            'fill-opacity="0.35" stroke="currentColor"/>'
            f'<text class="agc-refs" x="{x:.1f}" y="{y + 5:.1f}" text-anchor="middle" '
            'font-size="15" font-weight="bold" fill="currentColor"></text>'
            f'<text x="{x:.1f}" y="{y - r_node - 6:.1f}" text-anchor="middle" font-size="11" '
            f'fill="currentColor">{html.escape(o.label[:18])}</text>'
            f'<text class="agc-state" x="{x:.1f}" y="{y + r_node + 13:.1f}" '
            'text-anchor="middle" font-size="10" fill="currentColor"></text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _legend(t: Trace) -> str:
    keys = ["tentative", "reachable", "unreachable", "legacy", "resurrected", "freed"]
    if any(o.untracked_alive or _UNTRACKED_ALIVE in o.states for o in t.objects):
        keys.append(_UNTRACKED_ALIVE)
    spans = []
    for k in keys:
        dash = ' stroke-dasharray="2 2"' if k == "freed" else ""
        spans.append(
            '<span style="white-space:nowrap"><svg width="12" height="12" aria-hidden="true">'
            f'<circle cx="6" cy="6" r="5" fill="{_STATE_FILL[k]}" fill-opacity="0.35" '
            f'stroke="currentColor"{dash}/></svg> {k}</span>'
        )
    return (
        '<p style="font-size:0.85em;margin:.2em 0">the number in a node is its gc_refs; '
        + " ".join(spans)
        + "</p>"
    )


_JSON_IN_SCRIPT = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


def _html_fragment(t: Trace) -> str:
    uid = f"altgc-trace-{next(_COUNTER)}-{id(t):x}"
    data = {"frames": _frames(t)}
    # Inside <script> "<!--" and "<script" change how the parser looks for
    # the closing tag (a type name may hold them): no "<", ">", "&" at all.
    payload = json.dumps(data).translate(_JSON_IN_SCRIPT)
    rows = "".join(
        f'<tr data-row="{o.index}"><td style="padding:1px 12px 1px 0">{html.escape(o.label)} '
        f"<code>{html.escape((o.repr or '')[:40])}</code></td><td></td><td></td></tr>"
        for o in t.objects
    )
    button = (
        "font:inherit;color:inherit;background:transparent;border:1px solid currentColor;"
        "border-radius:4px;padding:2px 10px;margin-right:6px;cursor:pointer"
    )
    return (
        f'<div id="{uid}" class="altgc-trace" tabindex="0" style="outline:none">'
        f'<script type="application/json">{payload}</script>'
        f'<div><button type="button" class="agc-prev" style="{button}">&#9664; previous</button>'
        f'<button type="button" class="agc-next" style="{button}">next &#9654;</button>'
        '<span class="agc-step" style="font-weight:bold"></span></div>'
        '<p class="agc-text" style="min-height:2.6em;margin:.4em 0"></p>'
        f"{_svg(t)}{_legend(t)}"
        '<table style="border-collapse:collapse;font-size:0.9em;margin:.5em 0">'
        "<thead><tr><th style='text-align:left'>object</th><th>gc_refs</th><th>state</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
        '<pre class="altgc-text" style="white-space:pre-wrap;font-size:0.85em">'
        f"{html.escape(str(t))}</pre>"
        f"<script>{_SCRIPT % {'uid': uid, 'fills': json.dumps(_STATE_FILL)}}</script></div>"
    )


def trace(
    *objects: object,
    generation: int | None = None,
    collect: bool = False,
    limit: int = DEFAULT_LIMIT,
) -> Trace:
    """Run altgc's collector on the registered objects (and on ``objects``,
    registered for the trace only) and record every step.

    ``generation``: the collection's generation (it examines generations
    ``0..generation``); by default the oldest generation holding one of
    ``objects``, or 2 without objects.  By default nothing is finalized or
    freed (as :func:`altgc.find_unreachable`); ``collect=True`` then really
    collects, as :func:`altgc.collect` (finalizers, weakref callbacks,
    ``tp_clear``, promotion).  Objects the trace registered are unregistered
    afterwards; the registry and the counts are left as they were (unless
    ``collect=True``).

    The references ``trace()``'s own arguments hold are not counted: an
    object reachable only through them is garbage.  Names in the caller
    *do* count: ``trace(a, b)`` with ``a`` and ``b`` bound shows them
    reachable, held from outside (the caller's frame is not examined).  To
    watch garbage, register the objects, ``del`` the names and call
    ``trace(generation=0)`` (below), or pass objects no name holds,
    ``trace(*make())`` (on 3.11, ``f(*seq)`` keeps a second tuple of the
    arguments on the caller's stack during the call, which counts).

    Raises ValueError when more than ``limit`` objects would be examined
    (naming both numbers), TypeError naming the position of an argument
    that is not a container.

    >>> import altgc
    >>> a = []; b = [a]; a.append(b)      # a cycle
    >>> c = []; keep = [c]                # c is held by `keep`
    >>> for o in (a, b, c):
    ...     altgc.track(o)
    >>> del a, b, c, o                    # now only the cycle holds a and b
    >>> t = altgc.trace(generation=0)     # look only: nothing is freed
    >>> [t.by_id(i).type for i in t.unreachable]
    ['list', 'list']
    >>> a_ = t.objects[0]
    >>> a_.refcount, a_.gc_refs[:2]       # gc_refs after update_refs, subtract_refs
    (1, (1, 0))
    >>> t.objects[2].held_from_outside, t.objects[2].gc_refs[1]   # c: `keep` holds it
    (True, 1)
    >>> print(t)                          # doctest: +ELLIPSIS
    altgc trace of generation 0 (look only, nothing freed): 3 examined, 2 unreachable
    ...
    >>> altgc.collect(0)
    2
    """
    if generation is not None and (isinstance(generation, bool) or not isinstance(generation, int)):
        raise TypeError(
            f"trace() argument 'generation' must be int or None, not {type(generation).__name__}"
        )
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"trace() argument 'limit' must be int, not {type(limit).__name__}")
    if limit < 0:
        raise ValueError(f"trace() argument 'limit' must be >= 0, not {limit}")
    # Any limit beyond what the C core counts in (a Py_ssize_t) is none.
    limit = min(limit, sys.maxsize)
    if not isinstance(collect, bool):
        raise TypeError(f"trace() argument 'collect' must be bool, not {type(collect).__name__}")
    raw = _core._trace(objects if objects else None, generation, collect, limit)
    return Trace(raw, requested=generation is not None)
