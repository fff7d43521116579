"""Reference paths: finding the shortest ones from the named roots to an
object in the heap index, and spelling each as a Python expression with the
cause it shows and the command that cuts it.

The objects on a path are the user's: they are classified by ``type()``,
never by ``isinstance()``, which reads ``__class__`` (a dead
``weakref.proxy`` raises ReferenceError there, a proxy object of a web
framework whatever its property raises)."""

from __future__ import annotations

import _thread
import collections
import contextlib
import contextvars
import gc
import math
import re
import sys
import types
from collections.abc import Iterator, Sequence
from typing import Any

from .. import _core
from .explanation import RefPath
from .frames import frame_locals
from .index import HeapIndex, build_index, heap_index
from .roots import Root, ipython_shell

#: inside names_remembered(): class -> its candidate names (inline_attribute)
_NAMES_MEMO: contextvars.ContextVar[dict[type, list[str]] | None] = contextvars.ContextVar(
    "altgc_names_memo", default=None
)


@contextlib.contextmanager
def names_remembered() -> Iterator[None]:
    """Within it, :func:`inline_attribute` gathers each class's candidate
    names once: a path may step through 10**6 instances of one class.
    Nested uses share the outer memo; it ends with the outermost."""
    token = _NAMES_MEMO.set({}) if _NAMES_MEMO.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _NAMES_MEMO.reset(token)


#: What the C path search returns: the paths (each the index of its named
#: root and the objects along it), how many were stale, the hops to the
#: nearest anonymous holder (or None), whether the object is reachable from
#: outside the index, its in-degree and its builtin gc generation (3: none).
PathSearch = tuple[list[tuple[int, list[Any]]], int, int | None, bool, int, int]


def find_paths(
    box: list[Any], roots: list[Any], exclude: list[Any], max_paths: int, refresh: bool
) -> tuple[HeapIndex | None, PathSearch]:
    """Search the heap index for the shortest paths from ``roots`` to
    ``box[0]``, rebuilding the index first when ``refresh`` is true or when
    it no longer holds the object (or its paths went stale)."""
    idx = None
    result = None
    for attempt in range(2):
        built = refresh or attempt or not _core._hg_contains(box[0])
        if built:
            idx = build_index(roots + box, exclude)
        elif idx is None:
            idx = heap_index(refresh=False)
        result = _core._hg_paths(box[0], roots, max_paths)
        if result is None or (result[1] and not result[0]):
            continue  # not in the index, or stale: rebuild
        if not built and not result[0]:
            # No path in a reused index: the object may be new, at the
            # address of one the index knew (free lists reuse addresses
            # at once).  Only a fresh index can say it has no path.
            continue
        break
    if result is None:  # pragma: no cover - the target is in `roots`
        raise RuntimeError("explain(): the object is not in the heap index")
    return idx, result


def prefer_owner(
    target: Any, paths: list[tuple[int, list[Any]]], roots: list[Any], infos: Sequence[Root]
) -> None:
    """Put first, among paths as short as ``paths[0]``, the one rooted in
    the module that defines the type of the first object along
    ``paths[0]`` (``logging.root.manager.loggerDict[...]``, which
    :func:`describe_cut` spells ``logging.getLogger(...)``, not the
    ``logger`` global of whichever module the search met first), searching
    for it in the index when it is not among ``paths``; in place.  Only a
    path from another module's globals is replaced (not the main
    namespace's, not a running function's local)."""
    if not paths:
        return
    pos, objs = paths[0]
    info = infos[pos]
    if info.kind != "name" or not info.expr or len(objs) < 2:
        return
    owner = vars(type(objs[1])).get("__module__")
    if type(owner) is not str or owner in (info.expr, "builtins", "__main__"):
        return
    opos = next((i for i, x in enumerate(infos) if x.kind == "name" and x.expr == owner), None)
    if opos is None:
        return
    for i, (p, o) in enumerate(paths):
        if p == opos and len(o) <= len(objs):  # (sorted: as short)
            paths.insert(0, paths.pop(i))
            return
    try:
        res = _core._hg_paths(target, [roots[opos]], 1)
    except RuntimeError:  # the index was dropped
        return
    if res is None or not res[0]:
        return
    found = res[0][0][1]
    del res
    if _spelled_steps([*found, target]) > _spelled_steps([*objs, target]):
        return
    paths[:] = [(p, o) for p, o in paths if p != opos]
    paths.insert(0, (opos, found))


@names_remembered()
def _spelled_steps(objs: list[Any]) -> int:
    """The steps a path's expression spells: those through an object's own
    ``__dict__`` read as none (an instance whose attributes live inline has
    one hop less in the index, the same expression)."""
    n = 0
    for k in range(len(objs) - 1):
        src, dst = objs[k], objs[k + 1]
        if type(dst) is dict and not issubclass(type(src), dict):
            # (existing_dict: reading an instance's __dict__ would make one)
            if issubclass(type(src), type):
                if _step(src, dst)[0] == ".__dict__":
                    continue
            elif existing_dict(src) is dst:
                continue
        n += 1
    return n


#: the containers whose items a step spells by index, and those ``del`` of
#: an item works on (by index or key)
_SEQUENCES = (list, tuple, collections.deque)
_MUTABLE_ITEMS = (dict, list, collections.deque)


def _step(src: Any, dst: Any) -> tuple[str, str | None]:
    """How ``src`` refers to ``dst``: (label, expression suffix).

    The suffix is None when the step has no Python spelling (a dict key
    that is no literal: see :func:`literal`), and "" for a step through an
    object's own ``__dict__`` (the next step then reads as an attribute).
    An instance's ``__dict__`` is read only when it exists (see
    :func:`existing_dict`): an attribute still stored inline is named by
    :func:`inline_attribute`, else labelled ``.<attribute>`` with no
    spelling.
    """
    t = type(src)
    try:
        if issubclass(t, dict):
            for k, v in src.items():
                if v is dst:
                    return key_step(k)
            return "<key>", None
        if issubclass(t, _SEQUENCES):
            for i, v in enumerate(src):
                if v is dst:
                    return f"[{i}]", f"[{i}]"
        if t is types.CellType:
            return ".cell_contents", ".cell_contents"
        if issubclass(t, _thread._local) and dst is current_local_dict(src):
            return ".__dict__", ""
        if t is types.FrameType:
            for k, v in frame_locals(src):
                if v is dst:
                    return f"local {k}", f".f_locals[{k!r}]"
            return "<frame>", None
        frame_attr = _SUSPENDED_FRAME.get(t)
        if frame_attr is not None:
            # a generator's (coroutine's) frame lives inside it (3.11+):
            # its locals are the generator's own references
            frame = getattr(src, frame_attr, None)
            if type(frame) is types.FrameType:
                for k, v in frame_locals(frame):
                    if v is dst:
                        return f"local {k}", f".{frame_attr}.f_locals[{k!r}]"
        if t is types.TracebackType:
            if src.tb_frame is dst:
                return ".tb_frame", ".tb_frame"
            if src.tb_next is dst:
                return ".tb_next", ".tb_next"
        if issubclass(t, BaseException):
            for a in ("__traceback__", "__context__", "__cause__"):
                if getattr(src, a, None) is dst:
                    return "." + a, "." + a
        if issubclass(t, type):
            proxy = type.__dict__["__dict__"].__get__(src)
            if (
                issubclass(type(dst), dict)
                and len(dst) == len(proxy)
                and all(k in dst and dst[k] is v for k, v in proxy.items())
            ):
                return ".__dict__", ""
            for k, v in proxy.items():
                if v is dst:
                    return f".{k}", f".{k}"
        own = existing_dict(src)
        if own is not None:
            if own is dst:
                return ".__dict__", ""
            for k, v in own.items():
                if v is dst:
                    return f".{k}", f".{k}"
        inline = own is None and t.__flags__ & _MANAGED_DICT and dst is not t
        if inline:
            # an attribute stored inline: its name is in a dict not made
            name = inline_attribute(src, dst)
            if name is not None:
                return f".{name}", f".{name}"
        for klass in t.__mro__:
            slots = klass.__dict__.get("__slots__", ())
            for name in [slots] if issubclass(type(slots), str) else slots:
                if name in ("__dict__", "__weakref__"):
                    continue  # not attributes: reading __dict__ would make it
                try:
                    if getattr(src, name) is dst:
                        return f".{name}", f".{name}"
                except Exception:
                    pass
        for klass in t.__mro__:
            # the members of a C type (a property's fget, a partial's args):
            # plain reads of a stored reference, no code runs (a class's
            # own __slots__: above)
            if "__slots__" in vars(klass):
                continue
            for name, d in vars(klass).items():
                if type(d) is not types.MemberDescriptorType:
                    continue
                try:
                    value = d.__get__(src)
                except Exception:  # an unset member (AttributeError)
                    continue
                if value is dst:
                    return f".{name}", f".{name}"
        for a in (
            "__closure__",
            "__globals__",
            "__defaults__",
            "__kwdefaults__",
            "__self__",
            "__func__",
            "__wrapped__",
            "cell_contents",
        ):
            try:
                if object.__getattribute__(src, a) is dst:
                    return "." + a, "." + a
            except Exception:
                pass
        if inline:
            return UNNAMED_ATTRIBUTE, None
    except Exception:
        pass
    return "->", None


#: the label of a step to an inline attribute whose name
#: :func:`inline_attribute` does not find
UNNAMED_ATTRIBUTE = ".<attribute>"


def current_local_dict(local: Any) -> dict[Any, Any] | None:
    """The current thread's attributes of the ``threading.local`` ``local``
    (``vars(local)``), when reading them creates nothing and runs no code of
    the user's: only when this is the one thread alive and ``local`` has a
    dict for one thread (else the read could make one for this thread,
    calling the class's ``__init__``).  The read goes through
    ``_thread._local``'s own ``__getattribute__``, not a subclass's."""
    if _thread._count() or len(sys._current_frames()) != 1:
        return None
    # the map (thread's key -> dict), not a subclass's own instance dict
    maps = [
        r
        for r in gc.get_referents(local)
        if type(r) is dict and r and not any(type(k) is str for k in r)
    ]
    if len(maps) != 1 or len(maps[0]) != 1:
        return None
    (mine,) = maps[0].values()
    del maps
    try:
        d = _thread._local.__getattribute__(local, "__dict__")
    except Exception:
        return None
    return d if d is mine and type(d) is dict else None


def _collapse_thread_locals(objs: list[Any]) -> list[int] | None:
    """The indices of ``objs`` to describe when a step goes through a
    ``threading.local``'s map of per-thread dicts to the current thread's
    (``local -> map -> dict``: read as ``local.__dict__``); None when none
    does."""
    keep: list[int] | None = None
    k = 0
    while k < len(objs) - 2:
        if (
            issubclass(type(objs[k]), _thread._local)
            and type(objs[k + 1]) is dict
            and type(objs[k + 2]) is dict
            and objs[k + 2] is current_local_dict(objs[k])
        ):
            if keep is None:
                keep = list(range(len(objs)))
            keep.remove(k + 1)
            k += 2
            continue
        k += 1
    return keep


#: the types whose frame is their own (3.11+) and the attribute reading it
_SUSPENDED_FRAME: dict[type, str] = {
    types.GeneratorType: "gi_frame",
    types.CoroutineType: "cr_frame",
    types.AsyncGeneratorType: "ag_frame",
}


def _task_bases() -> list[Any]:
    """The asyncio Task classes (the C one and the pure-Python one), when
    asyncio is imported; explain never imports it."""
    tasks = sys.modules.get("asyncio.tasks")
    if type(tasks) is not types.ModuleType:
        return []
    bases = [vars(tasks).get(n) for n in ("Task", "_CTask", "_PyTask")]
    return [b for b in bases if issubclass(type(b), type)]


def pending_task(obj: Any) -> tuple[str, Any] | None:
    """For an asyncio Task not done yet: how a user would name it (``the
    pending asyncio Task 'Task-3' (coroutine worker())``) and its
    coroutine; else None.  Reads through the base class's own methods, so
    no method of a subclass runs (nor an attribute hook of a subclass of
    the pure-Python Task, whose methods read attributes)."""
    t = type(obj)
    for base in _task_bases():
        if not issubclass(t, base):
            continue
        if any("__getattribute__" in vars(k) or "__getattr__" in vars(k) for k in t.__mro__[:-1]):
            return None
        try:
            if base.done(obj):
                return None
            name = base.get_name(obj)
            coro = base.get_coro(obj)
        except Exception:
            return None
        what = coro.__qualname__ if type(coro) is types.CoroutineType else None
        shown = f"coroutine {what}()" if type(what) is str else type(coro).__name__
        label = (
            f"the pending asyncio Task {name!r}" if type(name) is str else "a pending asyncio Task"
        )
        return f"{label} ({shown})", coro
    return None


#: a key's repr() in a step's label is cut to this many characters
_MAX_KEY_REPR = 80
#: the types whose repr() evaluates to an equal object of the same type
_LITERAL_TYPES = (str, bytes, int, bool, type(None))


def literal(value: Any) -> str | None:
    """``repr(value)`` when evaluating it gives back an equal value: a
    ``str``, ``bytes``, ``int``, ``bool``, ``None``, finite ``float`` or a
    ``tuple`` of those, by exact type (a subclass's repr may read as
    anything, so may another object's: ``del d[<repr>]`` could delete
    another entry or none); else None.

    >>> literal(("a", 1, None)), literal(float("nan")), literal(object())
    ("('a', 1, None)", None, None)
    """
    t = type(value)
    try:
        if t is tuple:
            return repr(value) if all(literal(v) is not None for v in value) else None
        if t is float:
            return repr(value) if math.isfinite(value) else None
        if t in _LITERAL_TYPES:
            return repr(value)
    except (ValueError, RecursionError):  # an int too long for repr(), a tuple nested too deep
        pass
    return None


def key_label(key: Any) -> str:
    """``repr(key)`` for a label: at most ``_MAX_KEY_REPR`` characters (cut
    with an ellipsis), ``<T object at 0x...>`` when the key's ``__repr__``
    raises.

    >>> key_label("k"), len(key_label("x" * 100)), key_label("x" * 100).endswith("x\u2026")
    ("'k'", 80, True)
    """
    try:
        text = repr(key)
    except Exception:
        return f"<{type(key).__name__} object at {id(key):#x}>"
    return text if len(text) <= _MAX_KEY_REPR else text[: _MAX_KEY_REPR - 1] + "\u2026"


#: a key whose literal is longer is not spelled in release code (a 1 MB
#: string key would make a 1 MB statement): its dict is released whole
_MAX_SPELLED_KEY = 200


def spelled_key(key: Any) -> str | None:
    """The literal that spells ``key`` in release code (see :func:`literal`),
    None when there is none or it is longer than ``_MAX_SPELLED_KEY``.

    >>> spelled_key("k"), spelled_key("x" * 1000), spelled_key(object())
    ("'k'", None, None)
    """
    spelled = literal(key)
    return spelled if spelled is not None and len(spelled) <= _MAX_SPELLED_KEY else None


def _unspelled_key_reason(key: Any) -> str:
    """Why :func:`spelled_key` gives no literal for ``key``, in words."""
    what = f"the key {key_label(key)} (type {type(key).__name__})"
    if literal(key) is None:
        return f"{what} is no literal"
    return f"{what} is too long to spell (over {_MAX_SPELLED_KEY} characters)"


def key_step(key: Any) -> tuple[str, str | None]:
    """The step through the dict key ``key``: (label, suffix), the suffix
    spelled only for a literal key of reasonable length (see
    :func:`spelled_key`)."""
    spelled = spelled_key(key)
    return f"[{key_label(key)}]", (None if spelled is None else f"[{spelled}]")


#: attributes ``del`` cannot delete: the reference each holds stays
_READ_ONLY = frozenset(
    {
        ".__closure__",
        ".__globals__",
        ".__self__",
        ".__func__",
        ".tb_frame",
        ".tb_next",
        ".__traceback__",
        ".__context__",
        ".__cause__",
    }
)


def _deletable(t: type, label: str) -> bool:
    """Whether ``del`` of a spelled step (its label) out of an object of type
    ``t`` runs: not for an item of a tuple (or of any container but a dict,
    a list and a deque) nor for a read-only attribute (a bound method's
    ``__self__``)."""
    if label in _READ_ONLY or label.startswith("local "):
        # a frame's local: f_locals is a snapshot (3.12-) or refuses del (3.13+)
        return False
    if label.startswith(".") and any(
        type(vars(k).get(label[1:])) is types.MemberDescriptorType
        for k in t.__mro__
        if "__slots__" not in vars(k)
    ):
        return False  # a C type's member (a property's fget): read-only
    return not label.startswith("[") or issubclass(t, _MUTABLE_ITEMS)


def fixed_reason(holder: Any, obj: Any) -> str | None:
    """Why no statement deletes ``holder``'s reference to ``obj`` alone, in
    words; None when one can (see :func:`describe_path`)."""
    t = type(holder)
    if issubclass(t, dict):
        for k, v in dict.items(holder):  # a loop: a comprehension is a closure on 3.11
            if v is obj and spelled_key(k) is None:
                return _unspelled_key_reason(k)
    label, suffix = _step(holder, obj)
    if (suffix is None and issubclass(t, frozenset)) or (
        suffix is not None and label.startswith("[") and not _deletable(t, label)
    ):
        return f"{t.__name__} objects are immutable"
    if label == UNNAMED_ATTRIBUTE:
        return (
            f"the {t.__name__}'s attribute is stored inline and only its __dict__, which "
            "explain does not make, names it (vars() on the instance shows it)"
        )
    if suffix is None:
        return "no Python expression spells that reference"
    if label.startswith("local "):
        return f"a frame's local variable ({label[6:]}) cannot be deleted from outside its function"
    if not _deletable(t, label):
        return f"{label[1:]} cannot be deleted"
    return None


def _instance_dict(obj: Any) -> dict[str, Any] | None:
    try:
        d = object.__getattribute__(obj, "__dict__")
    except Exception:
        return None
    return d if issubclass(type(d), dict) else None


_MANAGED_DICT = 1 << 4  # Py_TPFLAGS_MANAGED_DICT (3.11+)


def has_dict(obj: Any) -> bool:
    """Whether ``obj``'s managed ``__dict__`` exists, told without reading
    it and without running code: a dict among its referents whose items
    are its attributes (with inline attributes, its referents are the
    values themselves).  Only the dict's names whose read runs no code
    are compared (:func:`plain_read`: no class of its MRO defines the
    name, or binds it to a plain value); one of them must agree with the
    attribute read and none differ."""
    mro = type(obj).__mro__
    for r in gc.get_referents(obj):
        if type(r) is not dict or not r:
            continue
        agreed = False
        try:
            for k, v in r.items():
                if type(k) is not str:
                    break
                if not plain_read(mro, k):
                    continue  # a descriptor there could run code
                if object.__getattribute__(obj, k) is not v:
                    break
                agreed = True
            else:
                if agreed:
                    return True
        except Exception:
            continue
    return False


def inline_attribute(obj: Any, value: Any) -> str | None:
    """The name of the attribute of ``obj`` that holds ``value``, found
    without making ``obj``'s ``__dict__`` (see :func:`existing_dict`).

    The candidates are the names its class's code mentions (annotations,
    and the names the functions defined in the class and its bases use,
    as ``self.x = ...`` does), then those the code running now uses (a
    script's ``n.me = n``) and the functions of the class's module; each
    is read only where the read runs no code (:func:`plain_read`) and the
    class has no ``__getattr__`` or ``__getattribute__`` of its own (an
    expression through them could mean something else).  None
    when no candidate holds ``value``.  Inside :func:`names_remembered`,
    a class's candidates are gathered once and the name that matched last
    is tried first."""
    t = type(obj)
    mro = t.__mro__
    if any(("__getattr__" in vars(k) or "__getattribute__" in vars(k)) for k in mro[:-1]):
        return None
    memo = _NAMES_MEMO.get()
    names = memo.get(t) if memo is not None else None
    if names is None:
        names = _candidate_names(t)
        if memo is not None:
            memo[t] = names
    for i, name in enumerate(names):
        try:
            if object.__getattribute__(obj, name) is value:
                if i and memo is not None:
                    names.insert(0, names.pop(i))
                return name
        except Exception:
            continue
    return None


def _candidate_names(t: type) -> list[str]:
    """The names :func:`inline_attribute` tries on an instance of ``t``, in
    order, each once; only names whose read runs no code
    (:func:`plain_read`: undefined in its MRO, or bound there to a plain
    value)."""
    mro = t.__mro__
    names: list[str] = []
    for klass in mro:
        if klass is object:
            continue
        body = vars(klass)
        names.extend(body.get("__annotations__", {}) or ())
        for member in body.values():
            try:
                code = getattr(member, "__code__", None)
            except Exception:  # a dead weakref.proxy, a property that raises
                continue
            if type(code) is types.CodeType:
                names.extend(code.co_names)
    names.extend(_running_names())
    modname = vars(t).get("__module__")
    module = sys.modules.get(modname) if type(modname) is str else None
    module_ns = getattr(module, "__dict__", None)
    if type(module_ns) is dict:
        for member in list(module_ns.values()):
            if type(member) is types.FunctionType:
                names.extend(member.__code__.co_names)
    return [name for name in dict.fromkeys(names) if type(name) is str and plain_read(mro, name)]


def plain_read(mro: tuple[type, ...], name: str) -> bool:
    """Whether ``object.__getattribute__(obj, name)``, ``obj`` an instance of
    the class whose MRO is ``mro``, runs no code but reads a stored value:
    no class defines ``name``, or the first that does binds it to a plain
    value (a class attribute such as ``error = None`` that instances
    shadow), whose type has no ``__get__``, ``__set__`` or ``__delete__``
    (a property or any descriptor could run the user's code).
    ``object.__getattribute__`` never calls ``__getattr__`` and bypasses a
    class's own ``__getattribute__``."""
    for klass in mro:
        body = vars(klass)
        if name in body:
            return not any(
                "__get__" in vars(k) or "__set__" in vars(k) or "__delete__" in vars(k)
                for k in type(body[name]).__mro__
            )
    return True


def _running_names() -> list[str]:
    """The names the code of every frame of this thread's stack uses."""
    names: list[str] = []
    frame: types.FrameType | None = sys._getframe(1)
    try:
        while frame is not None:
            names.extend(frame.f_code.co_names)
            frame = frame.f_back
    finally:
        del frame
    return names


def existing_dict(obj: Any) -> dict[str, Any] | None:
    """``obj.__dict__`` when reading it creates nothing, else None: the
    first read makes the dict of an instance whose attributes still live
    inline (3.11+, a managed dict never asked for) or whose ``__dict__``
    slot is still empty, which would change the heap being described."""
    t = type(obj)
    if (t.__flags__ & _MANAGED_DICT or t.__dictoffset__) and not has_dict(obj):
        return None
    return _instance_dict(obj)


def lru_name(obj: Any) -> str | None:
    """The name of ``obj`` if it is a ``functools.lru_cache`` wrapper."""
    if type(obj).__name__ == "_lru_cache_wrapper" and hasattr(obj, "cache_clear"):
        return getattr(obj, "__qualname__", None) or "<lru_cache>"
    return None


_CACHE_NAME = re.compile(r"_+|_\d+|_i+\d*|_oh|_ih")


def _global_name(ns: dict[Any, Any], dst: Any) -> str | None:
    """The name ``ns`` binds to ``dst``, preferring user names to IPython's
    output-cache names (``_``, ``_4``)."""
    names = [k for k, v in ns.items() if v is dst and issubclass(type(k), str)]
    names.sort(key=lambda k: bool(_CACHE_NAME.fullmatch(k)))
    return names[0] if names else None


_MAX_SHOWN_STEPS = 40  # longer paths are abbreviated in ``expr``


_NO_KEY: Any = object()


def describe_path(objs: list[Any], root: Root, last_key: Any = _NO_KEY) -> RefPath:
    """Turn a validated path (root object first) into a :class:`RefPath`.

    ``last_key``: the key (of a dict) or attribute name (of an instance)
    the last step goes through, when its holder refers to the object more
    than once (``df``, ``_`` and ``_3`` in one namespace).

    The release deletes the last step of the path that ``del`` can delete
    and that is spelled from the root on: below it, an immutable holder (a
    tuple), a read-only attribute (a bound method's ``__self__``) or a step
    no expression spells (a set's member, a dict key that is no literal)
    leaves no nearer cut, and the whole object there goes (``del t`` for
    ``t[1]`` of a tuple ``t``).

    Linear in the path's length (a path may be 10**6 steps long): the
    expression is kept as pieces, joined once.
    """
    return describe_cut(objs, root, last_key)[0]


@names_remembered()
def describe_cut(objs: list[Any], root: Root, last_key: Any = _NO_KEY) -> tuple[RefPath, int]:
    """:func:`describe_path`, and the index in ``objs`` of the object its
    release drops: the last one, unless the release deletes a step above
    it."""
    keep = _collapse_thread_locals(objs)
    if keep is not None:
        objs = [objs[i] for i in keep]
    steps: list[str] = []
    # step_at[j]: the index in objs of the object steps[j] reaches (a step
    # through an owner's __dict__ reads as one attribute step)
    step_at: list[int] = []
    pieces: list[str] = [root.expr]
    # spelled[k]: number of pieces spelling objs[k], or -1 (no spelling)
    spelled: list[int] = [1 if root.expr else -1]
    cause = root.kind
    release = ""
    # cut: the pieces spelling the last object on the path that a del can
    # release (0: none; a running function's local: the variable itself),
    # dropped: its index in objs
    cut, dropped = (1, 0) if root.kind == "local" else (0, 0)

    def expr_of(k: int) -> str | None:
        n = spelled[k] if 0 <= k < len(spelled) else -1
        return "".join(pieces[:n]) if n > 0 else None

    for k in range(len(objs) - 1):
        src, dst = objs[k], objs[k + 1]
        t = type(src)
        label, suffix = _step(src, dst)
        if last_key is not _NO_KEY and k == len(objs) - 2:
            if issubclass(t, dict):
                label, suffix = key_step(last_key)
            elif issubclass(t, _MUTABLE_ITEMS) and type(last_key) is int:
                label = suffix = f"[{last_key}]"
            elif issubclass(type(last_key), str):
                label = suffix = f".{last_key}"
        prev_ok = spelled[k] >= 0 or (k == 0 and root.kind == "name")
        if k == 0 and root.kind == "name" and issubclass(t, dict):
            name = _global_name(src, dst)
            if last_key is not _NO_KEY and len(objs) == 2 and issubclass(type(last_key), str):
                name = last_key
            if name is not None:
                label = suffix = name if not root.expr else "." + name
                if not root.expr and _CACHE_NAME.fullmatch(name) and ipython_shell() is not None:
                    cause = "output_cache"
                    release = f"del {name}"
        if k >= 1 and steps[-1] == ".__dict__" and issubclass(t, dict) and label.startswith("["):
            # an attribute, read through the owner's __dict__
            key = next((kk for kk, v in src.items() if v is dst), None)
            if type(key) is str and key.isidentifier():
                steps.pop()
                step_at.pop()
                label = suffix = "." + key
                if issubclass(type(objs[k - 1]), type) and cause in ("name", "local"):
                    cause = "class_attribute"
                    if expr_of(k - 1) is None or k == len(objs) - 2:  # else the cut below
                        owner = expr_of(k - 1) or objs[k - 1].__qualname__
                        release = f"del {owner}{label}"
        steps.append(label)
        step_at.append(k + 1)
        if cause in ("name", "local"):
            # Refine the cause from what the path goes through.
            lru = lru_name(src)
            if lru is not None:
                cause = "lru_cache"
                release = f"{expr_of(k) or lru}.cache_clear()"
            elif t is types.CellType:
                fn = objs[k - 2] if k >= 2 and type(objs[k - 2]) is types.FunctionType else None
                fname = (expr_of(k - 2) or fn.__qualname__) if fn is not None else "<function>"
                cause = "closure"
                cell = expr_of(k)
                release = (
                    f"del {cell}.cell_contents"
                    if cell is not None
                    else f"del {fname}   (the function whose closure cell holds it)"
                )
            elif t is types.TracebackType:
                cause = "traceback"  # a stored exception's frames
            elif issubclass(t, type) and label.startswith(".") and label != ".__dict__":
                cause = "class_attribute"
                if expr_of(k) is None or k == len(objs) - 2:
                    # (else the cut below: an item of it, not the attribute)
                    release = f"del {expr_of(k) or src.__qualname__}{label}"
        if prev_ok and suffix is not None:
            if suffix:
                pieces.append(suffix)
                if _deletable(t, label):
                    cut, dropped = len(pieces), k + 1
            spelled.append(len(pieces))
            continue
        spelled.append(-1)
    n_spelled = spelled[-1]
    logger = _get_logger(objs, spelled, root) if not release and n_spelled > 0 else None
    if logger is not None and cut > spelled[logger[0]]:
        # logging.getLogger('name') for logging.Logger.manager.loggerDict['name']
        at, call = logger
        n = spelled[at]
        pieces, cut = [call, *pieces[n:]], cut - n + 1
        if cause == "class_attribute" and _class_before(objs, at):
            cause = "name"  # (the class was logging.Logger, no longer spelled)
    full = (
        _abbreviate(pieces)
        if n_spelled > 0
        else _chain(root, pieces, spelled, steps, step_at, objs)
    )
    cut_expr = "" if release or not cut else _abbreviate(pieces[:cut])
    if not release:
        if root.kind == "name":
            release = f"del {cut_expr}" if cut_expr else f"drop the reference along {full}"
        elif root.kind == "local":
            release = (
                root.release
                if len(objs) == 1
                else f"del {cut_expr}   (in {root.name[8:]})"
                if cut_expr
                else f"drop the reference along {full}"
            )
        else:
            first = steps[0] if steps else ""
            key = first[1:-1] if first.startswith("[") and first.endswith("]") else first
            release = root.release.format(step=first, key=key)
    path = RefPath(
        root.kind, full, tuple(type(o).__name__ for o in objs), tuple(steps), cause, release
    )
    at = dropped if cut_expr else len(objs) - 1
    return path, at if keep is None else keep[at]


def _get_logger(objs: list[Any], spelled: list[int], root: Root) -> tuple[int, str] | None:
    """Where a path from the ``logging`` module's globals reaches a logger
    through its manager's table (``logging.Logger.manager.loggerDict['a.b']``):
    the logger's index in ``objs``, and the call that spells it as users
    do (``logging.getLogger('a.b')``, which returns that very logger and
    makes none); None elsewhere."""
    if root.kind != "name" or root.expr != "logging":
        return None
    logging = sys.modules.get("logging")
    try:
        logger_type = vars(logging)["Logger"]
        table = vars(logger_type)["manager"].loggerDict
    except Exception:  # not imported, or a logging of its own
        return None
    if type(table) is not dict or not issubclass(type(logger_type), type):
        return None
    for k in range(1, len(objs) - 1):
        if objs[k - 1] is table and issubclass(type(objs[k]), logger_type) and spelled[k] > 0:
            key = next((kk for kk, v in table.items() if v is objs[k]), None)
            if type(key) is str:
                return k, f"logging.getLogger({key!r})"
            return None
    return None


def _class_before(objs: list[Any], end: int) -> bool:
    """Whether a class is among ``objs[:end]``."""
    return any(issubclass(type(o), type) for o in objs[:end])


def _abbreviate(pieces: list[str]) -> str:
    """Join expression pieces, eliding the middle of very long paths."""
    if len(pieces) <= _MAX_SHOWN_STEPS:
        return "".join(pieces)
    head, tail = pieces[: _MAX_SHOWN_STEPS // 2], pieces[-10:]
    hidden = len(pieces) - len(head) - len(tail)
    return "".join(head) + f"...<{hidden} more steps>..." + "".join(tail)


def _chain(
    root: Root,
    pieces: list[str],
    spelled: list[int],
    steps: list[str],
    step_at: list[int],
    objs: list[Any],
) -> str:
    """A readable path where some step has no Python spelling: the spelled
    prefix, then the types along the rest."""
    last = max((k for k, n in enumerate(spelled) if n > 0), default=-1)
    out = _abbreviate(pieces[: spelled[last]]) if last >= 0 else root.name
    rest = [j for j in range(len(steps)) if step_at[j] > max(last, 0)]
    if len(rest) > _MAX_SHOWN_STEPS:
        rest = [*rest[: _MAX_SHOWN_STEPS // 2], -1, *rest[-10:]]
    cache = -1  # the index in objs of an lru_cache wrapper's cache dict
    # a pending asyncio Task: its name and coroutine, then the coroutine's
    # local as "local buf"
    task = pending_task(objs[last]) if last >= 0 else None
    if task is not None:
        out += f" ({task[0]})"
    for j in rest:
        if j < 0:
            out += " -> ..."
            continue
        s = steps[j]
        k = step_at[j - 1] if j > 0 else 0  # the step's source, in objs
        src, dst = objs[k], objs[step_at[j]]
        is_last = step_at[j] == len(objs) - 1
        if task is not None and src is task[1]:
            task = None
            out += f", {s}" + ("" if is_last else f" ({type(dst).__name__})")
            continue
        if task is not None and dst is task[1]:
            continue  # the Task's coroutine: named with the Task
        task = pending_task(dst)
        if task is not None:
            out += f" -> {task[0]}"
            continue
        if lru_name(src) is not None and type(dst) is dict:
            # the wrapper's cache: no Python expression reaches it
            out += "'s cache"
            cache = step_at[j]
            continue
        if k == cache and s.startswith("[") and s.endswith("]"):
            out += f", key {s[1:-1]}"
            if is_last:
                continue  # the object itself: named by the explanation
        t = type(dst).__name__
        out += f" -> {t}" + ("" if s in ("->", ".__dict__") or k == cache else f" {s}")
    return out
