"""``top()``: the named roots holding the most memory.

For "memory is high and I don't know which name": every object a named
root holds -- a user's global (or notebook name), ``Out[n]`` and the
hidden ``_``/``__``/``___``, a local of a stored traceback's frame, an
open pyplot figure, an ``functools.lru_cache`` or a module-level container
of a user's module -- weighed by its *retained* size (what would be freed
if that root let go: the objects reachable only through it, from the heap
index), biggest first, each with the code that releases it
(:mod:`.releasing`).  Nothing is collected and no reference is kept.
"""

from __future__ import annotations

import dataclasses
import html
import os
import sys
import sysconfig
import types
from collections.abc import Iterator
from typing import Any

from . import held
from .explanation import CAUSES, Explanation, fmt_bytes
from .frames import frame_locals, is_function_frame
from .paths import lru_name
from .roots import ipython_shell

#: values that are no memory a user would release: code, not data
_NOT_DATA = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.CodeType,
)
#: IPython's names in the user's namespace that are not the user's
_IPYTHON_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython", "open"})
#: the packages whose frames in a stored traceback are the tools', not the
#: user's: the shell, the kernel, a magic's (altgc's own)
_TOOL_PACKAGES = frozenset({"IPython", "ipykernel", "altgc"})


@dataclasses.dataclass(frozen=True)
class Holder:
    """One named root and the memory it holds (see :func:`top`)."""

    #: the names the user knows it by (``df, Out[4], _``)
    label: str
    #: retained bytes: what releasing it would free
    bytes: int
    #: a :data:`~altgc._explain.explanation.CAUSES` key: name, output_cache,
    #: traceback, matplotlib, lru_cache
    kind: str
    #: the code that releases it (one statement or magic a line; "" when no
    #: code can, see ``note``)
    release: str
    #: type name of the object held
    type_name: str = ""
    #: why ``release`` is empty, or what it does beyond freeing
    note: str = ""

    def __str__(self) -> str:
        fix = self.release.replace("\n", "; ") or f"({self.note or 'no release code'})"
        return f"{fmt_bytes(self.bytes):>11}  {self.label}  ({self.type_name})  \u2192 {fix}"


class Table(tuple[Any, ...]):
    """A tuple of rows (each with ``__str__``) shown as a table: text,
    IPython's pretty printer, HTML (see :class:`Holders`, and
    :class:`~altgc._explain.leftovers.Leftovers`)."""

    title = ""
    empty = "none"
    css = ""
    headers: tuple[str, ...] = ()

    def _cells(self, row: Any) -> list[str]:  # pragma: no cover - overridden
        """The row's HTML cells (escaped)."""
        raise NotImplementedError

    def __str__(self) -> str:
        if not self:
            return f"{self.title}: {self.empty}"
        return "\n".join([self.title + ":", *(str(r) for r in self)])

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        # every cell styled inline: JupyterLab's and nbconvert's CSS align
        # table cells right and centre captions (code ragged on the left)
        rows = "".join(
            "<tr>" + "".join(f'<td style="{_TD}">{c}</td>' for c in self._cells(r)) + "</tr>"
            for r in self
        )
        if not self:  # what the text says ("nothing"), not headers over no row
            rows = (
                f'<tr><td colspan="{len(self.headers)}" style="{_TD}">'
                f"{html.escape(self.empty)}</td></tr>"
            )
        head = "".join(f'<th style="{_TD}">{html.escape(h)}</th>' for h in self.headers)
        return (
            f'<table class="{self.css}" style="color:inherit">'
            f'<caption style="text-align:left">{html.escape(self.title)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
        )


#: a table cell's style (see Table._repr_html_)
_TD = "text-align:left;vertical-align:top"
#: code in a table cell: monospace in the page's colours, wrapped at spaces
#: and only then inside a word (JupyterLab breaks a <pre> at any letter), a
#: long key rather than widening the table past the page; a column no
#: narrower than ``min-width`` (else a short name went one letter a line)
_CODE = (
    "font-family:var(--jp-code-font-family,monospace);font-size:inherit;color:inherit;"
    "background:transparent;white-space:pre-wrap;word-break:normal;overflow-wrap:anywhere;"
    "text-align:left;display:inline-block;max-width:100%;padding:0"
)


def code_cell(text: str) -> str:
    """A label or an expression (``Out[4], _``) as an HTML table cell."""
    return f'<code style="{_CODE};min-width:12ch">{html.escape(text)}</code>'


def size_cell(n: int) -> str:
    """A size as an HTML table cell: one line, right-aligned."""
    return f'<span style="white-space:nowrap;float:right">{html.escape(fmt_bytes(n))}</span>'


def release_cell(code: str) -> str:
    """A release code (or the note standing for it) as an HTML table cell."""
    return f'<pre style="margin:0;border:0;{_CODE};min-width:24ch">{html.escape(code)}</pre>'


class Holders(Table):
    """What :func:`top` returns: a tuple of :class:`Holder`, biggest first,
    shown as a table (text, IPython, HTML)."""

    title = "biggest holders among the named roots, by retained size"
    css = "altgc-holders"
    headers = ("retained", "held by", "type", "why", "release it")

    def _cells(self, h: Holder) -> list[str]:
        return [
            size_cell(h.bytes),
            code_cell(h.label),
            html.escape(h.type_name),
            html.escape(CAUSES.get(h.kind, h.kind)),
            release_cell(h.release or h.note),
        ]


def is_report(obj: object) -> bool:
    """Whether ``obj`` is one of altgc's own answers (an explanation, the
    table of top() or cells()): what IPython's output cache keeps of
    ``%altgc top`` is no memory of the user's (it holds no reference to
    what it describes)."""
    return issubclass(type(obj), (Explanation, Table))


# -- the user's names ---------------------------------------------------------


def user_namespace() -> tuple[dict[str, Any], frozenset[str]]:
    """The namespace the user types in (IPython's ``user_ns``, else
    ``__main__``'s) and the names in it that are not the user's own."""
    shell = ipython_shell()
    if shell is not None:
        ns: dict[str, Any] = shell.user_ns
        hidden = frozenset(getattr(shell, "user_ns_hidden", {}) or ()) | _IPYTHON_NAMES
        return ns, hidden
    main = sys.modules.get("__main__")
    return getattr(main, "__dict__", {}), frozenset()


def user_names(ns: dict[str, Any], hidden: frozenset[str]) -> Iterator[str]:
    """The names of ``ns`` the user bound (no ``_`` prefix, not IPython's)."""
    for k in list(ns):
        if issubclass(type(k), str) and not k.startswith("_") and k not in hidden:
            yield k


def _library_dirs() -> tuple[str, ...]:
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            dirs.add(path)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dirs.add(here)
    return tuple(os.path.abspath(d) + os.sep for d in dirs)


#: (the names in sys.modules, the user's module names) when last computed
_user_modules: tuple[tuple[str, ...], list[str]] = ((), [])


def user_modules() -> list[tuple[str, types.ModuleType]]:
    """Imported modules with a source file outside the interpreter's
    libraries and site-packages (and altgc): the user's own.  (Cached
    while the names in ``sys.modules`` stay the same: keyed by their
    number alone, a module removed and another added hid the new one.)"""
    global _user_modules
    names = tuple(sys.modules)
    if _user_modules[0] == names:
        return [(k, sys.modules[k]) for k in _user_modules[1] if k in sys.modules]
    libs = _library_dirs()
    out = []
    for name, mod in list(sys.modules.items()):
        if name == "__main__" or not issubclass(type(mod), types.ModuleType):
            continue
        f = getattr(mod, "__file__", None)
        if type(f) is not str:
            continue
        path = os.path.abspath(f)
        if path.startswith(libs) or "site-packages" in path or "dist-packages" in path:
            continue
        out.append((name, mod))
    _user_modules = (names, [k for k, _ in out])
    return out


def lru_caches() -> list[tuple[str, Any]]:
    """(expression, wrapper) of the ``functools.lru_cache`` functions of
    the user's namespace and modules (``load``, ``mylib.fetch``)."""
    ns, hidden = user_namespace()
    out: list[tuple[str, Any]] = []
    seen: set[int] = set()
    for k in user_names(ns, hidden):
        v = ns.get(k)
        if lru_name(v) is not None and id(v) not in seen:
            seen.add(id(v))
            out.append((k, v))
    for modname, mod in user_modules():
        for k, v in list(vars(mod).items()):
            if issubclass(type(k), str) and lru_name(v) is not None and id(v) not in seen:
                seen.add(id(v))
                out.append((f"{modname}.{k}", v))
    return out


def traceback_frames() -> list[types.FrameType]:
    """The function frames of the stored tracebacks (``sys.last_*``,
    IPython's ``InteractiveTB.tb``) below the failed cell's own frame."""
    tbs: list[Any] = []
    # a magic's UsageError (bad arguments): no code of the user ran, the
    # frames are the shell's and the magic's (sys.last_traceback is its)
    usage = getattr(sys.modules.get("IPython.core.error"), "UsageError", None)
    refused: set[int] = set()
    for attr in ("last_exc", "last_value"):
        exc: Any = getattr(sys, attr, None)
        if issubclass(type(exc), BaseException) and exc.__traceback__ is not None:
            if usage is not None and issubclass(type(exc), usage):
                refused.add(id(exc.__traceback__))
            else:
                tbs.append(exc.__traceback__)
    last_tb = getattr(sys, "last_traceback", None)
    if last_tb is not None and id(last_tb) not in refused:
        tbs.append(last_tb)
    del last_tb
    shell = ipython_shell()
    tb = getattr(getattr(shell, "InteractiveTB", None), "tb", None)
    if type(tb) is types.TracebackType and id(tb) not in refused:
        tbs.append(tb)
    ns, _hidden = user_namespace()
    frames: list[types.FrameType] = []
    seen: set[int] = set()
    for tb in tbs:
        chain = []
        t = tb
        while t is not None:
            chain.append(t.tb_frame)
            t = t.tb_next
        # IPython's own frames come before the cell's (whose globals are the
        # user's namespace)
        start = next((i for i, f in enumerate(chain) if f.f_globals is ns), 0)
        for f in chain[start:]:
            # below it, a magic's frames (run_line_magic, %altgc's) are no
            # more the user's than the shell's
            if is_function_frame(f) and id(f) not in seen and not _tool_frame(f):
                seen.add(id(f))
                frames.append(f)
        chain.clear()
    tbs.clear()
    return frames


def _tool_frame(f: types.FrameType) -> bool:
    """Whether ``f`` runs IPython's, ipykernel's or altgc's own code."""
    name = f.f_globals.get("__name__")
    return type(name) is str and name.partition(".")[0] in _TOOL_PACKAGES


# -- candidates ---------------------------------------------------------------


def _candidates() -> tuple[list[Any], list[list[tuple[str, str]]], list[str]]:
    """The objects the named roots hold, each once: parallel lists of the
    objects, their (label, kind) names and a release override ("" when
    the release code comes from explain())."""
    objs: list[Any] = []
    names: list[list[tuple[str, str]]] = []
    override: list[str] = []
    pos: dict[int, int] = {}

    def add(obj: Any, label: str, kind: str, release: str = "") -> None:
        # type(), not isinstance(): the objects are the user's (see .paths)
        if obj is None or (issubclass(type(obj), _NOT_DATA) and lru_name(obj) is None):
            return
        i = pos.get(id(obj))
        if i is None:
            pos[id(obj)] = len(objs)
            objs.append(obj)
            names.append([(label, kind)])
            override.append(release)
        else:
            names[i].append((label, kind))
            override[i] = override[i] or release

    ns, hidden = user_namespace()
    for k in user_names(ns, hidden):
        if lru_name(ns.get(k)) is None:
            add(ns.get(k), k, "name")
    shell = ipython_shell()
    if shell is not None:
        out: Any = ns.get("Out")
        if issubclass(type(out), dict):
            for n, v in list(out.items()):
                if not is_report(v):
                    add(v, f"Out[{n}]", "output_cache")
        hidden_ns = getattr(shell, "user_ns_hidden", {}) or {}
        dh = getattr(shell, "displayhook", None)
        for k in ("_", "__", "___"):
            for where in (ns, hidden_ns, getattr(dh, "__dict__", {})):
                v = where.get(k)
                # IPython starts them as "" (no ==: a DataFrame's is elementwise)
                if v is not None and not (type(v) is str and not v):
                    if not is_report(v):
                        add(v, k, "output_cache")
                    break
    for f in traceback_frames():
        fname = f.f_code.co_name
        for k, v in frame_locals(f):
            add(v, f"{k} in {fname}() (traceback)", "traceback")
    ph = sys.modules.get("matplotlib._pylab_helpers")
    figs = getattr(getattr(ph, "Gcf", None), "figs", None)
    if isinstance(figs, dict):
        for n, manager in list(figs.items()):
            add(
                manager,
                f"pyplot figure {n}",
                "matplotlib",
                f"import matplotlib.pyplot as plt; plt.close({n!r})",
            )
    for expr, fn in lru_caches():
        owner = expr.rpartition(".")[0]
        add(
            fn,
            f"{expr} (lru_cache)",
            "lru_cache",
            (f"import {owner}; " if owner else "") + f"{expr}.cache_clear()",
        )
    for modname, mod in user_modules():
        for k, v in list(vars(mod).items()):
            if issubclass(type(k), str) and not k.startswith("__") and lru_name(v) is None:
                add(v, f"{modname}.{k}", "name")
    return objs, names, override


def top(n: int = 10) -> Holders:
    """The ``n`` named roots holding the most retained memory, biggest
    first, with the code that releases each.

    A named root is what a user can name: a global or notebook name,
    ``Out[4]`` (grouped with the hidden ``_``/``__``/``___`` and every
    other name of the same object), a local of a stored traceback's frame,
    ``pyplot figure 2``, an ``lru_cache`` (``load.cache_clear()``), a
    module-level object of the user's own modules.  Retained size: what
    would be freed if that root let go (no collection is forced).

    >>> import altgc, sys, types
    >>> demo = sys.modules["demo_top"] = types.ModuleType("demo_top")
    >>> demo.__file__ = "/home/user/demo_top.py"       # a user's module
    >>> demo.rows = [bytearray(10**6) for _ in range(8)]
    >>> h = altgc.top(3)[0]
    >>> h.label, h.bytes > 8 * 10**6, h.release
    ('demo_top.rows', True, 'import demo_top\\ndel demo_top.rows')
    >>> del sys.modules["demo_top"], demo
    """
    if type(n) is bool or not issubclass(type(n), int):
        raise TypeError("top() argument 'n' must be int, not " + type(n).__name__)
    if n < 1:
        raise ValueError("top() argument 'n' must be >= 1")
    from .explaining import explain

    objs, names, override = _candidates()
    try:
        sizes = held.retained(objs)
        order = sorted(
            (i for i in range(len(objs)) if sizes[i] is not None),
            key=lambda i: -(sizes[i] or (0, 0))[1],
        )[:n]
        picked = []
        for i in order:
            try:
                ref = held.Ref(objs[i])
            except TypeError:  # not an object altgc can see die: no explain
                ref = None
            picked.append((i, ref, type(objs[i]).__name__))
    finally:
        objs.clear()  # explain() must see only the user's references
    out = []
    for i, ref, type_name in picked:
        release, note = override[i], ""
        if not release and ref is not None and ref.alive():
            # the index retained() built serves (objs is cleared: no holder)
            e = explain(ref.get(), 1, literal=True, refresh=False)
            release, note = e.release, e.release_note
            del e
        elif not release and names[i][0][1] == "name" and names[i][0][0].isidentifier():
            release = f"del {names[i][0][0]}"  # an int, a float: no weak reference
        if ref is not None:
            ref.discard()
        out.append(
            Holder(
                ", ".join(label for label, _ in names[i][:4])
                + (", \u2026" if len(names[i]) > 4 else ""),
                (sizes[i] or (0, 0))[1],
                names[i][0][1],
                release,
                type_name,
                note,
            )
        )
    return Holders(out)
