"""IPython / Jupyter integration: ``%load_ext altgc``.

Registers the line magic ``%altgc``::

    %altgc why NAME_OR_EXPR        why is it still alive? (a watched label or
                                   an expression evaluated in the namespace)
    %altgc release NAME            run the code that frees it (a watched label
                                   or a variable) and check that it died
    %altgc release --dry-run NAME  show that code, run nothing
    %altgc watch NAME [NAME ...]   watch these variables
    %altgc watch                   watch every new object of at least
                                   --min-size bytes (default 1 MB) a cell binds
    %altgc watch --min-size 10MB   ... with another threshold
    %altgc watch --off             stop watching new objects automatically
    %altgc report                  watched objects; survivors with their cause
    %altgc collect                 gc.collect() and altgc.collect()
    %altgc stats                   altgc's collector and heap-index figures
    %altgc notices on|off          the post-cell notices below

After each cell, a watched object whose name the cell deleted but that is
still alive gets a one-line notice naming the cause and the fix.  A wrong
name or bad arguments raise IPython's ``UsageError`` (one line, no
traceback).
"""

from __future__ import annotations

import contextlib
import gc
import re
import shlex
import sys
from typing import Any

from . import _core, _explain
from ._explain import watching

_USAGE = __doc__.split("::", 1)[1].split("After each cell")[0]


class _State:
    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.notices = True
        self.auto_min_size: int | None = None
        self.bound_before: dict[str, int] = {}  # label -> id when bound
        self.names_before: set[str] = set()


_state: _State | None = None


def _parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)[bB]?\s*", text)
    if not m:
        raise ValueError(
            f"%altgc watch: --min-size {text!r} is not a size (examples: 1000000, 500KB, 10MB)"
        )
    mult = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


def _size(obj: Any) -> int:
    try:
        n = sys.getsizeof(obj)
    except Exception:
        n = 0
    nbytes = getattr(type(obj), "nbytes", None)  # numpy arrays, views
    if nbytes is not None:
        with contextlib.suppress(Exception):
            n = max(n, int(obj.nbytes))
    return n


def _user_ns() -> dict[str, Any]:
    assert _state is not None
    ns: dict[str, Any] = _state.shell.user_ns
    return ns


def _watched_bindings() -> dict[str, int]:
    """label -> id(obj) for watched labels the namespace binds to their
    (alive) object."""
    ns = _user_ns()
    out = {}
    for w in list(watching.watches.values()):
        obj = _core._watch_get(w.token)
        if obj is None:
            continue
        for name in {w.label, *(n for _, n in w.names)}:
            if ns.get(name) is obj:
                out[w.label] = id(obj)
        del obj
    return out


def _pre_run_cell(*args: Any) -> None:
    if _state is None:
        return
    _state.bound_before = _watched_bindings()
    _state.names_before = set(_user_ns())


def _post_run_cell(*args: Any) -> None:
    st = _state
    if st is None:
        return
    ns = _user_ns()
    if st.auto_min_size is not None:
        for name in set(ns) - st.names_before:
            if name.startswith("_") or name in watching.watches:
                continue
            obj = ns[name]
            if _size(obj) >= st.auto_min_size:
                with contextlib.suppress(TypeError):
                    _watch_in_ns(obj, name)
            del obj
    if not st.notices:
        return
    now = _watched_bindings()
    gone = [label for label in st.bound_before if label not in now]
    first = True
    for label in gone:
        w = watching.watches.get(label)
        if w is None or not _core._watch_state(w.token)[0]:
            continue
        e = _explain.explain(label, 3, refresh=first)
        first = False
        if not e.alive:
            continue
        where = f": {e.paths[0].expr}" if e.paths else ""
        fix = (
            f"release it: {e.release.replace(chr(10), '; ')}"
            if e.release
            else e.release_note or "release it: ?"
        )
        print(
            f"altgc: {label} ({e.type_name}) is still alive after del -- "
            f"{e.cause_text}{where}; {fix}"
        )


def _watch_in_ns(obj: Any, name: str) -> None:
    _explain.watch(obj, name)
    w = watching.watches[name]
    w.names = [(_user_ns(), name)]


def _usage_error(msg: str) -> Exception:
    """IPython's UsageError: the shell shows it as one line, no traceback."""
    try:
        from IPython.core.error import UsageError
    except ImportError:  # pragma: no cover - the magic runs under IPython
        return ValueError(msg)
    error: Exception = UsageError(msg)
    return error


def altgc_magic(line: str) -> Any:
    """``%altgc why|release|watch|report|collect|stats|notices ...``"""
    try:
        return _magic(line)
    except (KeyError, ValueError) as exc:
        msg = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
        raise _usage_error(msg) from None


def _release(rest: list[str], ns: dict[str, Any]) -> None:
    dry = "--dry-run" in rest
    names = [a for a in rest if a != "--dry-run"]
    if len(names) != 1 or any(a.startswith("-") for a in names):
        raise ValueError("%altgc release [--dry-run] NAME (a watched label or a variable)")
    [name] = names
    if name not in watching.watches:
        if name not in ns:
            known = ", ".join(repr(k) for k in watching.watches) or "none"
            raise KeyError(
                f"%altgc release: {name!r} is neither a watched label nor a variable; "
                f"watched labels: {known}"
            )
        _watch_in_ns(ns[name], name)
    try:
        report = _explain.release(name, dry_run=dry)
    except (KeyError, ValueError) as exc:  # from the release code: not a usage error
        raise RuntimeError(f"%altgc release {name}: the release code failed: {exc!r}") from exc
    print(report)


def _magic(line: str) -> Any:
    st = _state
    if st is None:  # pragma: no cover - registered by load()
        raise RuntimeError("%load_ext altgc first")
    try:
        args = shlex.split(line)
    except ValueError as exc:
        raise ValueError(f"%altgc: {exc}") from None
    if not args:
        print("usage:" + _USAGE)
        return None
    cmd, rest = args[0], args[1:]
    ns = _user_ns()
    if cmd == "why":
        if not rest:
            raise ValueError("%altgc why: give a watched label or an expression")
        what = line.split(None, 1)[1].strip()
        if what in watching.watches:
            return _explain.explain(what)
        try:
            obj = eval(what, ns)
        except SyntaxError as exc:
            raise ValueError(f"%altgc why: {what!r} is not an expression ({exc.msg})") from None
        except (NameError, AttributeError, LookupError):
            known = ", ".join(repr(k) for k in watching.watches) or "none"
            raise KeyError(
                f"%altgc why: {what!r} is neither a watched label "
                f"nor a name in the namespace; watched labels: "
                f"{known}"
            ) from None
        e = _explain.explain(obj, literal=True)
        del obj
        return e
    if cmd == "release":
        _release(rest, ns)
        return None
    if cmd == "watch":
        if not rest:
            st.auto_min_size = st.auto_min_size or 1_000_000
            print(
                f"altgc: watching every new object of at least "
                f"{st.auto_min_size} bytes that a cell binds"
            )
            return None
        if rest[0] == "--off":
            st.auto_min_size = None
            print("altgc: automatic watching off")
            return None
        if rest[0] == "--min-size":
            if len(rest) != 2:
                raise ValueError("%altgc watch --min-size SIZE")
            st.auto_min_size = _parse_size(rest[1])
            print(
                f"altgc: watching every new object of at least "
                f"{st.auto_min_size} bytes that a cell binds"
            )
            return None
        missing = [n for n in rest if n not in ns]
        if missing:
            raise KeyError(f"%altgc watch: no variable named {', '.join(missing)}")
        for name in rest:
            _watch_in_ns(ns[name], name)
        st.bound_before = _watched_bindings()
        print("altgc: watching " + ", ".join(rest))
        return None
    if cmd == "report":
        for w in _explain.watched():
            print(w)
        for e in _explain.survivors():
            print(e)
        return None
    if cmd == "collect":
        before = {w.label for w in _explain.watched() if w.alive}
        n = gc.collect()
        m = _core.collect(2)
        freed = sorted(before - {w.label for w in _explain.watched() if w.alive})
        print(
            f"gc.collect(): {n} unreachable; altgc.collect(): {m}"
            + (f"; freed watched: {', '.join(freed)}" if freed else "")
        )
        return None
    if cmd == "stats":
        from . import stats

        print(stats())
        idx = _core._hg_stats()
        if idx is not None:
            print(_explain.HeapIndex(idx[0], idx[1], idx[2], idx[3] / 1e9))
        return None
    if cmd == "notices":
        if rest not in (["on"], ["off"]):
            raise ValueError("%altgc notices on|off")
        st.notices = rest[0] == "on"
        return None
    raise ValueError(
        f"%altgc: unknown command {cmd!r} (commands: why, release, watch, report, "
        "collect, stats, notices; %altgc alone shows the usage)"
    )


def load(ipython: Any) -> None:
    global _state
    if _state is not None and _state.shell is ipython:
        return
    _state = _State(ipython)
    ipython.register_magic_function(altgc_magic, "line", "altgc")
    ipython.events.register("pre_run_cell", _pre_run_cell)
    ipython.events.register("post_run_cell", _post_run_cell)


def unload(ipython: Any) -> None:
    global _state
    if _state is None:
        return
    for name, cb in (("pre_run_cell", _pre_run_cell), ("post_run_cell", _post_run_cell)):
        with contextlib.suppress(ValueError):
            ipython.events.unregister(name, cb)
    _state = None
