"""Young collections must not pay for the old generation.

Heap: OLD = 10**6 live lists (random graph, 4 references each, as in
bench_full) and, for every measurement, a fresh batch of YOUNG = 10**4
new lists, each holding two references to earlier lists of the batch
and two to random old lists (so a young collection meets references
into the old generation).  The batch is acyclic and dies by refcount
after the measurement.

  young_full_old   altgc.collect(0) with the OLD lists registered and in
                   generation 2, compared with the same collect(0) when
                   the OLD lists exist but are not registered (empty old
                   generation).  Both sides are altgc: ratio =
                   median(with old) / median(empty old).  Goal <= 1.5.
  young_vs_builtin info only: altgc.collect(0) with OLD in generation 2
                   vs the builtin gc.collect(0) on the same heap (builtin
                   gc: OLD in its oldest generation, the batch young).

Each sample sums `loops` young collections (a fresh batch each).
"""

import gc
import random
import sys

from _common import (
    consume,
    import_altgc,
    isolate_builtin_heap,
    parse_args,
    perf_counter,
    ratio_row,
    run_main,
)
from bench_full import build_graph

GOAL = 1.5


def make_batch(size, old, rng):
    batch = []
    append = batch.append
    n_old = len(old)
    for i in range(size):
        if i:
            append(
                [
                    batch[i - 1],
                    batch[rng.randrange(i)],
                    old[rng.randrange(n_old)],
                    old[rng.randrange(n_old)],
                ]
            )
        else:
            append([old[0], old[1]])
    return batch


def time_young(loops, old, rng, size, collect, track=None):
    """Sum of `loops` young collections, each over a fresh batch."""
    total = 0.0
    found = []
    for _ in range(loops):
        batch = make_batch(size, old, rng)
        if track is not None:
            consume(map(track, batch))
        t0 = perf_counter()
        found.append(collect(0))
        total += perf_counter() - t0
        del batch
    return total, found


def bench(report, args):
    altgc = import_altgc()
    n_old = 10**5 if args.quick else 10**6
    young = 10**3 if args.quick else 10**4
    loops = 5
    rng = random.Random(1234)
    was_enabled = altgc.isenabled()
    altgc.disable()
    isolate_builtin_heap()
    try:
        report.log("building %d old lists..." % n_old)
        old = build_graph(n_old)
        gc.collect()  # builtin gc: old lists -> its oldest generation
        t_empty, t_full, t_builtin = [], [], []
        found = {"empty": [], "full": [], "builtin": []}
        gen2_sizes = []
        for _ in range(args.repeat):
            # altgc, old generation empty (old lists not registered)
            t, f = time_young(loops, old, rng, young, altgc.collect, altgc.track)
            t_empty.append(t)
            found["empty"] += f

            # altgc, OLD lists registered and moved to generation 2
            consume(map(altgc.track, old))
            altgc.collect()
            size2 = altgc.stats().generations[2].size
            if size2 < n_old:
                altgc.collect()
                size2 = altgc.stats().generations[2].size
            gen2_sizes.append(size2)
            t, f = time_young(loops, old, rng, young, altgc.collect, altgc.track)
            t_full.append(t)
            found["full"] += f

            # builtin gc, same heap (old lists in its oldest generation)
            t, f = time_young(loops, old, rng, young, gc.collect)
            t_builtin.append(t)
            found["builtin"] += f
            consume(map(altgc.untrack, old))
        if min(gen2_sizes) < n_old:
            report.warn(
                "young: only %d of %d old lists reached generation 2" % (min(gen2_sizes), n_old)
            )
        for key, values in found.items():
            if any(values):
                report.warn(f"young ({key}): garbage found in a live heap: {sorted(set(values))!r}")
        report.add(
            ratio_row(
                "young_full_old",
                "collect(0) of %d lists: %d old registered vs none "
                "(both altgc; %d collections per sample)" % (young, n_old, loops),
                t_empty,
                t_full,
                goal=GOAL,
                extra={
                    "n_old": n_old,
                    "young": young,
                    "loops": loops,
                    "gen2_size": gen2_sizes,
                    "note": "builtin_s = altgc with empty old generation",
                },
            )
        )
        report.add(
            ratio_row(
                "young_vs_builtin",
                "collect(0) of %d lists, %d old: altgc vs builtin gc" % (young, n_old),
                t_builtin,
                t_full,
                extra={"n_old": n_old, "young": young, "loops": loops},
            )
        )
        del old
    finally:
        gc.collect()
        gc.unfreeze()
        gc.enable()
        if was_enabled:
            altgc.enable()


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv)
    return run_main(
        "bench_young",
        "Young collection vs old generation size",
        args,
        lambda report: bench(report, args),
    )


if __name__ == "__main__":
    sys.exit(main())
