"""Generation-0 collections of program size: altgc in install mode against
the builtin gc, in one process, interleaved.

A program's most frequent collection is a young one over the containers
made since the last: 700 of them by default on 3.11 and 3.12, 2000 from
3.13.  In install mode a young collection also pays for what the builtin
gc gets from the object header: adopting (registering) each new container,
and removing each dead one from the registry.  So each sample here is

    make N new containers (the shape below), then time collect(0)

with the builtin's ``gc.collect`` when altgc is not installed and
``altgc.collect`` (adoption + collection + deaths of the garbage) when it
is: the time a program loses at that collection.  The objects' creation is not timed (it
is the same on both sides).  Shapes, N = 700 and 2000:

  half_garbage  N/2 lists in 2-cycles, dropped; N/2 lists kept alive
  survive       N lists kept alive (a young collection that frees nothing)
  finalizers    N/2 instances with __del__ in 2-cycles, dropped; N/2 kept
  weakrefs      N/2 instances in 2-cycles, dropped, each pair watched by a
                weakref with a callback; N/2 lists kept

Each row: median over ``--repeat`` rounds of the sum of LOOPS collections,
the two collectors alternating (altgc installed, then uninstalled, ...).

    python benchmarks/bench_gen0.py [--quick] [--repeat N]

Under callgrind (instruction counts, which the machine's load does not
move), one collector and one shape at a time:

    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=cg.out \\
        python benchmarks/bench_gen0.py --probe altgc half_garbage 700
    callgrind_annotate --inclusive=yes cg.out | grep -E 'gc_collect|agc_'
"""

import gc
import sys
import weakref

from _common import import_altgc, median, parse_args, perf_counter, ratio_row, run_main

LOOPS = 50
SIZES = (700, 2000)
SHAPES = ("half_garbage", "survive", "finalizers", "weakrefs")


class Node:
    __slots__ = ("__weakref__", "other")


class Fin(Node):
    __slots__ = ()

    def __del__(self):
        pass


def make(shape, n, keep):
    """Make n containers in `shape`; live ones go to `keep` (a list made
    before the measurement).  Returns the weakrefs that must stay alive
    (the 'weakrefs' shape) or None."""
    half = n // 2
    if shape == "survive":
        keep.extend([[i] for i in range(n)])
        return None
    keep.extend([[i] for i in range(half)])
    refs = []
    callback = refs.append if shape == "weakrefs" else None
    for _ in range(half // 2):
        if shape != "half_garbage":
            cls = Fin if shape == "finalizers" else Node
            a, b = cls(), cls()
            a.other, b.other = b, a
        else:
            a = [None]
            b = [a]
            a[0] = b
        if shape == "weakrefs":
            refs.append(weakref.ref(a, callback))
    return refs if shape == "weakrefs" else None


def one_round(shape, n, loops, collect):
    """Sum of `loops` timed collect(0) calls, each after making n objects."""
    total = 0.0
    found = 0
    for _ in range(loops):
        keep = []
        refs = make(shape, n, keep)
        t0 = perf_counter()
        found += collect(0) or 0
        total += perf_counter() - t0
        del keep, refs
    return total, found


def bench(report, args):
    altgc = import_altgc()
    loops = 10 if args.quick else LOOPS
    shapes = SHAPES
    builtin_collect = gc.collect
    gc.collect()
    gc.freeze()  # the start-up heap is in neither collector's young set
    for n in SIZES:
        for shape in shapes:
            t_builtin, t_altgc, f_builtin, f_altgc = [], [], [], []
            for _ in range(args.repeat):
                gc.disable()
                t, f = one_round(shape, n, loops, builtin_collect)
                t_builtin.append(t)
                f_builtin.append(f)
                altgc.install()
                try:
                    t, f = one_round(shape, n, loops, altgc.collect)
                finally:
                    altgc.uninstall()
                t_altgc.append(t)
                f_altgc.append(f)
            if median(f_builtin) != median(f_altgc):
                report.warn(f"{shape} {n}: builtin found {f_builtin}, altgc {f_altgc} (per round)")
            report.add(
                ratio_row(
                    f"gen0_{shape}_{n}",
                    f"make {n} containers ({shape}), time collect(0) (altgc installed vs builtin); "
                    f"{loops} collections per sample",
                    t_builtin,
                    t_altgc,
                    goal=1.0,
                    floor=1.2,
                    extra={"n": n, "loops": loops, "found_per_round": median(f_altgc)},
                )
            )
    gc.unfreeze()
    gc.enable()


def probe(argv):
    """--probe COLLECTOR SHAPE N: 200 collections of one collector, for
    callgrind."""
    who, shape, n = argv[0], argv[1], int(argv[2])
    if who not in ("altgc", "builtin") or shape not in SHAPES:
        sys.exit(f"--probe altgc|builtin {'|'.join(SHAPES)} N")
    gc.collect()
    gc.freeze()
    gc.disable()
    collect = gc.collect
    if who == "altgc":
        altgc = import_altgc()
        altgc.install()
        collect = altgc.collect
    t, found = one_round(shape, n, 200, collect)
    print(f"{who} {shape} {n}: {t / 200 * 1e6:.1f} us per collect(0), {found} found")


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv)
    return run_main(
        "bench_gen0",
        "Generation-0 collections, install mode vs builtin gc",
        args,
        lambda report: bench(report, args),
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--probe"]:
        probe(sys.argv[2:])
    else:
        sys.exit(main())
