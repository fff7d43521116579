"""``python -m altgc demo``: builds the same small heap twice -- cycles of lists, dicts,
instances with ``__del__``, a weakref with a callback, a legacy-finalizer
cycle, live structures around them -- and lets each collector loose on one
copy: altgc (after a non-destructive look with ``find_unreachable``) and the
builtin gc (which is given only its copy to look at: everything older is
frozen).  It prints side by side what each found, freed and how long it took.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import weakref
from typing import Any, ClassVar, TextIO, TypeVar

import altgc

from .._stats import fmt_ns
from . import fail

T = TypeVar("T")


class Node:
    """A plain instance that takes part in cycles."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.peer: object = None


class Finalized(Node):
    """An instance with a ``__del__`` (PEP 442 finalizer)."""

    log: ClassVar[list[str]] = []

    def __del__(self) -> None:
        Finalized.log.append(self.name)


def build_heap(size: int, keep: list[object]) -> list[object]:
    """Build the demo heap; return every container it made.

    ``keep`` receives the objects that stay reachable.  The rest is cyclic
    garbage once this function returns.
    """
    made: list[object] = []

    def mk(obj: T) -> T:
        made.append(obj)
        d = getattr(obj, "__dict__", None)
        if d is not None:
            made.append(d)
        return obj

    for i in range(size):
        # a two-list cycle
        a: list[object] = mk([])
        b: list[object] = mk([])
        a.append(b)
        b.append(a)
        # a dict <-> instance cycle
        n = mk(Node(f"node{i}"))
        d = mk({"owner": n})
        n.peer = d
        # a finalizer cycle with a weakref callback watching it
        f = mk(Finalized(f"fin{i}"))
        f.peer = f
        mk(weakref.ref(f, lambda wr: None))
        # something that survives, pointing into nothing cyclic
        keep.append(mk([mk({"i": i}), mk((i, mk([])))]))
    return made


def _run_collector(collector: str, size: int) -> dict[str, Any]:
    keep: list[object] = []
    Finalized.log = []
    gc.collect()
    if collector == "builtin":
        gc.freeze()  # the builtin gc then sees only the new heap
    made = build_heap(size, keep)
    probes = [weakref.ref(o) for o in made if isinstance(o, Node)]
    found: int | None = None
    look_ns = 0
    if collector == "altgc":
        for obj in made:
            if gc.is_tracked(obj):
                altgc.track(obj)
        del made
        examined = len(altgc.get_objects())
        t = time.perf_counter_ns()
        groups = altgc.find_unreachable()
        look_ns = time.perf_counter_ns() - t
        found = sum(len(g) for g in groups)
        del groups
    else:
        del made
        examined = len(gc.get_objects())
    t = time.perf_counter_ns()
    n = altgc.collect() if collector == "altgc" else gc.collect()
    took = time.perf_counter_ns() - t
    freed = sum(1 for p in probes if p() is None)
    result: dict[str, Any] = {
        "examined": examined,
        "found": n,
        "looked": found,
        "look_ns": look_ns,
        "collect_ns": took,
        "finalizers": len(Finalized.log),
        "nodes_freed": f"{freed}/{len(probes)}",
        "kept alive": len(keep),
    }
    if collector == "builtin":
        gc.unfreeze()
    else:
        info = altgc.last_collection()
        result["info"] = info
    return result


def demo(size: int, out: TextIO | None = None) -> int:
    """Run the side-by-side demo; return a process exit code."""
    was_enabled = gc.isenabled()
    gc.disable()
    altgc.disable()
    try:
        a = _run_collector("altgc", size)
        b = _run_collector("builtin", size)
    finally:
        altgc.enable()
        if was_enabled:
            gc.enable()
    if out is None:
        out = sys.stdout
    w = out.write
    w(
        f"altgc {altgc.__version__} demo on Python {sys.version.split()[0]}: "
        f"{size} copies of a heap with list, dict, instance and finalizer "
        f"cycles\n\n"
    )
    rows = [
        ("containers the collector sees", a["examined"], b["examined"]),
        ("unreachable (find_unreachable)", a["looked"], "-"),
        ("  time to look", fmt_ns(a["look_ns"]), "-"),
        ("unreachable found by collect()", a["found"], b["found"]),
        ("  collection time", fmt_ns(a["collect_ns"]), fmt_ns(b["collect_ns"])),
        ("__del__ run", a["finalizers"], b["finalizers"]),
        ("instances freed", a["nodes_freed"], b["nodes_freed"]),
        ("live structures kept", a["kept alive"], b["kept alive"]),
    ]
    w(f"{'':34}{'altgc':>16}{'builtin gc':>16}\n")
    for label, x, y in rows:
        w(f"{label:34}{x!s:>16}{y!s:>16}\n")
    w(
        "(The builtin gc also sees this demo's own bookkeeping -- the lists\n"
        " holding the probes and the survivors -- which altgc was not given.)\n"
    )
    info = a["info"]
    w("\nWhat altgc's collection did:\n")
    w(str(info) + "\n")
    agree = a["found"] == b["found"] and a["nodes_freed"] == b["nodes_freed"]
    w("\nThe two collectors " + ("agree." if agree else "DISAGREE.") + "\n")
    ok = _install_demo(size * 50, out)
    return 0 if agree and ok else 1


def _install_demo(cycles: int, out: TextIO) -> bool:
    """altgc installed as this process's collector for a short loop that
    drops two-instance cycles; returns True if they were all freed."""
    w = out.write
    gens_before = altgc.stats().generations
    with altgc.installed():
        adopted = altgc.install_info().adopted
        probes = []
        t0 = time.perf_counter_ns()
        for i in range(cycles):
            a, b = Node("a"), Node("b")
            a.peer, b.peer = b, a
            if i % 100 == 0:
                probes.append(weakref.ref(a))
        loop_ns = time.perf_counter_ns() - t0
        alive_before_collect = sum(p() is not None for p in probes)
        # What altgc did on its own is what it did before this explicit
        # collect().
        gens_auto = altgc.stats().generations
        altgc.collect()
        gens = altgc.stats().generations
        info = altgc.install_info()
    runs = [g.collections - g0.collections for g, g0 in zip(gens_auto, gens_before, strict=False)]
    freed = sum(g.collected - g0.collected for g, g0 in zip(gens_auto, gens_before, strict=False))
    freed_final = sum(g.collected - g0.collected for g, g0 in zip(gens, gens_auto, strict=False))
    alive = sum(p() is not None for p in probes)
    w(
        f"\nInstall mode -- altgc.install() made altgc this process's cycle "
        f"collector:\n"
        f"  adopted the {adopted} containers the builtin gc tracked, then "
        f"every new one ({info.adopted - adopted} more)\n"
        f"  a loop dropping {cycles} two-instance cycles ran in "
        f"{fmt_ns(loop_ns)} with the builtin gc off;\n"
        f"  altgc collected on its own: {runs[0]}/{runs[1]}/{runs[2]} "
        f"collections of generation 0/1/2, {freed} objects freed\n"
        f"  sampled cycles still alive before the final collect(): "
        f"{alive_before_collect} of {len(probes)}; after: {alive} "
        f"(it freed {freed_final} objects)\n"
        f"  altgc.uninstall() gave the builtin gc back its settings.\n"
    )
    return alive == 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo", help="run altgc and the builtin gc side by side on a small heap with cycles"
    )
    p.add_argument("--size", type=int, default=200, help="copies of the demo heap (default: 200)")


def main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run ``python -m altgc demo`` with parsed arguments."""
    if args.size < 1:
        return fail("demo", "--size must be at least 1")
    return demo(args.size)
