"""Cycles with ``__del__`` and weakref callbacks (test program for
``python -m altgc compare``).  Every finalizer runs once and every callback
is called once, whichever collector frees the cycles; the program prints the
counts, sorted, so the output does not depend on the order."""

import gc
import sys
import weakref

finalized = []
called = []


class Finalized:
    def __init__(self, i):
        self.i = i
        self.peer = None

    def __del__(self):
        finalized.append(self.i)


class Watched:
    def __init__(self, i):
        self.i = i
        self.me = self


n = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
refs = []
for i in range(n):
    a, b = Finalized(i), Finalized(-i - 1)
    a.peer, b.peer = b, a
    w = Watched(i)
    refs.append(weakref.ref(w, lambda r, i=i: called.append(i)))
del a, b, w
gc.collect()
print("finalizers", len(finalized), "distinct", len(set(finalized)))
print("callbacks", len(called), "distinct", len(set(called)))
print("dead refs", sum(r() is None for r in refs))
