"""A fixed collection workload to run under callgrind (instruction counts,
which the machine's load does not move), for one collector at a time.

    python benchmarks/probe_collect.py SHAPE COLLECTOR [N]

SHAPE      live   N (default 2*10**5) live lists x 4 refs (bench_full's
                  graph), 1 warm-up + 5 full collections
           rings  pyperformance's gc_collect shape (100 rings x 21 nodes),
                  built and collected N (default 20) times
           trav   pyperformance's gc_traversal shape (1000 nested lists),
                  N (default 5) full collections
COLLECTOR  altgc | builtin

The builtin gc is disabled and the start-up heap frozen first, so both see
only the objects built here (the builtin's gc.collect() also runs once over
the start-up heap, before the freeze).  Prints the time per collection;
under callgrind, compare the inclusive count of altgc's ``agc_collect``
with the builtin's ``gc_collect``:

    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=cg.out \\
        python benchmarks/probe_collect.py live altgc
    callgrind_annotate --inclusive=yes cg.out | grep -E "agc_collect |gc_collect "
"""

import gc
import sys
import time

from _common import import_altgc
from bench_full import build_graph
from bench_pyperformance_shapes import N_LEVELS, create_recursive_containers, create_rings


def main(argv):
    if (
        len(argv) < 2
        or argv[0] not in ("live", "rings", "trav")
        or argv[1] not in ("altgc", "builtin")
    ):
        print(__doc__, file=sys.stderr)
        return 2
    shape, which = argv[0], argv[1]
    altgc = import_altgc()
    collect = altgc.collect if which == "altgc" else gc.collect
    track = altgc.track if which == "altgc" else id
    altgc.disable()
    gc.disable()
    gc.collect()
    gc.freeze()
    times = []
    if shape == "live":
        n = int(argv[2]) if len(argv) > 2 else 2 * 10**5
        nodes = build_graph(n)
        for node in nodes:
            track(node)
        collect()
        for _ in range(5):
            t0 = time.perf_counter()
            collect()
            times.append(time.perf_counter() - t0)
    elif shape == "rings":
        for _ in range(int(argv[2]) if len(argv) > 2 else 20):
            heads = create_rings(100, 20)
            objs = gc.get_objects()
            for o in objs:
                track(o)
            del objs, heads, o
            t0 = time.perf_counter()
            found = collect()
            times.append(time.perf_counter() - t0)
            assert found >= 2100, found
    else:
        heap = create_recursive_containers(N_LEVELS)
        objs = gc.get_objects()
        for o in objs:
            track(o)
        del objs, o
        for _ in range(int(argv[2]) if len(argv) > 2 else 5):
            t0 = time.perf_counter()
            collect()
            times.append(time.perf_counter() - t0)
        del heap
    print(
        "%s %s: %.1f us per collection (min of %d)" % (shape, which, min(times) * 1e6, len(times))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
