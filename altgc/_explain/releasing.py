"""Release code: the statements that free an object, built from every named
root that reaches it (not only the paths an explanation shows), and
:func:`release`, which runs them and checks that the object died.

Each direct holder of the object is found (``gc.get_referrers`` and the
last steps of the reported paths); for each, the paths from every named
root to it.  A holder reached from a name the user can spell loses the
reference the holder has (``del cache['df']``, ``del
getter.__closure__[0].cell_contents``) -- never a name the user bound to
something else; a holder that cannot let go of it (a tuple, a bound
method, a dict under a key no literal spells) goes whole, released from
each of its own holders; a holder reached from IPython's, ``sys``'s or
pyplot's state is cut where that state starts (``del Out[3]``,
``get_ipython().InteractiveTB.tb = None``, ``plt.close(2)``).  What no
statement can release (a running function's local, a C extension's
reference) empties the code and is said in the note.
"""

from __future__ import annotations

import collections
import contextvars
import dataclasses
import functools
import gc
import os
import re
import sys
import types
from collections.abc import Sequence
from typing import Any

from .. import _core
from .frames import stack_frames
from .holders import _library_dirs
from .index import build_index
from .paths import (
    _MANAGED_DICT,
    _NO_KEY,
    _step,
    describe_cut,
    describe_path,
    existing_dict,
    fixed_reason,
    has_dict,
    key_label,
    lru_name,
    prefer_owner,
)
from .roots import Root, altgc_own, ipython_shell
from .watching import _check_bool, _check_label, process_rss

_HIDDEN = "get_ipython().user_ns_hidden"
#: the output-cache names of IPython's hidden namespace: _, __, ___, _4
_OUTPUT_KEY = re.compile(r"\['(_{1,3}|_\d+)'\]")
#: IPython's objects and the references of theirs a release may cut (its
#: cached outputs, the stored traceback); any other is IPython's own state
_IPYTHON_CUTS = {
    _HIDDEN: _OUTPUT_KEY,
    "get_ipython().displayhook": re.compile(r"\._{1,3}"),
    "get_ipython().InteractiveTB": re.compile(r"\.tb"),
    "get_ipython().last_execution_result": re.compile(r"\.(result|error_in_exec)"),
}


def _ipython_state(info: Root, first_step: str) -> bool:
    """Whether ``first_step`` out of IPython's root ``info`` is IPython's
    own state (its displayhook's traits, its shell), not a cut."""
    pattern = _IPYTHON_CUTS.get(info.expr)
    return pattern is not None and not pattern.fullmatch(first_step)


#: root kinds cut at the root's own first step (each such root needs its own statement)
_ROOT_CUT = (
    "output_cache",
    "traceback",
    "matplotlib",
    "garbage",
    "context_variable",
    "signal_handler",
)


def runnable(stmt: str) -> bool:
    """Whether ``stmt`` is a line of code (Python, or an IPython magic)."""
    if stmt.startswith("%"):
        return True
    if ".f_locals[" in stmt:  # a snapshot on 3.12: deleting from it frees nothing
        return False
    try:
        compile(stmt, "<release>", "exec")
    except SyntaxError:
        return False
    return True


def _has(objs: list[Any], target: Any) -> bool:
    """``target in objs`` by identity (a function: a generator expression in
    build_release would make ``target`` a closure cell there, a holder of
    its own for the whole search; here the cell dies on return)."""
    return any(o is target for o in objs)


def _context_root(box: list[Any], roots: list[Any], infos: Sequence[Root]) -> bool:
    """Whether ``box[0]`` is the value of a variable of the current context
    (a function: see :func:`_has`)."""
    return any(
        r is box[0] and info.kind == "context_variable"
        for r, info in zip(roots, infos, strict=True)
    )


def _inline_attrs(objs: list[Any], shown: set[int]) -> bool:
    """Whether some object of ``objs`` not on a reported path keeps its
    attributes inline (a managed dict never read)."""
    return any(
        id(o) not in shown and type(o).__flags__ & _MANAGED_DICT and not has_dict(o) for o in objs
    )


def _keys_of(holder: Any, target: Any) -> list[Any]:
    """The keys (of a dict) or attribute names (of an instance) by which
    ``holder`` refers to ``target``, or the indices (of a list or a deque);
    ``[_NO_KEY]`` when not one of those."""
    t = type(holder)
    try:
        if issubclass(t, (list, collections.deque)):  # the last index first: no shifting
            idx = []
            for i, v in enumerate(holder):
                if v is target:
                    idx.append(i)
            return idx[::-1] or [_NO_KEY]
        d = holder if issubclass(t, dict) else existing_dict(holder)
        if d is not None and not issubclass(t, type):
            keys = []
            for k, v in d.items():  # a loop: a comprehension is a closure on 3.11
                if v is target:
                    keys.append(k)
            return keys or [_NO_KEY]
    except Exception:
        pass
    return [_NO_KEY]


@functools.cache
def _context_mapping_types() -> frozenset[type]:
    """The types of the objects of a context's mapping (a HAMT's nodes:
    contextvars), found by walking a probe context of enough variables to
    need each kind of node.  Worked out on first use, not at import: a
    release that never meets a context variable makes no probe."""
    ctx = contextvars.Context()
    for i in range(40):
        var: contextvars.ContextVar[int] = contextvars.ContextVar(f"altgc_probe{i}")
        ctx.run(var.set, i)
    found: set[type] = set()
    todo = gc.get_referents(ctx)
    while todo:
        r = todo.pop()
        t = type(r)
        # the nodes have a GC header (Py_TPFLAGS_HAVE_GC); the values, ints, none
        if t.__flags__ & (1 << 14) and t is not contextvars.ContextVar and t not in found:
            found.add(t)
            todo.extend(gc.get_referents(r))
    return frozenset(found)


def _library_file(path: Any) -> bool:
    """Whether the source file ``path`` is a library's (the interpreter's,
    site-packages', altgc's), not the user's."""
    if type(path) is not str:
        return False
    if path.startswith("<"):  # <frozen ...>, <string>: no file of the user's
        return path.startswith("<frozen ")
    path = os.path.abspath(path)
    return path.startswith(_library_dirs()) or "site-packages" in path or "dist-packages" in path


def _library_module(name: Any) -> bool:
    """Whether the module named ``name`` is a library's: a builtin one or
    one whose file is a library's (see :func:`_library_file`)."""
    if type(name) is not str:
        return False
    if name in sys.builtin_module_names:
        return True
    mod = sys.modules.get(name)
    return _library_file(getattr(mod, "__file__", None)) if mod is not None else False


def _library_owner(owner: Any, name: str) -> str | None:
    """What ``owner`` is, in words, when its attribute ``name`` is a
    library's own state, not the user's: a private attribute (``_name``)
    of a library's module, class or instance of a library's class, or any
    attribute a library's code set on a function it made (the registry of
    a ``functools.singledispatch`` function); else None."""
    t = type(owner)
    private = name.startswith("_") and not (name.startswith("__") and name.endswith("__"))
    if issubclass(t, types.ModuleType):
        modname = getattr(owner, "__name__", None)
        if private and _library_module(modname):
            return f"the module {modname}"
        return None
    if t is types.FunctionType:
        code = owner.__code__
        if not (name.startswith("__") and name.endswith("__")) and _library_file(code.co_filename):
            made = os.path.basename(code.co_filename)
            return f"the function {owner.__qualname__}, made by the library code of {made},"
        return None
    if not private:
        return None
    klass = owner if issubclass(t, type) else t
    modname = vars(klass).get("__module__", "builtins")
    if _library_module(modname):
        what = "the class" if klass is owner else "an instance of"
        return f"{what} {modname}.{klass.__qualname__}"
    return None


#: methods through which a library's object lets go of what it holds
_LET_GO = ("detach", "cancel", "close", "unregister", "remove")


def _library_cut(
    objs: list[Any],
    dropped: int,
    info: Root,
    deleted: str,
    shown: set[int],
    roots: list[Any],
    infos: Sequence[Root],
) -> str | None:
    """Why the cut of ``objs[dropped - 1] -> objs[dropped]`` (``del``
    spelled on a path from a module's globals) would break a library's
    internals, in words (a blocker); None when it is the user's to cut.

    The attribute deleted is found through its owner's ``__dict__`` when
    the path reads it there; a module's global from its root.  The note
    names the handle the library gives out for the entry (the key of the
    library's table to an object on a reported path, ``shown``: a
    ``weakref.finalize`` object) and the method that lets go, when one has
    a name."""
    if dropped < 1 or dropped >= len(objs):
        return None
    holder, value = objs[dropped - 1], objs[dropped]
    owner: Any = holder
    name: str | None = None
    if dropped == 1 and info.kind == "name" and info.expr:
        owner = sys.modules.get(info.expr)
        for k, v in dict.items(holder):
            if v is value and type(k) is str:
                name = k
                break
    elif (
        type(holder) is dict and dropped >= 2 and _step(objs[dropped - 2], holder)[0] == ".__dict__"
    ):
        owner = objs[dropped - 2]
        for k, v in dict.items(holder):
            if v is value and type(k) is str:
                name = k
                break
    else:
        label = _step(holder, value)[0]
        if label.startswith(".") and label[1:].isidentifier():
            name = label[1:]
    if owner is None or name is None:
        return None
    what = _library_owner(owner, name)
    if what is None:
        return None
    text = (
        f"{deleted} holds it: {name} of {what} is the library's own state, "
        "which no release deletes (the library would break); let go through its API"
    )
    handle = _handle(value, shown, roots, infos)
    if handle:
        text += f": {handle}"
    return text


def _handle(table: Any, shown: set[int], roots: list[Any], infos: Sequence[Root]) -> str:
    """The handle a library gave out for the entry of its ``table`` (a
    dict) that holds an object on a reported path (``shown``): a key that
    is an object of a library's class with a method that lets go, spelled
    from a module's global when one leads to it."""
    if type(table) is not dict:
        return ""
    for key, v in list(dict.items(table)):
        if id(v) not in shown:
            continue
        t = type(key)
        if not _library_module(vars(t).get("__module__", "builtins")):
            continue
        for m in _LET_GO:
            if callable(getattr(t, m, None)):
                spelled = _spelled_from_name(key, roots, infos)
                if spelled is not None:
                    return f"{spelled}.{m}()"
                return (
                    f"the {t.__module__}.{t.__qualname__} object {key_label(key)} "
                    f"(its key there) is its handle: its {m}() lets go"
                )
    return ""


def _spelled_from_name(obj: Any, roots: list[Any], infos: Sequence[Root]) -> str | None:
    """The expression of ``obj`` from a module's globals, fully spelled; None
    when the shortest path to it has none."""
    try:
        res = _core._hg_paths(obj, roots, 1)
    except RuntimeError:
        return None
    if res is None or not res[0]:
        return None
    pos, path = res[0][0]
    del res
    info = infos[pos]
    if info.kind != "name":
        return None
    spelled = all(_step(path[k], path[k + 1])[1] is not None for k in range(len(path) - 1))
    rp = describe_path(path, info) if spelled else None
    del path
    return rp.expr if rp is not None and runnable(f"({rp.expr})") else None


#: how many holders deep the release code may release a holder whole (a
#: tuple in a tuple in a frozenset; each level scans the heap for referrers);
#: deeper, each path is cut where it can be
_MAX_WHOLE = 16


@dataclasses.dataclass
class _Whole:
    """A holder the release code frees whole, for the note."""

    #: how many holders released whole lie between it and the object
    depth: int
    #: its type's name
    type_name: str
    #: "frame", "traceback", "exception" or "" (anything else)
    kind: str
    #: what it holds, in words: "it", "that tuple"
    subject: str
    #: why its reference cannot be deleted alone
    why: str
    #: the statement that frees it, when known
    stmt: str = ""


def _kind(obj: Any) -> str:
    t = type(obj)
    if t is types.FrameType:
        return "frame"
    if t is types.TracebackType:
        return "traceback"
    return "exception" if issubclass(t, BaseException) else ""


def _count(n: int, what: str) -> str:
    return f"the {what}" if n == 1 else f"the {n} {what}s"


_LOCAL = re.compile(r"local variable \((.+?)\)")


def _whole_note(group: list[_Whole]) -> list[str]:
    """The note for holders released whole, one sentence per chain (a
    holder, the holder of that, ...)."""
    chain = all(w.depth == i for i, w in enumerate(group))
    if not chain:
        return [
            f"the code releases the whole {w.type_name} that holds {w.subject} ({w.why})"
            for w in group
        ]
    top = group[-1]
    frees = f"{top.stmt} frees" if top.stmt else "the code frees"
    kinds = [w.kind for w in group]
    names = ", ".join(dict.fromkeys(m.group(1) for m in _LOCAL.finditer(group[0].why)))
    if (
        names
        and kinds[0] == "frame"
        and all(k in ("frame", "traceback") for k in kinds[1:-1])
        and kinds[-1] in ("traceback", "exception")
    ):
        # a stored exception's traceback and its frames: one sentence
        what = f"the {top.type_name}, its traceback" if top.kind == "exception" else "a traceback"
        frames = kinds.count("frame")
        return [
            f"{frees} {what} and {_count(frames, 'frame')} it keeps, with "
            f"{'that frame' if frames == 1 else 'their'}'s local variables "
            f"({names} holds {group[0].subject}): no statement deletes "
            "a finished frame's local, a traceback's frame or an exception's traceback "
            "alone"
        ]
    whys = "; ".join(dict.fromkeys(w.why for w in group))
    if len(group) == 1:
        return [f"{frees} the whole {top.type_name} that holds {top.subject} ({whys})"]
    inner = " and in it ".join(f"the {w.type_name}" for w in reversed(group[:-1]))
    return [
        f"{frees} the whole {top.type_name} and, inside it, {inner} that holds "
        f"{group[0].subject} ({whys})"
    ]


def _notes(notes: list[str | _Whole]) -> list[str]:
    """The notes in words: each run of holders released whole worded as
    one or more sentences (see :func:`_whole_note`)."""
    out: list[str] = []
    group: list[_Whole] = []
    for n in [*notes, ""]:
        if isinstance(n, _Whole) and (n.depth > 0 or not group):
            group.append(n)
            continue
        if group:
            out += _whole_note(group)
            group = []
        if isinstance(n, _Whole):
            group.append(n)
        elif n:
            out.append(n)
    return out


@dataclasses.dataclass
class _Release:
    """What the release code is built from."""

    stmts: list[str] = dataclasses.field(default_factory=list)
    #: the imports the statements need
    imports: list[str] = dataclasses.field(default_factory=list)
    #: what no statement can release
    blockers: list[str] = dataclasses.field(default_factory=list)
    #: what the statements do beyond freeing the object (a holder released
    #: whole: a :class:`_Whole`, worded with those around it)
    notes: list[str | _Whole] = dataclasses.field(default_factory=list)
    #: a holder only the object itself leads to: a collection must follow
    cyclic: bool = False
    #: ids of the objects released whole
    whole: set[int] = dataclasses.field(default_factory=set)


def build_release(
    box: list[Any],
    roots: list[Any],
    infos: Sequence[Root],
    exclude: list[Any],
    path_holders: list[Any],
    unexplained: int,
    in_cycle: bool,
    shown: set[int] | None = None,
) -> tuple[str, str]:
    """(code, note) releasing ``box[0]``: code is "" when no statement can.

    ``shown``: ids of the objects on the reported paths.  Another path
    through an instance whose attributes are still inline (3.12+, no
    ``__dict__`` yet) is not spelled: reading its attribute names would
    create the dict and change the heap explain() describes.

    A holder that cannot let go of the object alone (a tuple, a bound
    method's ``__self__``, a dict under a key that is no literal: see
    :func:`~.paths.fixed_reason`) is released whole, from each of its own
    holders, and the note says so."""
    out = _Release()
    _gather(out, box, roots, infos, exclude, path_holders, unexplained, shown or set(), "it", 0)
    stmts = out.stmts
    if (in_cycle and not stmts) or (out.cyclic and stmts):
        stmts.append(
            ("import altgc; altgc.collect(); " if _core.is_tracked(box[0]) else "")
            + "import gc; gc.collect();"  # the trailing ";": IPython shows no count
        )
    code = "\n".join(dict.fromkeys([*out.imports, *stmts]))
    if out.blockers:
        note = "no code can release it: " + "; ".join(dict.fromkeys(out.blockers))
        if code:
            note += " (the other holders: " + code.replace("\n", "; ") + ")"
        return "", note
    notes = _notes(out.notes)
    if any(s.endswith(".cell_contents") for s in stmts):
        notes.append(
            "deleting a closure cell's contents leaves the function defined; "
            "calling it afterwards raises NameError (deleting the function "
            "instead frees the cell too)"
        )
    if any(s.endswith((".__defaults__", ".__kwdefaults__")) for s in stmts):
        notes.append(
            "deleting a function's default values leaves the function defined; "
            "calling it without those arguments afterwards raises TypeError"
        )
    return code, "; ".join(dict.fromkeys(notes))


def _release_whole(
    out: _Release,
    whole: Any,
    note: _Whole,
    roots: list[Any],
    infos: Sequence[Root],
    exclude: list[Any],
    above: list[Any],
    shown: set[int],
    depth: int,
) -> None:
    """Release ``whole``, which stands between the object and a name, from
    every holder of its own (``above``: those on the paths found to it),
    once; ``note`` says so."""
    if issubclass(type(whole), types.ModuleType):
        # never a module: its functions, its importers, sys.modules would
        # all go (a C module's state holding a registry, copyreg's table)
        name = getattr(whole, "__name__", None)
        out.blockers.append(
            f"the module {name if type(name) is str else '?'} holds "
            f"{note.subject} in its own state: no statement releases a module"
        )
        return
    out.notes.append(note)
    if id(whole) not in out.whole:
        out.whole.add(id(whole))
        that = f"that {type(whole).__name__}"
        first = len(out.stmts)
        _gather(out, [whole], roots, infos, exclude, above, 0, shown, that, depth + 1)
        if len(out.stmts) == first + 1:  # (several: "the code" frees it)
            note.stmt = out.stmts[first]


def _closure_cut(
    out: _Release,
    cell: Any,
    target: Any,
    found: list[tuple[int, list[Any]]],
    roots: list[Any],
    infos: Sequence[Root],
    mine: list[Any],
    shown: set[int],
    subject: str,
    depth: int,
) -> bool:
    """Release the function whose closure ``cell`` holds ``target`` from
    its own holders (``del callbacks[0]``), when the first of ``found``
    (the paths to ``cell``) reaches it from a name through an item of a
    list or dict, the function is the user's (not a library's), no
    module's global names it (a name the user bound to the function
    stays: its cell is emptied) and each of its holders
    lets go of it.  Emptying the cell instead would leave a function that
    raises NameError; the note offers it for a function that must stay.
    Whether it did (else the cell is cut as any holder)."""
    if type(cell) is not types.CellType or not found or depth >= _MAX_WHOLE:
        return False
    pos, objs = found[0]
    info = infos[pos]
    if info.kind != "name" or len(objs) < 5:
        return False
    fn, closure, slot = objs[-3], objs[-2], objs[-4]
    if (
        type(slot) not in (list, dict)
        or _step(objs[-5], slot)[0] == ".__dict__"
        or type(fn) is not types.FunctionType
        or fn.__closure__ is not closure
        or _has(roots, fn)
        or id(fn) in out.whole
        or _library_file(fn.__code__.co_filename)
    ):
        return False
    names = {id(r) for r, i in zip(roots, infos, strict=True) if i.kind == "name"}
    r: Any = None
    for r in gc.get_referrers(fn):
        if id(r) in names:
            return False
    del r
    trial = _Release(whole={*out.whole, id(fn)})
    above = []
    for _, o in found:  # a loop: a comprehension is a closure on 3.11, a cell holding fn
        if len(o) >= 4 and o[-3] is fn:
            above.append(o[-4])
    _gather(trial, [fn], roots, infos, [*mine, trial], above, 0, shown, "that function", depth + 1)
    stmts = [s for s in trial.stmts if runnable(s)]
    if trial.blockers or not stmts or any(s.endswith(".cell_contents") for s in stmts):
        return False
    cell_cut = describe_cut([*objs, target], info)[0].release
    note = f"{stmts[0]} drops the function {fn.__qualname__}, whose closure cell holds {subject}"
    if runnable(cell_cut):
        note += (
            f"; to keep the function, empty the cell instead: {cell_cut} "
            "(calling the function afterwards raises NameError)"
        )
    out.notes.append(note)
    out.stmts += trial.stmts
    out.imports += trial.imports
    out.notes += trial.notes
    out.cyclic = out.cyclic or trial.cyclic
    out.whole |= trial.whole
    return True


def _gather(
    out: _Release,
    box: list[Any],
    roots: list[Any],
    infos: Sequence[Root],
    exclude: list[Any],
    path_holders: list[Any],
    unexplained: int,
    shown: set[int],
    subject: str,
    depth: int,
) -> None:
    """Add to ``out`` what releases ``box[0]`` (called ``subject`` in the
    notes): a statement per holder, or the holder released whole
    (``depth``: how many holders deep that has gone already)."""
    root_work: list[int] = []  # positions of cut roots: who else holds them?
    target = box[0]
    shell = ipython_shell()
    try:
        for r, info in zip(roots, infos, strict=True):
            if r is not target:
                continue
            if info.kind == "local":
                out.blockers.append(
                    f"the local variable {info.expr!r} of the {info.name} holds {subject} "
                    "(it goes when that function returns)"
                )
            elif info.kind in _ROOT_CUT:
                out.stmts.append(info.release.format(step="", key=""))
        if unexplained:
            out.blockers.append(
                f"{unexplained} reference(s) from outside Python's heap (a C extension) "
                f"hold {subject}: only that extension can release them"
            )
        skip = {id(x) for x in exclude} | {id(f) for f in stack_frames()}
        skip |= {id(box), id(roots), id(path_holders)}
        # the current context's own mapping holds a variable's value: its
        # root above releases it
        context_mapping = _context_mapping_types() if _context_root(box, roots, infos) else ()
        holders: dict[int, Any] = {}
        for h in path_holders:
            if id(h) not in skip and h is not target:
                holders.setdefault(id(h), h)
        for h in gc.get_referrers(target):
            if type(h) in context_mapping:
                continue
            # An instance holding it in inline values (no __dict__ yet):
            # spelling its attribute would create the dict, changing the
            # heap explain() describes; only a reported path may do that.
            if id(h) not in skip and h is not target and not type(h).__flags__ & _MANAGED_DICT:
                holders.setdefault(id(h), h)
        module_pos: dict[int, int] = {}
        for pos, info in enumerate(infos):
            if info.kind == "name":
                module_pos.setdefault(id(roots[pos]), pos)
        rebuilt = False
        for h in holders.values():
            try:
                res = _core._hg_paths(h, roots, 64)
            except RuntimeError:  # a death during the explanation dropped the index
                res = None
                if rebuilt:
                    continue
            if res is None or (res[1] and not res[0]):
                if rebuilt:
                    continue
                # Spelling paths materialises instance dicts (3.12+): the
                # index's edges through inline values went stale.
                rebuilt = True
                del res
                build_index([*roots, *box], exclude)
                res = _core._hg_paths(h, roots, 64)
            if res is None:
                continue
            found = []
            for pos, objs in res[0]:  # a loop: a comprehension is a closure on 3.11
                # IPython's, sys's, pyplot's objects: their dicts may be read
                own = objs[1:] if infos[pos].kind in _ROOT_CUT else objs
                if not _has(objs, target) and not _inline_attrs(own, shown):
                    # a running function's local that is also a module's
                    # dict: spelled from the module
                    found.append((module_pos.get(id(objs[0]), pos), objs))
            del res
            if not found:
                out.cyclic = True  # only through the object: a cycle with it
            # a name the user can spell first: its cut works whatever else
            # reaches the holder (a running function's local among them);
            # but not a name that only leads into IPython's shell (the
            # main namespace's get_ipython.__self__...): IPython's own
            # roots spell those cuts as users know them
            found.sort(
                key=lambda item: (
                    shell is not None and _has(item[1], shell),
                    altgc_own(infos[item[0]]),
                    infos[item[0]].kind != "name",
                    len(item[1]),
                )
            )
            prefer_owner(h, found, roots, infos)
            # A holder a name leads to that cannot let go of it goes whole,
            # from every holder of its own (IPython's, sys's, pyplot's roots
            # are cut at the root, whatever lies below).
            # (Not under an lru_cache: its cache_clear() releases it, the
            # cut describe_path spells.)
            why = (
                fixed_reason(h, target)
                if found
                and infos[found[0][0]].kind == "name"
                and depth < _MAX_WHOLE
                and not _has(roots, h)
                and not any(lru_name(o) is not None for o in found[0][1])
                else None
            )
            # our own lists that refer to what goes whole: no holders of it
            mine = [*exclude, holders, found, path_holders, *(objs for _, objs in found)]
            if why is None and _closure_cut(
                out, h, target, found, roots, infos, mine, shown, subject, depth
            ):
                found.clear()
                continue
            if why is not None:
                whole_note = _Whole(depth, type(h).__name__, _kind(h), subject, why)
                above = [objs[-2] for _, objs in found]
                _release_whole(out, h, whole_note, roots, infos, mine, above, shown, depth)
                found.clear()
                continue
            cut_holder = False
            for i, (pos, objs) in enumerate(found):
                info = infos[pos]
                if i and (info.kind in ("name", "local") or cut_holder):
                    continue  # the first (shortest) cut already covers this holder
                if info.kind == "traceback":
                    # (only for a cut made: after a failed call, "del d"
                    # alone came with the stored exception's release too)
                    root_work.append(pos)
                cut_holder = info.kind == "name"
                for key in _keys_of(h, target):
                    rp, dropped = describe_cut([*objs, target], info, key)
                    if _ipython_state(info, rp.steps[0]):
                        break  # IPython's own hidden names (_oh, Out...), traits: not a cut
                    note: _Whole | None = None
                    if dropped < len(objs):  # a cut above the object: objs[dropped] goes whole
                        below = objs[dropped + 1] if dropped + 1 < len(objs) else target
                        reason = fixed_reason(objs[dropped], below)
                        if reason is not None:  # None: below is the __dict__ of objs[dropped]
                            note = _Whole(
                                depth,
                                type(objs[dropped]).__name__,
                                _kind(objs[dropped]),
                                subject
                                if dropped == len(objs) - 1
                                else f"{type(below).__name__} on the path to {subject}",
                                reason,
                                rp.release,
                            )
                        if (
                            note is not None
                            and dropped < len(objs) - 1
                            and info.kind == "name"
                            and depth < _MAX_WHOLE
                            and not _has(roots, objs[dropped])
                        ):
                            # from every holder of its own, not this path's only
                            whole, above = objs[dropped], [objs[dropped - 1]]
                            _release_whole(
                                out, whole, note, roots, infos, mine, above, shown, depth
                            )
                            break  # the same cut for every key
                    lib = (
                        _library_cut(
                            [*objs, target], dropped, info, rp.release[4:], shown, roots, infos
                        )
                        if info.kind == "name" and rp.release.startswith("del ")
                        else None
                    )
                    if lib is not None:
                        if any(infos[p].kind not in ("name", "local") for p, _ in found[i + 1 :]):
                            # a root of its own (get_ipython().displayhook,
                            # reached from sys too) has a release for it
                            cut_holder = False
                            break
                        out.blockers.append(lib)
                        break  # the same state for every key
                    if runnable(rp.release):
                        out.stmts.append(rp.release)
                        if note is not None:
                            out.notes.append(note)
                        # a stored exception and its frames, a figure and
                        # its canvas: cycles, freed by a collection
                        out.cyclic = out.cyclic or info.kind in ("traceback", "matplotlib")
                        mod_ref = (f" {info.expr}.", f"{info.expr}.")
                        if (
                            info.kind == "name"
                            and info.expr
                            and (mod_ref[0] in rp.release or rp.release.startswith(mod_ref[1]))
                        ):
                            out.imports.append(f"import {info.expr}")
                    else:
                        out.blockers.append(f"{rp.expr}: {rp.release}")
                    if rp.cause == "lru_cache" or (info.kind in _ROOT_CUT and len(objs) > 1):
                        break  # cut above the holder: one statement for every key
            found.clear()
        holders.clear()
        # A path search stops at the nearest named root: a stored traceback
        # held by another root (sys.last_traceback, also InteractiveTB.tb)
        # hides that one.
        seen: set[int] = set()
        while root_work:
            pos = root_work.pop()
            if pos in seen:
                continue
            seen.add(pos)
            try:
                res = _core._hg_paths(roots[pos], roots, 64)
            except RuntimeError:
                res = None
            for qpos, objs in res[0] if res is not None else ():
                info = infos[qpos]
                if qpos == pos or len(objs) < 2 or info.kind not in _ROOT_CUT or _has(objs, target):
                    continue
                if _inline_attrs(objs[1:], shown):
                    continue
                rp = describe_path(objs, info)
                if _ipython_state(info, rp.steps[0]):
                    continue
                if runnable(rp.release):
                    out.stmts.append(rp.release)
                root_work.append(qpos)
            del res
        # IPython's displayhook holds the last outputs in attributes: on
        # 3.12+ often inline values, which get_referrers() shows as the
        # instance, skipped above, so the cut came only from a reported
        # path, and a release could leave it ("still alive ... held by
        # get_ipython().displayhook._").  Asked directly (no dict made).
        dh = getattr(shell, "displayhook", None) if shell is not None else None
        for attr in ("_", "__", "___"):
            if dh is not None and getattr(dh, attr, None) is target:
                out.stmts.append(f"get_ipython().displayhook.{attr} = None")
        del dh
    finally:
        del target


def release(label: str, dry_run: bool = False) -> str:
    """Run the release code of the watched object ``label`` and report
    whether it died: ``"freed df: 132 MB; RSS 412 → 280 MiB"``, or what
    still holds it.  ``dry_run=True`` only returns the code.

    Outside IPython the code runs in ``__main__``'s namespace and may hold
    plain Python only (``RuntimeError`` for a magic); under IPython it runs
    in the user's namespace, magics through the shell.

    >>> import altgc, sys, types
    >>> demo = sys.modules["demo"] = types.ModuleType("demo")
    >>> demo.df = bytearray(10**6)
    >>> altgc.watch(demo.df, "df")
    >>> print(altgc.release("df", dry_run=True))
    release df with (dry run, nothing ran):
      import demo
      del demo.df
    >>> altgc.release("df")  # doctest: +ELLIPSIS
    'freed df: ...; RSS ... MiB'
    >>> altgc.release("df")  # doctest: +ELLIPSIS
    'df is already dead: it was freed ... s ago'
    >>> altgc.unwatch("df"); del sys.modules["demo"]
    """
    from . import explaining, watching
    from .explanation import fmt_bytes

    w = watching.watches.get(_check_label(label, "release"))
    _check_bool(dry_run, "release", "dry_run")
    if w is None:
        known = ", ".join(repr(k) for k in watching.watches) or "none"
        raise KeyError(f"release(): no watched object is labelled {label!r}; known labels: {known}")
    e = explaining.explain(label)
    if not e.alive:
        ago = f" {e.freed_seconds_ago:.1f} s ago" if e.freed_seconds_ago is not None else ""
        return f"{label} is already dead: it was freed{ago}"
    if not e.release:
        return f"nothing can release {label} from here: {e.release_note or e.cause_text}"
    if dry_run:
        return f"release {label} with (dry run, nothing ran):\n" + "\n".join(
            "  " + line for line in e.release.splitlines()
        )
    shell = ipython_shell()
    lines = e.release.splitlines()
    if shell is None and any(line.startswith("%") for line in lines):
        raise RuntimeError(
            "release(): the release code holds IPython magics and this is not IPython: "
            + e.release.replace("\n", "; ")
        )
    size = e.retained_bytes
    del e
    ns: dict[str, Any]
    if shell is not None:
        ns = shell.user_ns
    else:
        ns = getattr(sys.modules.get("__main__"), "__dict__", {})
    rss_before = process_rss()
    for line in lines:
        if line.startswith("%"):
            name, _, arg = line[1:].partition(" ")
            shell.run_line_magic(name, arg)
        else:
            exec(compile(line, "<altgc release>", "exec"), ns)
    alive, _death = _core._watch_state(w.token)
    if alive:
        gc.collect()
        alive, _death = _core._watch_state(w.token)
    rss_after = process_rss()
    if alive:
        after = explaining.explain(label)
        held = "; ".join(p.expr for p in after.paths) or after.cause_text
        return f"{label} is still alive after running its release code: held by {held}"
    mib = 1 << 20
    freed = f": {fmt_bytes(size)}" if size else ""
    return f"freed {label}{freed}; RSS {rss_before / mib:.0f} \u2192 {rss_after / mib:.0f} MiB"
