"""Release code: the statements that free an object, built from every named
root that reaches it (not only the paths an explanation shows), and
:func:`release`, which runs them and checks that the object died.

Each direct holder of the object is found (``gc.get_referrers`` and the
last steps of the reported paths); for each, the paths from every named
root to it.  A holder reached from a name the user can spell loses the
reference the holder has (``del cache['df']``, ``del
getter.__closure__[0].cell_contents``) -- never a name the user bound to
something else; a holder reached from IPython's, ``sys``'s or pyplot's
state is cut where that state starts (``del Out[3]``,
``get_ipython().InteractiveTB.tb = None``, ``plt.close(2)``).  What no
statement can release (a running function's local, a C extension's
reference) empties the code and is said in the note.
"""

from __future__ import annotations

import gc
import re
import sys
from collections.abc import Sequence
from typing import Any

from .. import _core
from .frames import stack_frames
from .index import build_index
from .paths import _MANAGED_DICT, _NO_KEY, describe_path, existing_dict, has_dict
from .roots import Root, ipython_shell
from .watching import process_rss

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
_ROOT_CUT = ("output_cache", "traceback", "matplotlib", "garbage")


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


def _inline_attrs(objs: list[Any], shown: set[int]) -> bool:
    """Whether some object of ``objs`` not on a reported path keeps its
    attributes inline (a managed dict never read)."""
    return any(
        id(o) not in shown and type(o).__flags__ & _MANAGED_DICT and not has_dict(o) for o in objs
    )


def _keys_of(holder: Any, target: Any) -> list[Any]:
    """The keys (of a dict) or attribute names (of an instance) by which
    ``holder`` refers to ``target``; ``[_NO_KEY]`` when not one of those."""
    try:
        if isinstance(holder, list):  # the last index first: no shifting
            idx = []
            for i, v in enumerate(holder):
                if v is target:
                    idx.append(i)
            return idx[::-1] or [_NO_KEY]
        d = holder if isinstance(holder, dict) else existing_dict(holder)
        if isinstance(d, dict) and not isinstance(holder, type):
            keys = []
            for k, v in d.items():  # a loop: a comprehension is a closure on 3.11
                if v is target:
                    keys.append(k)
            return keys or [_NO_KEY]
    except Exception:
        pass
    return [_NO_KEY]


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
    create the dict and change the heap explain() describes."""
    shown = shown or set()
    stmts: list[str] = []
    blockers: list[str] = []
    imports: list[str] = []
    cyclic = False  # a holder only the object itself leads to
    root_work: list[int] = []  # positions of cut roots: who else holds them?
    target = box[0]
    shell = ipython_shell()
    try:
        for r, info in zip(roots, infos, strict=True):
            if r is not target:
                continue
            if info.kind == "local":
                blockers.append(
                    f"the local variable {info.expr!r} of the {info.name} holds it "
                    "(it goes when that function returns)"
                )
            elif info.kind in _ROOT_CUT:
                stmts.append(info.release.format(step="", key=""))
        if unexplained:
            blockers.append(
                f"{unexplained} reference(s) from outside Python's heap (a C extension) "
                "hold it: only that extension can release them"
            )
        skip = {id(x) for x in exclude} | {id(f) for f in stack_frames()}
        skip |= {id(box), id(roots)}
        holders: dict[int, Any] = {}
        for h in path_holders:
            if id(h) not in skip and h is not target:
                holders.setdefault(id(h), h)
        for h in gc.get_referrers(target):
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
                cyclic = True  # only through the object: a cycle with it
            # a name the user can spell first: its cut works whatever else
            # reaches the holder (a running function's local among them);
            # but not a name that only leads into IPython's shell (the
            # main namespace's get_ipython.__self__...): IPython's own
            # roots spell those cuts as users know them
            found.sort(
                key=lambda item: (
                    shell is not None and _has(item[1], shell),
                    infos[item[0]].kind != "name",
                    len(item[1]),
                )
            )
            cut_holder = False
            for i, (pos, objs) in enumerate(found):
                info = infos[pos]
                if info.kind == "traceback":
                    root_work.append(pos)
                if i and (info.kind in ("name", "local") or cut_holder):
                    continue  # the first (shortest) cut already covers this holder
                cut_holder = info.kind == "name"
                for key in _keys_of(h, target):
                    rp = describe_path([*objs, target], info, key)
                    if _ipython_state(info, rp.steps[0]):
                        break  # IPython's own hidden names (_oh, Out...), traits: not a cut
                    if runnable(rp.release):
                        stmts.append(rp.release)
                        # a stored exception and its frames, a figure and
                        # its canvas: cycles, freed by a collection
                        cyclic = cyclic or info.kind in ("traceback", "matplotlib")
                        mod_ref = (f" {info.expr}.", f"{info.expr}.")
                        if (
                            info.kind == "name"
                            and info.expr
                            and (mod_ref[0] in rp.release or rp.release.startswith(mod_ref[1]))
                        ):
                            imports.append(f"import {info.expr}")
                    else:
                        blockers.append(f"{rp.expr}: {rp.release}")
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
                    stmts.append(rp.release)
                root_work.append(qpos)
            del res
    finally:
        del target
    if (in_cycle and not stmts) or (cyclic and stmts):
        stmts.append(
            ("import altgc; altgc.collect(); " if _core.is_tracked(box[0]) else "")
            + "import gc; gc.collect();"  # the trailing ";": IPython shows no count
        )
    code = "\n".join(dict.fromkeys([*imports, *stmts]))
    if blockers:
        note = "no code can release it: " + "; ".join(dict.fromkeys(blockers))
        if code:
            note += " (the other holders: " + code.replace("\n", "; ") + ")"
        return "", note
    cells = [s for s in stmts if s.endswith(".cell_contents")]
    if cells:
        return code, (
            "deleting a closure cell's contents leaves the function defined; "
            "calling it afterwards raises NameError (deleting the function "
            "instead frees the cell too)"
        )
    return code, ""


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

    w = watching.watches.get(label)
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
