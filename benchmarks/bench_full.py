"""Full collection over a random graph of 10**6 lists: altgc vs builtin gc.

Heap: N lists, each holding 4 references: one to the next list (a ring,
so every list has a referrer and none dies by refcount alone) and three
to lists chosen at random (fixed seed).

Both collectors examine the same objects: the builtin gc is disabled and
everything it tracked before is frozen (gc.freeze()), so gc.collect()
sees only the new lists (plus the root list and a handful of strays);
altgc registers exactly the N lists.

  full_live   the N lists are alive (held by a root list that altgc does
              not register, so its references count as external).
              Times gc.collect() vs altgc.collect() on the same heap.
  full_dead   the N lists are cyclic garbage (nothing outside refers to
              them).  A fresh, identical heap is built for every single
              measurement; times gc.collect() vs altgc.collect(), each
              finding and freeing all N.

--size N sets N (10**6 by default; item 4 of issue 15 also asks 10**7).

Ratio = median altgc time / median builtin time.  Floor <= 1.3,
goal <= 1.0.
"""

import gc
import random
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
)

FLOOR = 1.3
GOAL = 1.0
SEED = 20240611


def build_graph(n, seed=SEED):
    """Return a list of n lists; list i -> list i+1 (ring) + 3 random."""
    rng = random.Random(seed)
    nodes = [[] for _ in range(n)]
    picks = rng.choices(nodes, k=3 * n)
    it = iter(picks)
    nxt = nodes[1:] + nodes[:1]
    for node, after, a, b, c in zip(nodes, nxt, it, it, it, strict=False):
        node += (after, a, b, c)
    return nodes


def bench(report, args):
    altgc = import_altgc()
    n = args.size or (10**5 if args.quick else 10**6)
    reps = args.repeat
    was_enabled = altgc.isenabled()
    altgc.disable()
    isolate_builtin_heap()
    try:
        # -- (a) all live ---------------------------------------------------
        report.log("building %d live lists..." % n)
        nodes = build_graph(n)
        consume(map(altgc.track, nodes))
        gc.collect()  # warm up; survivors go to the oldest gen
        altgc.collect()

        def live(collect):
            def measure():
                t0 = perf_counter()
                found = collect()
                return perf_counter() - t0, found

            return measure

        t_builtin, t_altgc, found_b, found_a = alternate(
            reps, live(gc.collect), live(altgc.collect)
        )
        if any(found_a) or any(found_b):
            report.warn(
                "full_live: collections found garbage in a live heap "
                f"(builtin {found_b!r}, altgc {found_a!r})"
            )
        report.add(
            ratio_row(
                "full_live",
                "full collection, %d live lists x 4 refs" % n,
                t_builtin,
                t_altgc,
                goal=GOAL,
                floor=FLOOR,
                extra={"n": n, "builtin_found": found_b, "altgc_found": found_a},
            )
        )
        consume(map(altgc.untrack, nodes))
        del nodes
        gc.collect()

        # -- (b) all dead ---------------------------------------------------
        report.log("building %d dead lists x %d, twice..." % (n, reps))

        def dead(collect, track):
            # Identical steps on both sides; only track() and collect()
            # differ (id() is a stand-in of similar cost for track()).
            def measure():
                nodes = build_graph(n)
                consume(map(track, nodes))
                del nodes  # the lists are now cyclic garbage
                t0 = perf_counter()
                found = collect()
                elapsed = perf_counter() - t0
                left = gc.collect()
                if left:
                    report.warn(
                        "full_dead: builtin gc found %d objects left "
                        "after the measured collection" % left
                    )
                return elapsed, found

            return measure

        t_builtin, t_altgc, found_b, found_a = alternate(
            reps, dead(gc.collect, id), dead(altgc.collect, altgc.track)
        )
        if any(f != n for f in found_a) or any(f < n for f in found_b):
            report.warn(
                "full_dead: expected %d unreachable; builtin found "
                "%r, altgc found %r" % (n, found_b, found_a)
            )
        report.add(
            ratio_row(
                "full_dead",
                "full collection, %d dead lists x 4 refs (all freed)" % n,
                t_builtin,
                t_altgc,
                goal=GOAL,
                floor=FLOOR,
                extra={"n": n, "builtin_found": found_b, "altgc_found": found_a},
            )
        )
    finally:
        gc.unfreeze()
        gc.enable()
        if was_enabled:
            altgc.enable()


def add_args(parser):
    parser.add_argument(
        "--size",
        type=int,
        default=None,
        help="lists in the heap (default 10**6, 10**5 with --quick); 10**7 needs about 3 GiB",
    )


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv, extra=add_args)
    if args.size is not None and args.size < 10:
        raise SystemExit("bench_full.py: --size must be at least 10")
    return run_main(
        "bench_full",
        "Full collection, random graph of lists",
        args,
        lambda report: bench(report, args),
    )


if __name__ == "__main__":
    sys.exit(main())
