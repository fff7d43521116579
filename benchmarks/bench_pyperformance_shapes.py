"""The heap shapes of pyperformance's gc_traversal and gc_collect.

  gc_traversal  1000 nested lists, level k holding k references to level
                k-1 (499,500 references in all), all alive, no garbage.
                Times one full collection (gc.collect() vs altgc.collect()).
  gc_collect    100 rings of 21 doubly linked instances (next/prev), all
                garbage.  Each measurement builds fresh rings, then times
                one full collection that finds and frees them.

The shapes are rebuilt here (not imported from pyperformance).  Both
collectors see the same objects: the builtin gc is disabled and the
rest of the heap frozen; altgc registers every object the builtin gc
tracks outside the permanent generation (on 3.10 that includes the
instances' __dict__s, which the builtin gc also examines).

Each sample sums `loops` collections; ratio = median altgc sample /
median builtin sample.  Goal <= 1.0, floor <= 1.3 (as bench_full).
"""

import gc
import sys

from _common import (
    alternate,
    consume,
    import_altgc,
    isolate_builtin_heap,
    parse_args,
    perf_counter,
    ratio_row,
    run_main,
    track_new_objects,
)

GOAL = 1.0
FLOOR = 1.3
N_LEVELS = 1000
CYCLES = 100
LINKS = 20


def create_recursive_containers(n_levels):
    current = []
    for n in range(n_levels):
        current = [current] * n
    return current


class Node:
    def __init__(self):
        self.next = None
        self.prev = None

    def link_next(self, other):
        self.next = other
        other.prev = self


def create_rings(n_cycles, n_links):
    """n_cycles rings of n_links + 1 Nodes each; returns one node per ring."""
    heads = []
    for _ in range(n_cycles):
        head = current = Node()
        for _ in range(n_links):
            node = Node()
            current.link_next(node)
            current = node
        current.link_next(head)
        heads.append(head)
    return heads


def bench_traversal(report, args, altgc):
    loops = 5 if args.quick else 20
    heap = create_recursive_containers(N_LEVELS)
    registered = track_new_objects(altgc)
    gc.collect()
    altgc.collect()

    def measure(collect):
        def run():
            total, found = 0.0, 0
            for _ in range(loops):
                t0 = perf_counter()
                found += collect()
                total += perf_counter() - t0
            return total, found

        return run

    t_builtin, t_altgc, found_b, found_a = alternate(
        args.repeat, measure(gc.collect), measure(altgc.collect)
    )
    if any(found_a) or any(found_b):
        report.warn(
            f"gc_traversal: garbage found in a live heap (builtin {found_b!r}, altgc {found_a!r})"
        )
    report.add(
        ratio_row(
            "gc_traversal",
            "%d nested lists, 499,500 refs, live; %d collections per sample" % (N_LEVELS, loops),
            t_builtin,
            t_altgc,
            goal=GOAL,
            floor=FLOOR,
            extra={"loops": loops, "registered": registered},
        )
    )
    consume(map(altgc.untrack, gc.get_objects()))
    del heap
    gc.collect()


def bench_collect(report, args, altgc):
    loops = 10 if args.quick else 50
    expected = CYCLES * (LINKS + 1)
    registered = []

    def measure(collect, track):
        # Identical steps on both sides except track and collect.
        def run():
            total, found = 0.0, []
            for _ in range(loops):
                heads = create_rings(CYCLES, LINKS)
                if track:
                    registered.append(track_new_objects(altgc))
                else:
                    consume(map(id, gc.get_objects()))
                del heads
                t0 = perf_counter()
                found.append(collect())
                total += perf_counter() - t0
                gc.collect()  # nothing should be left
            return total, found

        return run

    t_builtin, t_altgc, found_b, found_a = alternate(
        args.repeat, measure(gc.collect, False), measure(altgc.collect, True)
    )
    counts_b = sorted({c for f in found_b for c in f})
    counts_a = sorted({c for f in found_a for c in f})
    if counts_a != counts_b or counts_b[0] < expected:
        report.warn(
            "gc_collect: unreachable counts differ: builtin %r, "
            "altgc %r (expected >= %d)" % (counts_b, counts_a, expected)
        )
    report.add(
        ratio_row(
            "gc_collect",
            "%d rings x %d nodes, all garbage; %d collections per sample"
            % (CYCLES, LINKS + 1, loops),
            t_builtin,
            t_altgc,
            goal=GOAL,
            floor=FLOOR,
            extra={
                "loops": loops,
                "builtin_found": counts_b,
                "altgc_found": counts_a,
                "registered": sorted(set(registered)),
            },
        )
    )


def bench(report, args):
    altgc = import_altgc()
    was_enabled = altgc.isenabled()
    altgc.disable()
    isolate_builtin_heap()
    try:
        bench_traversal(report, args, altgc)
        bench_collect(report, args, altgc)
    finally:
        gc.unfreeze()
        gc.enable()
        if was_enabled:
            altgc.enable()


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv)
    return run_main(
        "bench_pyperformance_shapes",
        "pyperformance gc_traversal / gc_collect shapes",
        args,
        lambda report: bench(report, args),
    )


if __name__ == "__main__":
    sys.exit(main())
