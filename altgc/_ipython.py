"""IPython / Jupyter integration: ``%load_ext altgc``.

Registers the line magic ``%altgc``::

    %altgc why NAME_OR_EXPR        why is it still alive? (a watched label or
                                   an expression evaluated in the namespace)
    %altgc release NAME            run the code that frees it (a watched label
                                   or a variable) and check that it died
    %altgc release --dry-run NAME  show that code, run nothing
    %altgc release -- -NAME        a label starting with "-" (after "--"
                                   nothing is an option)
    %altgc watch NAME [NAME ...]   watch these variables
    %altgc watch                   watch every new object holding at least
                                   --min-size bytes (default 1 MB) that a cell
                                   binds, or leaves alive unbound (a failed
                                   cell's locals, a cycle, an open figure)
    %altgc watch --min-size 10MB   ... with another threshold
    %altgc watch-threshold 50MB    the same (sizes: 500KB, 10MB, 1.5GiB)
    %altgc watch --off             stop watching new objects automatically
    %altgc top [N]                 the N (10) named roots holding the most
                                   memory, biggest first, with the code that
                                   releases each
    %altgc cells                   what each cell left alive that no name of
                                   yours holds (Out[n], _, a traceback, a
                                   figure, a cache, a cycle), with the code
    %altgc report                  watched objects; survivors with their cause
    %altgc collect                 gc.collect() and altgc.collect()
    %altgc stats                   altgc's collector and heap-index figures
    %altgc notices on|off          the post-cell notices below

After each cell, a watched object whose name the cell deleted but that is
still alive gets a one-line notice (rich display output) naming what holds
it and the command that frees it.  A wrong name or bad arguments raise
IPython's ``UsageError`` (one line, no traceback).  The line is taken as
typed: no ``$name`` or ``{expr}`` expansion (a label may hold them).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import re
import shlex
from typing import Any

from . import _core, _explain
from ._explain import leftovers, watching
from ._explain.held import deep_size
from ._explain.holders import _NOT_DATA, is_report
from ._explain.notice import Notice, holder_name, what

_USAGE = __doc__.split("::", 1)[1].split("After each cell")[0]

#: the largest size ``--min-size`` takes (a larger one is a typo)
_MAX_SIZE = 2**63 - 1
#: the smallest reference cycle the cell log records unless auto-watching
#: asks for smaller ones (never below _CYCLE_FLOOR: IPython leaves cycles of
#: some 15 KB of its own after every failed cell)
_CYCLE_MIN = leftovers.log.cycle_min_bytes
_CYCLE_FLOOR = 64 * 1024


class _State:
    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.notices = True
        self.auto_min_size: int | None = None
        self.bound_before: dict[str, int] = {}  # label -> id when bound
        self.names_before: dict[str, int] = {}  # name -> id of its value


_state: _State | None = None


def _parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:([kKmMgG])(i?))?[bB]?\s*", text)
    if not m:
        raise ValueError(
            f"%altgc watch: {text!r} is not a size (examples: 1000000, 500KB, 10MB, 1GiB)"
        )
    unit = (m.group(2) or "").lower()
    base = 1024 if m.group(3) else 1000
    mult = {"": 1, "k": base, "m": base**2, "g": base**3}[unit]
    n = float(m.group(1)) * mult
    if not n <= _MAX_SIZE:  # inf too
        raise ValueError(f"%altgc watch: {text!r} is too large a size (at most 8 EiB)")
    return int(n)


def _set_auto(n: int | None) -> None:
    """Auto-watch objects of at least ``n`` bytes (None: stop); the cell
    log records the reference cycles of that size."""
    assert _state is not None
    _state.auto_min_size = n
    cycle_min = _CYCLE_MIN if n is None else max(min(_CYCLE_MIN, n), _CYCLE_FLOOR)
    leftovers.log.cycle_min_bytes = cycle_min


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
    _state.names_before = {k: id(v) for k, v in _user_ns().items() if isinstance(k, str)}
    leftovers.log.before()


def _post_run_cell(*args: Any) -> None:
    st = _state
    if st is None:
        return
    result = args[0] if args else None
    cell = getattr(result, "execution_count", None) or st.shell.execution_count
    error = getattr(result, "error_in_exec", None)
    if _is_usage_error(error):
        # a magic refused its arguments: no code of the user ran, and the
        # frames of its traceback are IPython's (the shell) and altgc's own
        error = None
    value = getattr(result, "result", None)
    if is_report(value):  # an answer of altgc's (%altgc top): not the user's
        value = None
    new = leftovers.log.after(cell, value, error)
    del value
    del result, error
    ns = _user_ns()
    dropped: list[str] = []  # labels of what the cell made and left unbound
    if st.auto_min_size is not None:
        thr = st.auto_min_size
        before = st.names_before
        for name, obj in list(ns.items()):
            # the names the cell bound, or bound again to another object
            if not isinstance(name, str) or name.startswith("_") or before.get(name) == id(obj):
                continue
            old = watching.watches.get(name)
            if issubclass(type(obj), _NOT_DATA) or (
                old is not None and _core._watch_state(old.token)[0]
            ):
                continue
            if deep_size(obj, stop_at=thr) >= thr:
                with contextlib.suppress(TypeError):
                    _watch_in_ns(obj, name)
            del obj
        for entry in new:
            if entry.kind in ("traceback", "cycle", "matplotlib"):
                label = _watch_leftover(entry, cell, thr)
                if label is not None:
                    dropped.append(label)
    if not st.notices:
        return
    now = _watched_bindings()
    gone = [label for label in st.bound_before if label not in now]
    first = True
    for label in [*gone, *dropped]:
        w = watching.watches.get(label)
        if w is None or not _core._watch_state(w.token)[0]:
            continue
        e = _explain.explain(label, 3, refresh=first)
        first = False
        if not e.alive:
            continue
        _show(
            Notice(
                what(label, e.type_name, e.retained_bytes),
                tuple(dict.fromkeys(holder_name(p) for p in e.paths)),
                _release_command(label) if e.release else "",
                e.release,
                e.cause_text if e.release or not e.release_note else e.release_note,
            )
        )


def _is_usage_error(error: object) -> bool:
    try:
        from IPython.core.error import UsageError
    except ImportError:  # pragma: no cover - the hooks run under IPython
        return False
    return isinstance(error, UsageError)


def _release_command(label: str) -> str:
    """The line that releases the watched ``label``, as a notice prints it:
    ``%altgc release df``, ``%altgc release -- -x`` (a label starting with
    ``-``), or the Python call when no magic line can spell the label (a
    line break or another unprintable character in it)."""
    if not label.replace("\t", " ").isprintable():
        return f"import altgc; print(altgc.release({label!r}))"
    sep = "-- " if label.startswith("-") else ""
    return f"%altgc release {sep}{_quote(label)}"


def _quote(label: str) -> str:
    """``label`` as one argument of the magic (``shlex``): as it is when
    it can be, else quoted (``"my df"``, ``"Bob's"``; ``"df?"``: a line
    ending in ``?`` is IPython's help)."""
    if re.fullmatch(r"[^\s'\"\\]+", label) and not label.endswith("?"):
        return label
    if '"' not in label and "\\" not in label:
        return f'"{label}"'
    if "'" not in label:
        return f"'{label}'"
    # both quotes: escaped in double quotes (shlex's '"'"' is unreadable)
    return '"' + label.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _watch_leftover(entry: leftovers.Entry, cell: int, threshold: int) -> str | None:
    """Watch what a cell made and left alive unbound (a failed cell's
    local, a cycle, an open figure) when it holds ``threshold`` bytes;
    its label, or None (also when it is watched already: a cycle the
    disabled gc leaves is found again after every cell)."""
    obj = entry.ref.get()
    if obj is None:
        return None
    for w in list(watching.watches.values()):
        if _core._watch_get(w.token) is obj:
            return None
    size = entry.bytes if entry.kind == "cycle" else deep_size(obj, stop_at=threshold)
    if size < threshold:
        return None
    if entry.kind == "traceback":
        base = entry.label.split(" ", 1)[0]
    elif entry.kind == "matplotlib":
        base = "figure" + entry.label.rsplit(" ", 1)[-1]
    else:
        base = "cycle"
    label = base
    old = watching.watches.get(label)
    if old is not None and _core._watch_state(old.token)[0]:
        label = f"{base}@In[{cell}]"
    try:
        _explain.watch(obj, label)
    except TypeError:
        return None
    return label


def _show(notice: Notice) -> None:
    """A notice as rich display output (HTML in Jupyter, text elsewhere)."""
    try:
        ipd: Any = importlib.import_module("IPython.display")
    except ImportError:  # pragma: no cover - the hooks run under IPython
        print(notice)
        return
    ipd.display(notice)


def _set_threshold(text: str) -> None:
    n = _parse_size(text)
    _set_auto(n)
    _say_threshold(n)


def _say_threshold(n: int) -> None:
    from ._explain.explanation import fmt_bytes

    print(
        f"altgc: watching every new object holding at least {fmt_bytes(n)} that a cell "
        "binds or leaves alive unbound"
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


# IPython passes the line as typed (IPython.core.magic.no_var_expand): its
# $name and {expr} expansion would change a label ("cost {n}", "$x") and an
# expression of %altgc why
altgc_magic._ipython_magic_no_var_expand = True  # type: ignore[attr-defined]


_RELEASE_USAGE = (
    "%altgc release [--dry-run] [--] NAME (a watched label or a variable; "
    'after "--" a label starting with "-")'
)


def _release(rest: list[str], ns: dict[str, Any]) -> None:
    dry = False
    names: list[str] = []
    options = True
    for a in rest:
        if options and a == "--":
            options = False
        elif options and a == "--dry-run":
            dry = True
        elif options and a.startswith("-") and len(a) > 1:
            hint = f"; a label starting with '-': %altgc release -- {_quote(a)}"
            raise ValueError(f"%altgc release: unknown option {a!r}{hint}")
        else:
            names.append(a)
    if len(names) != 1:
        raise ValueError(_RELEASE_USAGE)
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


def _exc_text(exc: BaseException) -> str:
    """``ZeroDivisionError: division by zero``, on one line (an exception
    whose ``str()`` fails gives its type only)."""
    try:
        text = str(exc)
    except Exception:
        text = ""
    text = " ".join(text.split())
    if len(text) > 200:
        text = text[:199] + "\u2026"
    return type(exc).__name__ + (f": {text}" if text else "")


def _why(what: str, ns: dict[str, Any]) -> Any:
    """``%altgc why WHAT``: a watched label (as typed, or quoted), else an
    expression evaluated in the namespace."""
    if not what:
        raise ValueError("%altgc why: give a watched label or an expression")
    if what in watching.watches:
        return _explain.explain(what)
    try:
        words = shlex.split(what)
    except ValueError:  # an expression need not be shell words: d['it\'s']
        words = []
    if len(words) == 1 and words[0] in watching.watches:
        return _explain.explain(words[0])
    known = ", ".join(repr(k) for k in watching.watches) or "none"
    try:
        obj = eval(what, ns)
    except SyntaxError as exc:
        raise ValueError(f"%altgc why: {what!r} is not an expression ({exc.msg})") from None
    except NameError:
        raise KeyError(
            f"%altgc why: {what!r} is neither a watched label "
            f"nor a name in the namespace; watched labels: "
            f"{known}"
        ) from None
    except Exception as exc:
        raise KeyError(
            f"%altgc why: {what!r} is not a watched label and evaluating it raised "
            f"{_exc_text(exc)}; watched labels: {known}"
        ) from None
    e = _explain.explain(obj, literal=True)
    del obj
    return e


def _no_argument(cmd: str, rest: list[str]) -> None:
    if rest:
        raise ValueError(f"%altgc {cmd} takes no argument")


def _magic(line: str) -> Any:
    st = _state
    if st is None:  # a reference to the magic kept after %unload_ext altgc
        raise ValueError("%altgc: the altgc extension is not loaded (%load_ext altgc)")
    head = line.split(None, 1)
    if head and head[0] == "why":  # an expression: not split into shell words
        return _why(head[1].strip() if len(head) > 1 else "", _user_ns())
    try:
        args = shlex.split(line)
    except ValueError as exc:
        raise ValueError(f"%altgc: {exc}") from None
    if not args:
        print("usage:" + _USAGE)
        return None
    cmd, rest = args[0], args[1:]
    ns = _user_ns()
    if cmd == "release":
        _release(rest, ns)
        return None
    if cmd == "watch":
        if not rest:
            n = st.auto_min_size or 1_000_000
            _set_auto(n)
            _say_threshold(n)
            return None
        if rest[0] == "--off":
            _no_argument("watch --off", rest[1:])
            _set_auto(None)
            print("altgc: automatic watching off")
            return None
        if rest[0] == "--min-size":
            if len(rest) != 2:
                raise ValueError("%altgc watch --min-size SIZE")
            return _set_threshold(rest[1])
        missing = [n for n in rest if n not in ns]
        if missing:
            raise KeyError(f"%altgc watch: no variable named {', '.join(missing)}")
        for name in rest:
            _watch_in_ns(ns[name], name)
        st.bound_before = _watched_bindings()
        print("altgc: watching " + ", ".join(rest))
        return None
    if cmd == "watch-threshold":
        if len(rest) != 1:
            raise ValueError("%altgc watch-threshold SIZE (examples: 500KB, 50MB, 1GiB)")
        return _set_threshold(rest[0])
    if cmd == "top":
        n = 10
        if rest:
            # ASCII digits (int() refuses "²"); a huge N: every holder
            if len(rest) > 1 or not re.fullmatch(r"[0-9]+", rest[0]):
                n = 0
            else:
                digits = rest[0].lstrip("0")
                n = int(digits or "0") if len(digits) <= 18 else _MAX_SIZE
        if n < 1:
            raise ValueError("%altgc top [N] (N: how many holders, a positive number)")
        return _explain.top(n)
    if cmd == "cells":
        if rest:
            raise ValueError("%altgc cells takes no argument")
        return _explain.cells()
    if cmd == "report":
        _no_argument(cmd, rest)
        for w in _explain.watched():
            print(w)
        for e in _explain.survivors():
            print(e)
        return None
    if cmd == "collect":
        _no_argument(cmd, rest)
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
        _no_argument(cmd, rest)
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
        f"%altgc: unknown command {cmd!r} (commands: why, release, watch, "
        "watch-threshold, top, cells, report, collect, stats, notices; %altgc alone "
        "shows the usage)"
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
    # the magic goes too: %altgc is then IPython's "not found"
    manager = getattr(ipython, "magics_manager", None)
    line_magics = getattr(manager, "magics", {}).get("line", {})
    if line_magics.get("altgc") is altgc_magic:
        del line_magics["altgc"]
        with contextlib.suppress(AttributeError):
            delattr(getattr(manager, "user_magics", None), "altgc")
    _set_auto(None)
    _state = None
