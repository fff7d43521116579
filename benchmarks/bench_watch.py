"""What ``altgc.watch()`` costs as the number of watches grows.

For N lists, each round watches all of them (``_core._watch_add``), frees
them together with N unwatched objects in the same address range (each of
those frees passes through the death hooks' address test), reads every
watch's state and discards it.  Printed: ns per watched object, and the
ratio of the round at N to the round at the smallest N -- flat when the
hooks and the token functions cost the same whatever the number of
watches, growing with N when they scan the table.  Medians of --repeat
rounds; nothing asserts on the figures.

    python benchmarks/bench_watch.py [--repeat N] [--sizes 1000 10000 40000]
"""

import argparse
import gc
import statistics
import time

from _common import import_altgc

altgc = import_altgc()
_core = altgc._core


def one_round(n):
    """Seconds for one round over n lists (see the module docstring)."""
    objs = [[i] for i in range(n)]
    t0 = time.perf_counter()
    tokens = [_core._watch_add(o) for o in objs]
    junk = [object() for _ in range(n)]
    del junk, objs
    dead = sum(not _core._watch_state(t)[0] for t in tokens)
    for t in tokens:
        _core._watch_discard(t)
    elapsed = time.perf_counter() - t0
    assert dead == n, (dead, n)  # every watch learned of its death
    return elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 40_000])
    args = parser.parse_args(argv)
    gc.disable()
    rows = []
    for n in args.sizes:
        per = statistics.median(one_round(n) for _ in range(args.repeat)) / n * 1e9
        rows.append((n, per))
    base = rows[0][1]
    print(f"{'watches':>10} {'ns per watch':>14} {'vs ' + str(rows[0][0]):>10}")
    for n, per in rows:
        print(f"{n:>10,} {per:>14.0f} {per / base:>9.2f}x")


if __name__ == "__main__":
    main()
