"""Cyclic garbage: two-list cycles, instance <-> dict cycles and a
self-referencing instance per round (test program for ``python -m altgc
compare``).  Prints how many of the cycles were freed once a full collection
ran -- all of them, under either collector."""

import gc
import sys
import weakref


class Node:
    def __init__(self, i):
        self.i = i
        self.me = self


n = int(sys.argv[1]) if len(sys.argv) > 1 else 30_000
probes = []
for i in range(n):
    a, b = [], []
    a.append(b)
    b.append(a)
    d = {"i": i}
    d["self"] = d
    node = Node(i)
    if i % 10 == 0:
        probes.append(weakref.ref(node))
del a, b, d, node
gc.collect()
print("rounds", n, "probes freed", sum(p() is None for p in probes), "of", len(probes))
