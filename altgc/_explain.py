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
    >>> e.release.startswith("del ") and e.release.endswith("['rows']")
    True

The heap is indexed in C (``altgc._core``, see ``src/heapgraph.c``): every
object the builtin gc tracks plus what they reference, in compressed sparse
rows, with a dominator tree for retained sizes.  The index holds no
reference; paths are re-checked on the live objects before they are
reported.
"""

from __future__ import annotations

import dataclasses
import gc
import html
import json
import os
import re
import sys
import time
import types
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import _core

__all__ = [
    "watch", "unwatch", "watched", "explain", "survivors", "heap_index",
    "Explanation", "RefPath", "WatchInfo", "HeapIndex", "CAUSES",
]

#: The causes :func:`explain` names (DESIGN §6), with their wording.
CAUSES: Dict[str, str] = {
    "name": "another name or container holds it",
    "local": "a local variable of a running function holds it",
    "closure": "a closure cell holds it",
    "class_attribute": "a class attribute holds it",
    "output_cache": "IPython's output cache holds it",
    "traceback": "a stored exception traceback holds it (a local of a "
                 "frame of the failed code)",
    "cycle": "it is only in an unreachable reference cycle that has not "
             "been collected yet",
    "garbage": "it sits in the uncollectable garbage list",
    "lru_cache": "an functools.lru_cache holds it",
    "matplotlib": "a matplotlib pyplot figure manager holds it (the figure "
                  "is still open)",
    "c_extension": "something outside Python's heap (a C extension) holds "
                   "a reference to it",
    "unknown": "a reference altgc could not name holds it",
    "freed": "it was freed",
    "freed_rss": "it was freed, but the process's memory (RSS) did not drop",
}

_PROGRESS_OBJECTS = 4_000_000   # indexing more objects takes > ~2 s


# ---------------------------------------------------------------------------
# watch
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class _Watch:
    token: int
    label: str
    type_name: str
    size: int
    rss: int
    names: List[Tuple[Dict[str, Any], str]]   # (namespace, name) bound then
    watched_at: float


_watches: Dict[str, _Watch] = {}


@dataclasses.dataclass(frozen=True)
class WatchInfo:
    """State of one watched object, as :func:`watched` lists it."""

    label: str
    type_name: str
    alive: bool
    #: seconds between the object's death and this report (None: alive)
    freed_seconds_ago: Optional[float]
    #: ``sys.getsizeof`` of the object when it was watched
    size: int

    def __str__(self) -> str:
        state = ("alive" if self.alive else
                 f"freed {self.freed_seconds_ago:.1f} s ago")
        return f"{self.label} ({self.type_name}): {state}"


def _rss() -> int:
    """Resident set size of this process in bytes (0 if unknown)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):   # pragma: no cover - not Linux
        try:
            import resource
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        except Exception:
            return 0


def watch(obj: object, label: Optional[str] = None) -> None:
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
    if label is not None and not isinstance(label, str):
        raise TypeError("watch() argument 'label' must be str or None, not "
                        + type(label).__name__)
    frame = sys._getframe(1)
    names = _bound_names(frame, obj)
    if label is None:
        label = names[0][1] if names else (
            f"{type(obj).__name__} at {id(obj):#x}")
    if label == "":
        raise ValueError("watch() argument 'label' must not be empty")
    try:
        size = sys.getsizeof(obj)
    except Exception:
        size = 0
    token = _core._watch_add(obj)
    old = _watches.pop(label, None)
    if old is not None:
        _core._watch_discard(old.token)
    _watches[label] = _Watch(token, label, type(obj).__name__, size, _rss(),
                             names, time.time())
    del frame


def _frame_locals(frame: Any) -> List[Tuple[str, Any]]:
    """(name, value) of a frame's bound locals.

    Not ``frame.f_locals``: before 3.13 that caches a dict of the locals in
    the frame -- a new reference to each, outliving a later ``del`` -- so
    the C core reads them (see ``src/framelocals.c``).
    """
    pairs = _core._frame_locals(frame)
    if pairs is None:                  # 3.13+: a proxy, nothing cached
        pairs = list(frame.f_locals.items())
    return pairs


def _bound_names(frame: Any, obj: object) -> List[Tuple[Dict[str, Any], str]]:
    """The (namespace, name) pairs binding ``obj`` in ``frame``: its
    globals, and (with an empty namespace: not re-checked later) the locals
    of a function frame."""
    out = []
    for k, v in list(frame.f_globals.items()):
        if v is obj and isinstance(k, str) and not k.startswith("_"):
            out.append((frame.f_globals, k))
    if frame.f_code.co_flags & 0x1:    # CO_OPTIMIZED: a function
        for k, v in _frame_locals(frame):
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
    w = _watches.pop(_check_label(label, "unwatch"), None)
    if w is None:
        raise KeyError(f"unwatch() argument 'label': no watched object is "
                       f"labelled {label!r}")
    _core._watch_discard(w.token)


def _check_label(label: object, fn: str) -> str:
    if not isinstance(label, str):
        raise TypeError(f"{fn}() argument 'label' must be str, not "
                        + type(label).__name__)
    return label


def watched() -> List[WatchInfo]:
    """Every watched label with its state, oldest first.

    >>> import altgc
    >>> isinstance(altgc.watched(), list)
    True
    """
    now = _core._now_ns()
    out = []
    for w in _watches.values():
        alive, death = _core._watch_state(w.token)
        out.append(WatchInfo(w.label, w.type_name, alive,
                             None if alive else (now - death) / 1e9, w.size))
    return out


# ---------------------------------------------------------------------------
# named roots
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class _Root:
    kind: str          # a CAUSES key
    name: str          # how a user spells it: "Out", "module m", ...
    expr: str          # expression for the root object itself
    release: str       # command releasing "<expr><step>", {step} filled in


def _ipython_shell() -> Any:
    mod = sys.modules.get("IPython")
    if mod is None:
        return None
    try:
        return mod.get_ipython()
    except Exception:
        return None


def _named_roots(skip_frames: Sequence[Any]) -> Tuple[List[Any], List[_Root]]:
    """The named roots: two parallel lists (objects, descriptions).

    Only plain lists are made here (the caller excludes them from the heap
    index), so no new container refers to the target.
    """
    objs: List[Any] = []
    infos: List[_Root] = []

    def add(obj: Any, info: _Root) -> None:
        if obj is None:
            return
        objs.append(obj)
        infos.append(info)

    shell = _ipython_shell()
    if shell is not None:
        user_ns = getattr(shell, "user_ns", None) or {}
        out = user_ns.get("Out")
        add(out, _Root("output_cache", "IPython output cache", "Out",
                       "del Out{step}"))
        hist = getattr(shell, "history_manager", None)
        oh = getattr(hist, "output_hist", None)
        if oh is not None and oh is not out:
            add(oh, _Root("output_cache", "IPython output cache", "_oh",
                          "del _oh{step}"))
        dh = getattr(shell, "displayhook", None)
        add(dh, _Root("output_cache", "IPython displayhook",
                      "get_ipython().displayhook", "%reset -f out"))
        ler = getattr(shell, "last_execution_result", None)
        if ler is not None:
            add(ler, _Root("output_cache", "IPython last execution result",
                           "get_ipython().last_execution_result",
                           "%reset -f out"))
        itb = getattr(shell, "InteractiveTB", None)
        if itb is not None:
            add(itb, _Root("traceback", "IPython's stored traceback",
                           "get_ipython().InteractiveTB",
                           "get_ipython().InteractiveTB.tb = None; "
                           "%reset -f"))
        hidden = getattr(shell, "user_ns_hidden", None)
        if hidden is not None:
            add(hidden, _Root("output_cache", "IPython hidden namespace",
                              "get_ipython().user_ns_hidden",
                              "%reset -f out"))
    for attr in ("last_exc", "last_value", "last_traceback"):
        v = getattr(sys, attr, None)
        if v is not None:
            add(v, _Root("traceback", f"sys.{attr}", f"sys.{attr}",
                         "sys.last_exc = sys.last_value = "
                         "sys.last_traceback = None"))
    add(gc.garbage, _Root("garbage", "gc.garbage", "gc.garbage",
                          "gc.garbage.clear()"))
    add(_core.garbage, _Root("garbage", "altgc.garbage", "altgc.garbage",
                             "altgc.garbage.clear()"))
    ph = sys.modules.get("matplotlib._pylab_helpers")
    figs = getattr(getattr(ph, "Gcf", None), "figs", None)
    if figs is not None:
        add(figs, _Root("matplotlib", "pyplot's open figures",
                        "matplotlib._pylab_helpers.Gcf.figs",
                        "plt.close(fig)   (or plt.close('all'))"))
    # Locals of running functions (their references are invisible to the
    # heap on 3.11+).
    skip = {id(f) for f in skip_frames}
    f = sys._getframe(1)
    while f is not None:
        if id(f) not in skip and f.f_code.co_flags & 0x1:   # CO_OPTIMIZED
            fname = f.f_code.co_name
            for k, v in _frame_locals(f):
                add(v, _Root("local", f"running {fname}()", k,
                             f"del {k}   (in {fname}())"))
        f = f.f_back
    main = sys.modules.get("__main__")
    for modname, mod in list(sys.modules.items()):
        d = getattr(mod, "__dict__", None)
        if not isinstance(d, dict):
            continue
        if mod is main:
            add(d, _Root("name", "the main namespace", "", "del {step}"))
        else:
            add(d, _Root("name", f"module {modname}", modname,
                         "del " + modname + ".{step}"))
    return objs, infos


# ---------------------------------------------------------------------------
# the heap index
# ---------------------------------------------------------------------------

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
        return (f"heap index: {self.nodes} objects, {self.edges} references, "
                f"{self.bytes / 2**20:.1f} MiB ({self.bytes_per_object:.1f} "
                f"bytes/object), built in {self.build_seconds:.3f} s")


def _build_index(extra: List[Any], exclude: List[Any]) -> HeapIndex:
    l0 = gc.get_objects(0)
    l1 = gc.get_objects(1)
    l2 = gc.get_objects(2)
    n = len(l0) + len(l1) + len(l2)
    progress = n > _PROGRESS_OBJECTS
    if progress:
        sys.stderr.write(f"altgc: indexing {n} tracked objects for "
                         f"explain() ...\n")
        sys.stderr.flush()
    registry = _core.get_objects(None) if _core.get_count() else []
    gens = [l0, l1, l2]
    everything = extra + registry
    # Our own lists are no part of the heap being explained.
    exclude = exclude + [registry, gens, extra, everything]
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
    return _build_index([], [sys._getframe()])


# ---------------------------------------------------------------------------
# Explanation
# ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class RefPath:
    """One reference path from a named root to the object."""

    #: the root's kind (a :data:`CAUSES` key before path refinement)
    root: str
    #: the path as an expression: ``Out[4]``, ``cache['df']``, ...
    expr: str
    #: type names of the objects on the path, root first, target last
    types: Tuple[str, ...]
    #: the step labels between them (``[4]``, ``.attr``, ``<cell>`` ...)
    steps: Tuple[str, ...]
    #: the cause this path shows (a :data:`CAUSES` key)
    cause: str
    #: the command that cuts this path
    release: str

    def as_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Explanation:
    """What :func:`explain` found.  Holds no reference to the object."""

    label: str
    type_name: str
    alive: bool
    #: a :data:`CAUSES` key: the main reason the object is (or is not) alive
    cause: str
    #: the cause in words
    cause_text: str
    #: what to type to release it ("" if nothing to do)
    release: str
    paths: Tuple[RefPath, ...] = ()
    #: bytes freeing it would release (its dominator subtree), None if freed
    retained_bytes: Optional[int] = None
    retained_objects: Optional[int] = None
    #: True when it is only in unreachable cycles awaiting a collection
    in_unreachable_cycle: bool = False
    #: builtin gc generation (0..2), "frozen", or None (not tracked)
    generation: Any = None
    #: what the collectors will do about it, in words
    collector_status: str = ""
    #: references no visible referrer accounts for (a C extension ...)
    unexplained_refs: int = 0
    #: seconds since it was freed (None while alive)
    freed_seconds_ago: Optional[float] = None
    #: notes: RSS, immortal objects, stale paths ...
    notes: Tuple[str, ...] = ()
    index: Optional[HeapIndex] = None

    # -- data -------------------------------------------------------------

    def as_dict(self) -> Dict[str, Any]:
        d = dataclasses.asdict(self)
        d["paths"] = [p.as_dict() for p in self.paths]
        d["notes"] = list(self.notes)
        return d

    def to_json(self, **kwargs: Any) -> str:
        """The explanation as JSON (``json.dumps`` keyword arguments)."""
        return json.dumps(self.as_dict(), default=str, **kwargs)

    def to_dot(self) -> str:
        """The paths as a Graphviz digraph (root -> ... -> object)."""
        lines = ["digraph altgc_explain {", "  rankdir=LR;",
                 '  node [shape=box, fontname="monospace"];']
        target = _dot_id("target")
        lines.append(f'  {target} [label="{_dot_esc(self.label)} '
                     f'({_dot_esc(self.type_name)})", style=bold];')
        for i, p in enumerate(self.paths):
            ids = [_dot_id(f"p{i}n{k}") for k in range(len(p.types) - 1)]
            ids.append(target)
            for k, t in enumerate(p.types[:-1]):
                label = f"{p.root}: {t}" if k == 0 else t
                lines.append(f'  {ids[k]} [label="{_dot_esc(label)}"];')
            for k, step in enumerate(p.steps):
                lines.append(f'  {ids[k]} -> {ids[k + 1]} '
                             f'[label="{_dot_esc(step)}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"

    # -- text -------------------------------------------------------------

    def __str__(self) -> str:
        size = ""
        if self.retained_bytes is not None:
            size = f", {_fmt_bytes(self.retained_bytes)} retained"
        if not self.alive:
            ago = (f" {self.freed_seconds_ago:.1f} s ago"
                   if self.freed_seconds_ago is not None else "")
            lines = [f"{self.label} ({self.type_name}) was freed{ago}."]
            lines += [f"  {n}" for n in self.notes]
            if self.release:
                lines.append(f"  release it: {self.release}")
            return "\n".join(lines)
        lines = [f"{self.label} ({self.type_name}{size}) is still alive:"]
        lines.append(f"  {self.cause_text}")
        for p in self.paths:
            lines.append(f"  held by {p.expr}   [{CAUSES[p.cause]}]")
        if self.collector_status:
            lines.append(f"  {self.collector_status}")
        for n in self.notes:
            lines.append(f"  {n}")
        if self.release:
            lines.append(f"  release it: {self.release}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<Explanation {self.label!r}: "
                f"{'alive' if self.alive else 'freed'}, cause={self.cause}>")

    def _repr_html_(self) -> str:
        esc = html.escape
        head = esc(str(self).splitlines()[0])
        body = "".join(f"<li>{esc(line.strip())}</li>"
                       for line in str(self).splitlines()[1:])
        return (f'<div class="altgc-explanation"><b>{head}</b>'
                f"<ul>{body}</ul>{self._svg()}</div>")

    def _svg(self) -> str:
        """An inline SVG drawing of the paths (one row per path)."""
        if not self.paths:
            return ""
        esc = html.escape
        box_w, box_h, gap, row_h = 150, 26, 40, 50
        width = max(len(p.types) for p in self.paths) * (box_w + gap) + 10
        height = len(self.paths) * row_h + 10
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
                 f'height="{height}" font-family="monospace" font-size="11">',
                 '<defs><marker id="altgc-arrow" markerWidth="8" '
                 'markerHeight="8" refX="8" refY="4" orient="auto">'
                 '<path d="M0,0 L8,4 L0,8 z"/></marker></defs>']
        for r, p in enumerate(self.paths):
            y = 5 + r * row_h
            for k, t in enumerate(p.types):
                x = 5 + k * (box_w + gap)
                last = k == len(p.types) - 1
                fill = "#fde2e2" if last else ("#e2ecfd" if k == 0
                                               else "#f4f4f4")
                text = (p.root + ": " + t) if k == 0 else t
                parts.append(f'<rect x="{x}" y="{y}" width="{box_w}" '
                             f'height="{box_h}" rx="4" fill="{fill}" '
                             f'stroke="#555"/>')
                parts.append(f'<text x="{x + 6}" y="{y + 17}">'
                             f'{esc(text[:22])}</text>')
                if not last:
                    step = p.steps[k] if k < len(p.steps) else ""
                    x1 = x + box_w
                    parts.append(f'<line x1="{x1}" y1="{y + box_h / 2}" '
                                 f'x2="{x1 + gap}" y2="{y + box_h / 2}" '
                                 f'stroke="#555" '
                                 f'marker-end="url(#altgc-arrow)"/>')
                    parts.append(f'<text x="{x1 + 2}" y="{y + box_h + 12}">'
                                 f'{esc(step[:14])}</text>')
        parts.append("</svg>")
        return "".join(parts)


def _dot_id(s: str) -> str:
    return '"' + s + '"'


def _dot_esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def _fmt_bytes(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.0f} {unit}"
        n /= 1000
    return f"{n}"   # pragma: no cover


# ---------------------------------------------------------------------------
# describing a path
# ---------------------------------------------------------------------------

def _step(src: Any, dst: Any) -> Tuple[str, Optional[str]]:
    """How ``src`` refers to ``dst``: (label, expression suffix).

    The suffix is None when the step has no Python spelling, and "" for a
    step through an object's own ``__dict__`` (the next step then reads as
    an attribute).
    """
    try:
        if isinstance(src, dict):
            for k, v in src.items():
                if v is dst:
                    return f"[{k!r}]", f"[{k!r}]"
            return "<key>", None
        if isinstance(src, (list, tuple)):
            for i, v in enumerate(src):
                if v is dst:
                    return f"[{i}]", f"[{i}]"
        if isinstance(src, types.CellType):
            return ".cell_contents", ".cell_contents"
        if isinstance(src, types.FrameType):
            for k, v in _frame_locals(src):
                if v is dst:
                    return f"local {k}", f".f_locals[{k!r}]"
            return "<frame>", None
        if isinstance(src, types.TracebackType):
            if src.tb_frame is dst:
                return ".tb_frame", ".tb_frame"
            if src.tb_next is dst:
                return ".tb_next", ".tb_next"
        if isinstance(src, BaseException):
            for a in ("__traceback__", "__context__", "__cause__"):
                if getattr(src, a, None) is dst:
                    return "." + a, "." + a
        if isinstance(src, type):
            proxy = type.__dict__["__dict__"].__get__(src)
            if isinstance(dst, dict) and len(dst) == len(proxy) and all(
                    k in dst and dst[k] is v for k, v in proxy.items()):
                return ".__dict__", ""
            for k, v in proxy.items():
                if v is dst:
                    return f".{k}", f".{k}"
        d = _instance_dict(src)
        if d is not None:
            if d is dst:
                return ".__dict__", ""
            for k, v in d.items():
                if v is dst:
                    return f".{k}", f".{k}"
        for klass in type(src).__mro__:
            slots = klass.__dict__.get("__slots__", ())
            for name in ([slots] if isinstance(slots, str) else slots):
                try:
                    if getattr(src, name) is dst:
                        return f".{name}", f".{name}"
                except Exception:
                    pass
        for a in ("__closure__", "__globals__", "__defaults__",
                  "__kwdefaults__", "__self__", "__func__", "__wrapped__",
                  "cell_contents"):
            try:
                if object.__getattribute__(src, a) is dst:
                    return "." + a, "." + a
            except Exception:
                pass
    except Exception:
        pass
    return "->", None


def _instance_dict(obj: Any) -> Optional[dict]:
    try:
        d = object.__getattribute__(obj, "__dict__")
    except Exception:
        return None
    return d if isinstance(d, dict) else None


def _lru_name(obj: Any) -> Optional[str]:
    if type(obj).__name__ == "_lru_cache_wrapper" and hasattr(obj,
                                                              "cache_clear"):
        return getattr(obj, "__qualname__", None) or "<lru_cache>"
    return None


_CACHE_NAME = re.compile(r"_+|_\d+|_i+\d*|_oh|_ih")


def _global_name(ns: dict, dst: Any) -> Optional[str]:
    """The name ``ns`` binds to ``dst``, preferring user names to IPython's
    output-cache names (``_``, ``_4``)."""
    names = [k for k, v in ns.items() if v is dst and isinstance(k, str)]
    names.sort(key=lambda k: bool(_CACHE_NAME.fullmatch(k)))
    return names[0] if names else None


_MAX_SHOWN_STEPS = 40   # longer paths are abbreviated in ``expr``


def _describe(objs: List[Any], root: _Root) -> RefPath:
    """Turn a validated path (root object first) into a :class:`RefPath`.

    Linear in the path's length (a path may be 10**6 steps long): the
    expression is kept as pieces, joined once.
    """
    steps: List[str] = []
    pieces: List[str] = [root.expr]
    # spelled[k]: number of pieces spelling objs[k], or -1 (no spelling)
    spelled: List[int] = [1 if root.expr else -1]
    cause = root.kind
    release = ""

    def expr_of(k: int) -> Optional[str]:
        n = spelled[k] if 0 <= k < len(spelled) else -1
        return "".join(pieces[:n]) if n > 0 else None

    for k in range(len(objs) - 1):
        src, dst = objs[k], objs[k + 1]
        label, suffix = _step(src, dst)
        prev_ok = spelled[k] >= 0 or (k == 0 and root.kind == "name")
        if k == 0 and root.kind == "name" and isinstance(src, dict):
            name = _global_name(src, dst)
            if name is not None:
                label = suffix = name if not root.expr else "." + name
                if (not root.expr and _CACHE_NAME.fullmatch(name)
                        and _ipython_shell() is not None):
                    cause = "output_cache"
                    release = f"del {name}"
        if (k >= 1 and steps[-1] == ".__dict__" and isinstance(src, dict)
                and label.startswith("[")):
            # an attribute, read through the owner's __dict__
            key = next((kk for kk, v in src.items() if v is dst), None)
            if isinstance(key, str) and key.isidentifier():
                steps.pop()
                label = suffix = "." + key
                if isinstance(objs[k - 1], type) and cause in ("name",
                                                               "local"):
                    cause = "class_attribute"
                    owner = expr_of(k - 1) or objs[k - 1].__qualname__
                    release = f"del {owner}{label}"
        steps.append(label)
        if cause in ("name", "local"):
            # Refine the cause from what the path goes through.
            lru = _lru_name(src)
            if lru is not None:
                cause = "lru_cache"
                release = f"{expr_of(k) or lru}.cache_clear()"
            elif isinstance(src, types.CellType):
                fn = objs[k - 2] if k >= 2 and isinstance(
                    objs[k - 2], types.FunctionType) else None
                fname = ((expr_of(k - 2) or fn.__qualname__)
                         if fn is not None else "<function>")
                cause = "closure"
                release = (f"del {fname}   (the function whose closure "
                           "cell holds it; or rebind the captured variable)")
            elif (isinstance(src, type) and label.startswith(".")
                  and label != ".__dict__"):
                cause = "class_attribute"
                release = f"del {expr_of(k) or src.__qualname__}{label}"
        if prev_ok:
            if suffix is not None:
                if suffix:
                    pieces.append(suffix)
                spelled.append(len(pieces))
                continue
        spelled.append(-1)
    n_spelled = spelled[-1]
    if n_spelled > 0:
        full = _abbreviate(pieces)
    else:
        full = _chain(root, pieces, spelled, steps, objs)
    if not release:
        if root.kind == "name":
            release = (f"del {full}" if n_spelled > 0 and full
                       else f"drop the reference along {full}")
        elif root.kind == "local":
            release = (root.release if len(objs) == 1 else
                       f"del {full}   (in {root.name[8:]})" if n_spelled > 0
                       else f"drop the reference along {full}")
        else:
            release = root.release.format(step=steps[0] if steps else "")
    return RefPath(root.kind, full, tuple(type(o).__name__ for o in objs),
                   tuple(steps), cause, release)


def _abbreviate(pieces: List[str]) -> str:
    """Join expression pieces, eliding the middle of very long paths."""
    if len(pieces) <= _MAX_SHOWN_STEPS:
        return "".join(pieces)
    head, tail = pieces[:_MAX_SHOWN_STEPS // 2], pieces[-10:]
    hidden = len(pieces) - len(head) - len(tail)
    return "".join(head) + f"...<{hidden} more steps>..." + "".join(tail)


def _chain(root: _Root, pieces: List[str], spelled: List[int],
           steps: List[str], objs: List[Any]) -> str:
    """A readable path where some step has no Python spelling: the spelled
    prefix, then the types along the rest."""
    last = max((k for k, n in enumerate(spelled) if n > 0), default=-1)
    out = (_abbreviate(pieces[:spelled[last]]) if last >= 0
           else root.name)
    rest = list(range(max(last, 0), len(steps)))
    if len(rest) > _MAX_SHOWN_STEPS:
        rest = rest[:_MAX_SHOWN_STEPS // 2] + [-1] + rest[-10:]
    for k in rest:
        if k < 0:
            out += " -> ..."
            continue
        s = steps[k]
        t = type(objs[k + 1]).__name__
        out += f" -> {t}" + ("" if s in ("->", ".__dict__") else f" {s}")
    return out


# ---------------------------------------------------------------------------
# explain
# ---------------------------------------------------------------------------

_BASELINE: Optional[int] = None
_IMMORTAL_REFCNT = 1 << 29


def _refcount_probe(obj_or_label: Any, max_paths: int = 3) -> int:
    # Must mirror explain()'s entry exactly (see _unexplained).
    if isinstance(obj_or_label, str):
        pass
    box = [obj_or_label]
    del obj_or_label
    return sys.getrefcount(box[0])


def explain(obj_or_label: Any, max_paths: int = 3, *,
            literal: bool = False, refresh: bool = True) -> Explanation:
    """Why is this object (or the watched ``label``) still alive?

    A ``str`` argument is a label given to :func:`watch` (``KeyError``
    listing the known labels if there is none) unless ``literal=True``,
    which explains the string object itself.  ``max_paths`` bounds the
    reference paths reported (shortest first, one per named root).
    ``refresh=False`` reuses the heap index built by the previous call
    when it still fits (a few ms instead of a rebuild).

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
    if isinstance(obj_or_label, str) and not literal:
        return _explain_label(obj_or_label, max_paths, refresh)
    box = [obj_or_label]
    del obj_or_label
    rc = sys.getrefcount(box[0])
    return _explain_box(box, rc, None, max_paths, refresh, probe=True)


def _check_max_paths(max_paths: Any) -> int:
    if isinstance(max_paths, bool) or not isinstance(max_paths, int):
        raise TypeError("explain() argument 'max_paths' must be int, not "
                        + type(max_paths).__name__)
    if max_paths < 1:
        raise ValueError("explain() argument 'max_paths' must be >= 1")
    return max_paths


def _explain_label(label: str, max_paths: int, refresh: bool) -> Explanation:
    w = _watches.get(label)
    if w is None:
        known = ", ".join(repr(k) for k in _watches) or "none"
        raise KeyError(f"explain(): no watched object is labelled {label!r}; "
                       f"known labels: {known}")
    _check_max_paths(max_paths)
    box, rc = _label_box(w.token)
    if box is None:
        return _freed(w)
    return _explain_box(box, rc, w, max_paths, refresh, probe=False)


def _label_box(token: int) -> Tuple[Optional[List[Any]], int]:
    """The watched object in a one-item list, and its refcount then."""
    obj = _core._watch_get(token)
    if obj is None:
        return None, 0
    box = [obj]
    del obj
    return box, sys.getrefcount(box[0])


_LABEL_BASELINE: Optional[int] = None


def _label_baseline() -> int:
    """_label_box's own references (the probe's one local subtracted)."""
    global _LABEL_BASELINE
    if _LABEL_BASELINE is None:
        probe = object()
        token = _core._watch_add(probe)
        try:
            box, rc = _label_box(token)
            del box
        finally:
            _core._watch_discard(token)
        _LABEL_BASELINE = rc - 1
    return _LABEL_BASELINE


def _freed(w: _Watch) -> Explanation:
    alive, death = _core._watch_state(w.token)
    ago = (_core._now_ns() - death) / 1e9
    rss_now = _rss()
    notes = []
    cause, release = "freed", ""
    if w.size >= 1 << 20 and w.rss and rss_now > w.rss - w.size // 2:
        cause = "freed_rss"
        notes.append(
            f"the process's RSS is {_fmt_bytes(rss_now)} (was "
            f"{_fmt_bytes(w.rss)} when watched): the {_fmt_bytes(w.size)} went "
            "back to Python's or the C library's allocator, which keeps it "
            "for later allocations instead of returning it to the system")
        release = ('nothing to free in Python; to hand memory back to the '
                   'system: import ctypes; '
                   'ctypes.CDLL("libc.so.6").malloc_trim(0)')
    import tracemalloc
    if tracemalloc.is_tracing():
        cur, _peak = tracemalloc.get_traced_memory()
        notes.append(f"tracemalloc traces {_fmt_bytes(cur)} in use")
    return Explanation(w.label, w.type_name, False, cause, CAUSES[cause],
                       release, freed_seconds_ago=ago, notes=tuple(notes))


def _explain_box(box: List[Any], rc: int, w: Optional[_Watch],
                 max_paths: int, refresh: bool, probe: bool) -> Explanation:
    _check_max_paths(max_paths)
    my_frames: List[Any] = []
    roots: List[Any] = []
    try:
        return _explain_box2(box, w, max_paths, refresh, probe, my_frames,
                             roots)
    finally:
        # my_frames holds this very frame: break the cycle so the target
        # (and the roots) are not kept alive until the next collection.
        my_frames.clear()
        roots.clear()
        box.clear()


def _explain_box2(box: List[Any], w: Optional[_Watch], max_paths: int,
                  refresh: bool, probe: bool, my_frames: List[Any],
                  roots: List[Any]) -> Explanation:
    my_frames.extend(_own_frames())
    objs, infos = _named_roots(my_frames)
    roots.extend(objs)
    del objs
    exclude = [box, roots, infos, my_frames] + my_frames
    try:
        return _explain_box3(box, w, max_paths, refresh, probe, my_frames,
                             roots, infos, exclude)
    finally:
        exclude.clear()     # it holds our frames, which hold it


def _explain_box3(box: List[Any], w: Optional[_Watch], max_paths: int,
                  refresh: bool, probe: bool, my_frames: List[Any],
                  roots: List[Any], infos: List[_Root],
                  exclude: List[Any]) -> Explanation:
    global _BASELINE
    if _BASELINE is None:
        _BASELINE = _refcount_probe(object())
    # references held by explain's own frames at entry
    own = _BASELINE if probe else _label_baseline()
    idx = None
    result = None
    for attempt in range(2):
        if refresh or attempt or not _core._hg_contains(box[0]):
            idx = _build_index(roots + box, exclude)
        elif idx is None:
            idx = heap_index(refresh=False)
        result = _core._hg_paths(box[0], roots, max_paths)
        if result is None or (result[1] and not result[0]):
            continue   # not in the index, or stale: rebuild
        break
    label = w.label if w is not None else _default_label(box[0])
    type_name = type(box[0]).__name__
    if result is None:   # pragma: no cover - the target is in `roots`
        raise RuntimeError("explain(): the object is not in the heap index")
    raw_paths, stale, anon, reachable, indeg, gen = result
    raw_paths.sort(key=lambda item: (len(item[1]), item[0]))
    paths = tuple(_describe(objs, infos[pos]) for pos, objs in raw_paths)
    del raw_paths, result     # they hold the path's objects
    notes: List[str] = []
    # References nobody visible accounts for: the count now, less our own
    # (calibrated), the heap's, the named-roots list's, and the running
    # functions' locals (running frames do not traverse them).
    rc = sys.getrefcount(box[0])
    in_roots = sum(1 for r in roots if r is box[0])
    mine = {id(x) for x in my_frames}
    frame_refs = sum(1 for f in _stack_frames() if f.f_code.co_flags & 1
                     and id(f) not in mine
                     for _, v in _frame_locals(f) if v is box[0])
    immortal = rc >= _IMMORTAL_REFCNT
    unexplained = 0 if immortal else max(
        0, rc - own - indeg - frame_refs - in_roots)
    if immortal:
        notes.append("it is immortal (the interpreter never frees it)")
    # The build counted our own references as external: correct that for
    # the dominator tree (retained sizes).
    _core._hg_set_external(box[0], bool(unexplained or frame_refs
                                        or immortal))
    ret = _core._hg_retained(box[0])
    retained_objects, retained_bytes = ret if ret is not None else (None,
                                                                    None)
    status, generation = _collector_status(box[0], gen)
    in_cycle = not reachable and not paths and unexplained == 0 \
        and not immortal
    if paths:
        cause = paths[0].cause
        release = "; ".join(dict.fromkeys(p.release for p in paths))
        if any(p.cause == "output_cache" for p in paths):
            rest = [r for r in dict.fromkeys(p.release for p in paths)
                    if r != "%reset -f out"]
            release = "%reset -f out" + (f"   (or: {'; '.join(rest)})"
                                         if rest else "")
    elif immortal:
        cause, release = "unknown", ""
    elif unexplained:
        cause = "c_extension"
        release = ("release it in the C extension that took the reference "
                   "(no Python-visible reference is left)")
    elif in_cycle:
        cause = "cycle"
        release = "gc.collect()" + ("   (or altgc.collect())"
                                    if _core.is_tracked(box[0]) else "")
    else:
        cause = "unknown"
        release = ""
        if anon is not None:
            notes.append(f"the nearest holder the index sees is {anon} "
                         "reference(s) away and has no name (an object "
                         "held from outside the tracked heap)")
    if unexplained and paths:
        notes.append(f"also {unexplained} reference(s) from outside Python's "
                     f"heap (a C extension?)")
    if stale:
        notes.append(f"{stale} path(s) changed while explaining")
    cause_text = CAUSES[cause]
    if cause == "c_extension":
        cause_text += f" ({unexplained} reference(s) unaccounted for)"
    return Explanation(label, type_name, True, cause, cause_text, release,
                       paths, retained_bytes, retained_objects, in_cycle,
                       generation, status if in_cycle else
                       (status if "frozen" in status else ""),
                       unexplained, None, tuple(notes), idx)


def _default_label(obj: Any) -> str:
    return f"{type(obj).__name__} at {id(obj):#x}"


def _stack_frames() -> List[Any]:
    out = []
    f = sys._getframe(1)
    while f is not None:
        out.append(f)
        f = f.f_back
    return out


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _own_frames() -> List[Any]:
    """Frames of altgc's own functions on the current stack."""
    return [f for f in _stack_frames()
            if os.path.dirname(os.path.abspath(f.f_code.co_filename))
            == _PACKAGE_DIR]


def _collector_status(obj: Any, gen: int) -> Tuple[str, Any]:
    """What the builtin gc and altgc will do about ``obj``, in words."""
    parts = []
    generation: Any = None
    if gen < 3:
        generation = gen
        if not gc.isenabled():
            parts.append(f"the builtin gc holds it in generation {gen} but "
                         "is disabled: nothing collects it until "
                         "gc.enable() or gc.collect()")
        else:
            count, thr = gc.get_count(), gc.get_threshold()
            allocs = max(0, thr[0] - count[0])
            for g in range(1, gen + 1):
                allocs += max(0, thr[g] - count[g] - 1) * thr[0] * (
                    thr[1] if g == 2 else 1)
            parts.append(f"the builtin gc holds it in generation {gen}: "
                         f"scanned after about {allocs} more allocations"
                         + (" (and only once enough long-lived objects "
                            "accumulate)" if gen == 2 else ""))
    elif gc.is_tracked(obj) or gc.get_freeze_count():
        if gc.is_tracked(obj):
            generation = "frozen"
            parts.append("it is frozen (gc.freeze()): the builtin gc never "
                         "collects it until gc.unfreeze()")
    if _core.is_tracked(obj):
        ag = next((g for g in range(3)
                   if any(o is obj for o in _core.get_objects(g))), None)
        if ag is None:
            parts.append("altgc tracks it in its frozen generation")
        elif not _core.isenabled():
            parts.append(f"altgc tracks it (generation {ag}) but automatic "
                         "collection is disabled")
        else:
            c, t = _core.get_count(), _core.get_threshold()
            parts.append(f"altgc tracks it in generation {ag} "
                         f"({max(0, t[0] - c[0])} allocations until its next "
                         "young collection)")
    return "; ".join(parts), generation


# ---------------------------------------------------------------------------
# survivors
# ---------------------------------------------------------------------------

def survivors(max_paths: int = 1) -> List[Explanation]:
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
    out = []
    first = True
    for w in list(_watches.values()):
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
