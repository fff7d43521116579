"""explain() along a long chain of instances whose attributes live inline.

A module global holds the head of a chain of N plain instances (no
``__slots__``), each linked by ``n.next = Node()``; the tail is watched and
explained.  From 3.11 such instances keep their attributes inline until
something reads their ``__dict__``; explain names every step ``.next``
without making one (``paths.inline_attribute``, the class's candidate names
gathered once per description).  Printed: the steps, the seconds explain
took, and how many instance dicts exist afterwards (must be 0).

    python benchmarks/probe_explain_inline_chain.py [N]     # N = 100000
"""

import gc
import sys
import time
import types

from _common import import_altgc


class Node:
    pass


def main():
    altgc = import_altgc()
    n_nodes = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    mod = types.ModuleType("chainmod")
    sys.modules["chainmod"] = mod
    mod.head = n = Node()
    for _ in range(n_nodes):
        n.next = Node()
        n = n.next
    altgc.watch(n, "tail")
    del n
    t0 = time.perf_counter()
    e = altgc.explain("tail")
    dt = time.perf_counter() - t0
    dicts = sum(1 for o in gc.get_objects() if type(o) is dict and "next" in o and len(o) == 1)
    expr = e.paths[0].expr
    print(f"python {sys.version.split()[0]}, chain of {n_nodes} instances")
    print(f"explain: {len(e.paths[0].steps)} steps in {dt:.2f} s; path {expr[:40]}...{expr[-12:]}")
    print(f"instance dicts made: {dicts}")


if __name__ == "__main__":
    main()
