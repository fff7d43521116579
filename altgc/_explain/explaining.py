"""``explain()`` and ``survivors()``: why an object is still alive.

For a live object: the named roots and altgc's own frames are collected,
the heap index searched for the shortest paths, the references nobody
visible accounts for counted, and the cause decided.  For a watched object
that died: when, and whether the memory went back to the system.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import sys
import tracemalloc
import types
from typing import Any

from .. import _core
from . import watching
from .explanation import CAUSES, Explanation, fmt_bytes
from .frames import (
    frame_locals,
    is_function_frame,
    other_thread_frames,
    own_frames,
    stack_frames,
)
from .paths import describe_path, find_paths, names_remembered, pending_task, prefer_owner
from .picture import find_cycle
from .releasing import build_release
from .roots import Root, altgc_own, named_roots
from .watching import WatchRecord, _check_bool

_IMMORTAL_REFCNT = 1 << 29


def _never_freed(obj: Any, refcount: int) -> bool:
    """Whether the interpreter never frees ``obj`` (borrowed): immortal from
    3.12 on (its count pinned at 2**29 or more); on 3.11, one of the
    objects allocated statically, which are never freed though their
    counts move: None, True, False, Ellipsis, NotImplemented, the empty
    tuple, the small ints (-5 to 256) and the static types (int, object,
    ...).  Everything refers to them, so asking what holds one has no
    useful answer."""
    if refcount >= _IMMORTAL_REFCNT:
        return True
    if sys.version_info >= (3, 12):
        return False
    if any(obj is s for s in (None, True, False, Ellipsis, NotImplemented)):
        return True
    if type(obj) is tuple:
        return not obj  # 3.11 has one empty tuple
    if issubclass(type(obj), type):  # (not isinstance: it would read __class__)
        return not _TYPE_FLAGS.__get__(obj) & _HEAPTYPE  # (a metaclass's own __flags__ skipped)
    return type(obj) is int and -5 <= obj <= 256 and obj is _SMALL_INTS[obj + 5]


_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE
_TYPE_FLAGS = type.__dict__["__flags__"]
#: the runtime's small ints (range() hands out the cached objects)
_SMALL_INTS = list(range(-5, 257))
#: references explain()'s entry holds on an object given directly
_entry_refs: int | None = None
#: references _watched_object_box() holds on a watched object
_label_refs: int | None = None
#: The last answer, for ``explain(refresh=False)``: the object's identity
#: and reference count, each path as the addresses along it, and the
#: answer (ids, counts and strings: it holds no reference).
_last: tuple[tuple[Any, ...], list[tuple[int, str, list[int]]], Explanation] | None = None


def _entry_refcount_probe(obj: Any) -> int:
    """The reference count explain() sees on its argument once boxed, for a
    fresh object (the caller's argument, the box, getrefcount's own): this
    mirrors explain()'s first lines."""
    box = [obj]
    del obj
    return sys.getrefcount(box[0])


def explain(
    obj_or_label: Any, max_paths: int = 3, *, literal: bool = False, refresh: bool = True
) -> Explanation:
    """Why is this object (or the watched ``label``) still alive?

    A ``str`` argument is a label given to :func:`watch` (``KeyError``
    listing the known labels if there is none) unless ``literal=True``,
    which explains the string object itself.  Any other object is
    explained as itself: a ``weakref.proxy`` (dead or alive) is the proxy
    object, not what it refers to.  ``max_paths`` bounds the reference
    paths reported (shortest first, one per named root).
    ``refresh=False`` gives the last answer again when it was about the
    same object, whose reference count did not change, and every step of
    its paths still holds (followed again from the live roots); else it
    reuses the heap index built by the previous call when it still fits.

    >>> import altgc
    >>> class Config:
    ...     pass
    >>> Config.table = [1, 2]
    >>> e = altgc.explain(Config.table)
    >>> e.cause, e.release.endswith(".table")     # del Config.table
    ('class_attribute', True)
    >>> altgc.explain("no-such-label")
    Traceback (most recent call last):
    ...
    KeyError: "explain(): no watched object is labelled 'no-such-label'; known labels: ..."
    """
    max_paths = _check_max_paths(max_paths, "explain")
    _check_bool(literal, "explain", "literal")
    _check_bool(refresh, "explain", "refresh")
    # type(), not isinstance(): that reads __class__, which a dead
    # weakref.proxy (or a property) makes raise
    if issubclass(type(obj_or_label), str) and not literal:
        return _explain_label(obj_or_label, max_paths, refresh)
    box = [obj_or_label]
    del obj_or_label
    return _explain_boxed(box, None, max_paths, refresh, given_directly=True)


#: the C path search counts in a C int; no heap has this many named roots
_MAX_PATHS = 2**31 - 1


def _check_max_paths(max_paths: Any, fn: str) -> int:
    """``max_paths`` checked for ``fn()``: an int >= 1, cut to _MAX_PATHS
    (a larger bound reports every path, as that one does)."""
    if type(max_paths) is bool or not issubclass(type(max_paths), int):
        raise TypeError(f"{fn}() argument 'max_paths' must be int, not " + type(max_paths).__name__)
    if max_paths < 1:
        raise ValueError(f"{fn}() argument 'max_paths' must be >= 1")
    return min(int(max_paths), _MAX_PATHS)


def _explain_label(label: str, max_paths: int, refresh: bool) -> Explanation:
    w = watching.watches.get(label)
    if w is None:
        known = ", ".join(repr(k) for k in watching.watches) or "none"
        raise KeyError(f"explain(): no watched object is labelled {label!r}; known labels: {known}")
    box = _watched_object_box(w.token)
    if box is None:
        return _explain_freed(w)
    return _explain_boxed(box, w, max_paths, refresh, given_directly=False)


def _watched_object_box(token: int) -> list[Any] | None:
    """The watched object in a one-item list (None when it died)."""
    obj = _core._watch_get(token)
    if obj is None and not _core._watch_state(token)[0]:
        return None  # (not a watched None, which is alive)
    box = [obj]
    del obj
    return box


def _label_baseline() -> int:
    """The references _watched_object_box() leaves on the object it boxes
    (the box's and getrefcount's own argument)."""
    global _label_refs
    if _label_refs is None:
        probe = object()
        token = _core._watch_add(probe)
        try:
            box = _watched_object_box(token)
            assert box is not None
            rc = sys.getrefcount(box[0])
            del box
        finally:
            _core._watch_discard(token)
        _label_refs = rc - 1  # less the probe's own local
    return _label_refs


def _explain_freed(w: WatchRecord) -> Explanation:
    """A watched object that died: when, and whether its memory went back
    to the system."""
    _alive, death = _core._watch_state(w.token)
    ago = (_core._now_ns() - death) / 1e9
    rss_now = watching.process_rss()
    notes = []
    cause, release, release_note = "freed", "", ""
    if w.size >= 1 << 20 and w.rss and rss_now > w.rss - w.size // 2:
        cause = "freed_rss"
        notes.append(
            f"the process's RSS is {fmt_bytes(rss_now)} (was "
            f"{fmt_bytes(w.rss)} when watched): the {fmt_bytes(w.size)} went "
            "back to Python's or the C library's allocator, which keeps it "
            "for later allocations instead of returning it to the system"
        )
        release = 'import ctypes; ctypes.CDLL("libc.so.6").malloc_trim(0)'
        release_note = (
            "nothing to free in Python; the release code hands the "
            "allocator's free memory back to the system"
        )
    if tracemalloc.is_tracing():
        cur, _peak = tracemalloc.get_traced_memory()
        notes.append(f"tracemalloc traces {fmt_bytes(cur)} in use")
    return Explanation(
        w.label,
        w.type_name,
        False,
        cause,
        CAUSES[cause],
        release,
        freed_seconds_ago=ago,
        notes=tuple(notes),
        release_note=release_note,
    )


def _explain_boxed(
    box: list[Any],
    w: WatchRecord | None,
    max_paths: int,
    refresh: bool,
    given_directly: bool,
) -> Explanation:
    """Explain ``box[0]``; afterwards drop every reference this took.

    ``given_directly``: the object was explain()'s argument (its caller's
    call still holds it), not looked up by label.
    """
    my_frames: list[Any] = []
    roots: list[Any] = []
    try:
        my_frames.extend(own_frames())
        objs, infos = named_roots(my_frames)
        roots.extend(objs)
        del objs
        exclude = [box, roots, infos, my_frames, *my_frames]
        try:
            return _diagnose(
                box, w, max_paths, refresh, given_directly, my_frames, roots, infos, exclude
            )
        finally:
            exclude.clear()  # it holds our frames, which hold it
    finally:
        # my_frames holds this very frame: break the cycle so the target
        # (and the roots) are not kept alive until the next collection.
        my_frames.clear()
        roots.clear()
        box.clear()


@names_remembered()  # a class's candidate attribute names gathered once
def _diagnose(
    box: list[Any],
    w: WatchRecord | None,
    max_paths: int,
    refresh: bool,
    given_directly: bool,
    my_frames: list[Any],
    roots: list[Any],
    infos: list[Root],
    exclude: list[Any],
) -> Explanation:
    """Find the paths to ``box[0]``, count the references nobody visible
    accounts for, and decide the cause and the release command."""
    global _entry_refs
    if _entry_refs is None:
        _entry_refs = _entry_refcount_probe(object())
    # references held by explain's own frames at entry
    own = _entry_refs if given_directly else _label_baseline()
    global _last
    key = (
        id(box[0]),
        id(type(box[0])),
        sys.getrefcount(box[0]),
        given_directly,
        max_paths,
        w.label if w is not None else None,
    )
    if not refresh:
        again = _answer_again(box, roots, infos, key)
        if again is not None:
            return again
    _last = None
    idx, result = find_paths(box, roots, exclude, max_paths, refresh)
    label = w.label if w is not None else _default_label(box[0])
    type_name = type(box[0]).__name__
    raw_paths, stale, anon, reachable, indeg, gen = result
    # altgc's own modules last (its alias of gc.garbage): the user's names first
    raw_paths.sort(key=lambda item: (altgc_own(infos[item[0]]), len(item[1]), item[0]))
    # a library's state by its own module (logging's loggers through logging)
    prefer_owner(box[0], raw_paths, roots, infos)
    del raw_paths[max_paths:]
    paths = tuple(describe_path(objs, infos[pos]) for pos, objs in raw_paths)
    followed = [(id(roots[pos]), infos[pos].name, [id(o) for o in objs]) for pos, objs in raw_paths]
    path_holders = [objs[-2] for _, objs in raw_paths if len(objs) >= 2]
    shown = {id(o) for _, objs in raw_paths for o in objs}
    notes: list[str] = []
    task = next((t for _, objs in raw_paths[:1] for o in objs if (t := pending_task(o))), None)
    if task is not None:
        notes.append(
            f"{task[0]} holds it: task.cancel() frees it only once the loop runs again "
            "(then loop.run_until_complete(asyncio.sleep(0))); while the loop is stopped, "
            "loop.close() drops its ready callbacks and timers, and with them the Task "
            "unless something else holds it"
        )
    del raw_paths, result, task  # they hold the path's objects
    # References nobody visible accounts for: the count now, less our own
    # (calibrated), the heap's, the named-roots list's, and the running
    # functions' locals (running frames do not traverse them).
    rc = sys.getrefcount(box[0])
    in_roots = sum(1 for r in roots if r is box[0])
    # a signal handler: the signal module's C state holds it too, once a signal
    in_roots += sum(
        1
        for r, info in zip(roots, infos, strict=True)
        if r is box[0] and info.kind == "signal_handler"
    )
    mine = {id(x) for x in my_frames}
    frame_refs = sum(
        1
        for f in [*stack_frames(), *(g for _, g in other_thread_frames())]
        if is_function_frame(f) and id(f) not in mine
        for _, v in frame_locals(f)
        if v is box[0]
    )
    immortal = _never_freed(box[0], rc)
    unexplained = 0 if immortal else max(0, rc - own - indeg - frame_refs - in_roots)
    if immortal:
        notes.append(
            "it is immortal (the interpreter never frees it)"
            if rc >= _IMMORTAL_REFCNT
            else "3.11 allocates it statically and never frees it"
        )
    # The build counted our own references as external: correct that for
    # the dominator tree (retained sizes).
    _core._hg_set_external(box[0], bool(unexplained or frame_refs or immortal))
    ret = _core._hg_retained(box[0])
    retained_objects, retained_bytes = ret if ret is not None else (None, None)
    status, generation, notable = _collector_status(box[0], gen)
    in_cycle = not reachable and not paths and unexplained == 0 and not immortal
    if immortal:
        release, release_note = "", "the interpreter never frees it: no code can release it"
    else:
        release, release_note = build_release(
            box, roots, infos, exclude, path_holders, unexplained, in_cycle, shown
        )
    path_holders.clear()
    if paths:
        cause = paths[0].cause
    elif immortal:
        cause = "unknown"
    elif unexplained:
        cause = "c_extension"
    elif in_cycle:
        cause = "cycle"
    else:
        cause = "unknown"
        if anon is not None:
            notes.append(
                f"the nearest holder the index sees is {anon} "
                "reference(s) away and has no name (an object "
                "held from outside the tracked heap)"
            )
            held = _outside_held_callable(box, anon, [roots, infos, exclude, my_frames])
            if held is not None:
                what, spelled = held
                notes.append(
                    f"that holder is {what}, which nothing in Python's heap refers to: "
                    "C state keeps it, such as an atexit.register() registration, "
                    "a C extension's callback or a thread; if atexit registered it, "
                    f"atexit.unregister({spelled}) releases it"
                )
    if unexplained and paths:
        notes.append(f"also {unexplained} reference(s) from outside Python's heap (a C extension?)")
    if stale:
        notes.append(f"{stale} path(s) changed while explaining")
    # the shortest reference cycle through it, drawn with the paths
    cycle = find_cycle(box[0], 5000) if gc.is_tracked(box[0]) and not immortal else None
    cause_text = CAUSES[cause]
    if cause == "c_extension":
        cause_text += f" ({unexplained} reference(s) unaccounted for)"
    answer = Explanation(
        label,
        type_name,
        True,
        cause,
        cause_text,
        release,
        paths,
        retained_bytes,
        retained_objects,
        in_cycle,
        generation,
        status if in_cycle or notable else "",
        unexplained,
        None,
        tuple(notes),
        idx,
        release_note,
        cycle,
    )
    if not stale:
        _last = (key, followed, answer)
    return answer


#: how many objects :func:`_outside_held_callable` looks at, at most
_MAX_OUTSIDE_SEARCH = 64


def _outside_held_callable(box: list[Any], hops: int, mine: list[Any]) -> tuple[str, str] | None:
    """The callable (a function, a ``functools.partial``, a bound method)
    ``hops`` references above ``box[0]`` that nothing in the heap refers
    to, when there is one: how to name it, and how the user would spell it
    in ``atexit.unregister()``.  Found by ``gc.get_referrers``, and among
    the builtin gc's frozen objects (``gc.freeze()``), where it does not
    look: atexit's own list is one in a frozen heap; ``mine``
    (and this function's own lists, kept until it returns so that no other
    object takes their addresses) are not referrers."""
    kept: list[list[Any]] = []
    own = {id(box), id(kept), *(id(x) for x in mine)}

    def referrers(obj: Any) -> list[Any]:
        refs = gc.get_referrers(obj) + _core._builtin_frozen_referrers(obj)
        kept.append(refs)
        own.add(id(refs))
        out = [r for r in refs if id(r) not in own]
        kept.append(out)
        own.add(id(out))
        return out

    def held_from_outside(fn: Any) -> bool:
        # Nothing in the heap refers to it (atexit up to 3.13 keeps C
        # structs), or only 3-tuples (fn, args, kwargs) in lists nothing
        # refers to (atexit from 3.14 on: a list of such tuples).
        # (Plain loops: a generator over fn would hold it in a cell.)
        for r in referrers(fn):
            if type(r) is not tuple or len(r) != 3 or r[0] is not fn:
                return False
            for top in referrers(r):
                if type(top) is not list or referrers(top):
                    return False
        return True

    level: list[Any] = [box[0]]
    levels = [level]
    kept.extend((level, levels))
    own.update((id(level), id(levels)))
    seen = {id(box[0])}
    try:
        for _ in range(hops):
            above: list[Any] = []
            kept.append(above)
            own.add(id(above))
            for obj in level:
                for r in referrers(obj):
                    if id(r) not in seen:
                        seen.add(id(r))
                        above.append(r)
            if not above or len(seen) > _MAX_OUTSIDE_SEARCH:
                return None
            level = above
            levels.append(level)
        for level in reversed(levels):
            for obj in level:
                if _is_callback(obj) and held_from_outside(obj):
                    return _callback_names(obj)
        return None
    finally:
        kept.clear()


def _is_callback(obj: Any) -> bool:
    """Whether ``obj`` is a callable C state registers: a function, a
    ``functools.partial`` or a bound method."""
    t = type(obj)
    return t in (types.FunctionType, types.MethodType) or issubclass(t, functools.partial)


def _callback_names(fn: Any) -> tuple[str, str]:
    """How to name the callable ``fn``, and its spelling for the user (the
    same object, or an equal one: a bound method of the same instance)."""
    t = type(fn)
    if t is types.FunctionType:
        return f"the function {fn.__qualname__}", fn.__qualname__
    if t is types.MethodType:
        func = fn.__func__
        name = func.__name__ if type(func) is types.FunctionType else "<method>"
        owner = type(fn.__self__).__name__
        article = "an" if owner[:1] in tuple("AEIOUaeiou") else "a"
        return (
            f"the bound method {owner}.{name} of {article} {owner} instance",
            f"<that {owner}>.{name}",
        )
    func = functools.partial.__dict__["func"].__get__(fn)
    name = func.__qualname__ if type(func) is types.FunctionType else type(func).__name__
    return f"a functools.partial of {name}", f"<that partial of {name}>"


def _answer_again(
    box: list[Any], roots: list[Any], infos: list[Root], key: tuple[Any, ...]
) -> Explanation | None:
    """The last answer again, if it was about this object (same address,
    type and reference count: no holder came or went) and every step of
    its paths still holds, followed again from the live roots; else None.
    The paths are described anew from the objects found."""
    if _last is None or _last[0] != key:
        return None
    _key, followed, answer = _last
    paths = []
    for root_id, root_name, addrs in followed:
        pos = next(
            (i for i, r in enumerate(roots) if id(r) == root_id and infos[i].name == root_name),
            None,
        )
        if pos is None:
            return None
        objs = _core._hg_follow(roots[pos], addrs)
        if objs is None or objs[-1] is not box[0]:
            return None
        paths.append(describe_path(objs, infos[pos]))
        del objs
    return dataclasses.replace(answer, paths=tuple(paths))


def _default_label(obj: Any) -> str:
    return f"{type(obj).__name__} at {id(obj):#x}"


def _collector_status(obj: Any, gen: int) -> tuple[str, Any, bool]:
    """What the builtin gc and altgc will do about ``obj``, in words; its
    builtin gc generation; and whether the words are worth showing for an
    object that is not waiting in an unreachable cycle.

    ``gen`` is the builtin gc's generation the heap index saw it in, 3 for
    none.  Tracked in none is frozen, or being examined by a builtin
    collection running now (which takes the generations it collects off
    their lists), or, in install mode, adopted by altgc (which parks what
    it adopts in the builtin gc's permanent generation).
    """
    parts = []
    generation: Any = None
    notable = False
    if _core._install_info()["installed"]:
        # The builtin gc collects nothing while altgc is installed, and
        # altgc's is_tracked adopts first: tracked by the builtin gc alone
        # is frozen by the builtin gc.freeze() before install().
        if gc.is_tracked(obj) and not _core.is_tracked(obj):
            generation = "frozen"
            notable = True
            parts.append(
                "it was frozen (gc.freeze()) before altgc.install(): "
                "neither collector examines it until altgc.uninstall()"
            )
    elif gen < 3:
        generation = gen
        if not gc.isenabled():
            parts.append(
                f"the builtin gc holds it in generation {gen} but "
                "is disabled: nothing collects it until "
                "gc.enable() or gc.collect()"
            )
        else:
            count, thr = gc.get_count(), gc.get_threshold()
            allocs = max(0, thr[0] - count[0])
            for g in range(1, gen + 1):
                allocs += max(0, thr[g] - count[g] - 1) * thr[0] * (thr[1] if g == 2 else 1)
            parts.append(
                f"the builtin gc holds it in generation {gen}: "
                f"scanned after about {allocs} more allocations"
                + (" (and only once enough long-lived objects accumulate)" if gen == 2 else "")
            )
    elif gc.is_tracked(obj):
        if _core._builtin_frozen(obj):
            generation = "frozen"
            notable = True
            parts.append(
                "it is frozen (gc.freeze()): the builtin gc never collects it until gc.unfreeze()"
            )
        elif _core._builtin_collecting():
            notable = True
            parts.append(
                "the builtin gc is examining it in a collection running now "
                "(this explanation runs from that collection's finalizer or callback)"
            )
    if _core.is_tracked(obj):
        ag = next((g for g in range(3) if any(o is obj for o in _core.get_objects(g))), None)
        if ag is None:
            parts.append("altgc tracks it in its frozen generation")
        elif not _core.isenabled():
            parts.append(f"altgc tracks it (generation {ag}) but automatic collection is disabled")
        else:
            c, t = _core.get_count(), _core.get_threshold()
            parts.append(
                f"altgc tracks it in generation {ag} "
                f"({max(0, t[0] - c[0])} allocations until its next "
                "young collection)"
            )
    return "; ".join(parts), generation, notable


def survivors(max_paths: int = 1) -> list[Explanation]:
    """Every watched object still alive after its last name was deleted.

    A watched object whose name (recorded by :func:`watch`) is still bound
    to it is not a survivor; one watched without a name is a survivor as
    long as it lives.  One explanation each, from one heap index.

    >>> import altgc
    >>> keep = {}
    >>> item = [1]
    >>> keep["item"] = item
    >>> altgc.watch(item, "item")
    >>> del item
    >>> [(e.label, e.paths[0].expr.endswith("['item']"))
    ...  for e in altgc.survivors() if e.label == "item"]
    [('item', True)]
    >>> altgc.unwatch("item")
    """
    max_paths = _check_max_paths(max_paths, "survivors")
    out = []
    first = True
    for w in list(watching.watches.values()):
        obj = _core._watch_get(w.token)
        if obj is None:
            continue
        if any(ns.get(name) is obj for ns, name in w.names):
            del obj
            continue
        del obj
        out.append(explain(w.label, max_paths, refresh=first))
        first = False
    return out
