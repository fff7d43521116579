"""Pauses against wall time on pyperformance's ``async_tree`` program
(its "none" variant): one ``asyncio.run`` of the tree, every collection
timed through the collector's ``callbacks``, under the builtin gc or with
altgc installed.  Shows how much of a program's slow-down lies inside the
collections and how much outside them (registration, death hooks).

    python benchmarks/probe_async_tree.py builtin|altgc

Needs ``pip install pyperformance pyperf`` (the program's source).
"""

import asyncio
import gc
import os
import resource
import sys
import time

from _common import import_altgc
from bench_programs import find_programs_dir


def main(argv):
    who = argv[0] if argv else "altgc"
    programs = find_programs_dir()
    if programs is None:
        raise SystemExit("needs pyperformance: pip install pyperformance pyperf")
    sys.path.insert(0, os.path.join(programs, "bm_async_tree"))
    import run_benchmark  # pyperformance's program

    if who == "altgc":
        collector = import_altgc()
        collector.install()
    elif who == "builtin":
        collector = gc
    else:
        raise SystemExit("usage: probe_async_tree.py builtin|altgc")
    pause = [0, 0, 0]
    count = [0, 0, 0]
    started = [0]

    def timer(phase, info):
        if phase == "start":
            started[0] = time.perf_counter_ns()
        else:
            g = info["generation"]
            pause[g] += time.perf_counter_ns() - started[0]
            count[g] += 1

    collector.callbacks.append(timer)
    tree = run_benchmark.NoneAsyncTree()
    t0 = time.perf_counter()
    asyncio.run(tree.run())
    wall = time.perf_counter() - t0
    collector.callbacks.remove(timer)
    ms = " / ".join(f"{p / 1e6:.1f}" for p in pause)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{who}: wall {wall * 1e3:.0f} ms; collections {count[0]} / {count[1]} / "
        f"{count[2]}; pause {ms} ms, all {sum(pause) / 1e6:.1f} ms; "
        f"peak RSS {peak:.1f} MiB"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
