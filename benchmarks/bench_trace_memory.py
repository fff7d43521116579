"""Memory and time of ``altgc.trace()`` over N registered lists in
2-cycles, half of them held (so half are unreachable).

    python benchmarks/bench_trace_memory.py [--collect] N [N ...]

Per N: tracemalloc's peak during the trace and what the ``Trace`` keeps
afterwards (current minus the level before), in MB and bytes per traced
object, the trace's wall time (with tracemalloc on: slower than without)
and the process's max RSS so far.  Each N runs in its own interpreter so
that peaks and max RSS are its own.  Not run by ``run_all.py``.
"""

import argparse
import os
import subprocess
import sys

CHILD = r"""
import gc, resource, sys, time, tracemalloc
import altgc
gc.disable(); altgc.disable()
n, collect = int(sys.argv[1]), sys.argv[2] == "1"
for o in altgc.get_objects():
    altgc.untrack(o)
altgc.trace([], collect=collect)  # imports and caches first
objs = []
for _ in range(n // 2):
    a = []; b = [a]; a.append(b)
    objs += (a, b)
for o in objs:
    altgc.track(o)
keep = objs[: n // 2]
del objs, a, b, o
tracemalloc.start()
base = tracemalloc.get_traced_memory()[0]
t0 = time.perf_counter()
t = altgc.trace(generation=2, limit=10**8, collect=collect)
dt = time.perf_counter() - t0
cur, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
m = len(t.objects)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("%9d  %-7s %8.1f MB %6.0f B  %8.1f MB %6.0f B  %6.2f s  %6.0f MB" % (
    m, "collect" if collect else "look", (peak - base) / 1e6, (peak - base) / m,
    (cur - base) / 1e6, (cur - base) / m, dt, rss))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", nargs="+", type=int, help="objects to trace (even, >= 2)")
    ap.add_argument("--collect", action="store_true", help="trace(collect=True)")
    args = ap.parse_args()
    if any(n < 2 or n % 2 for n in args.n):
        ap.error("N must be even and >= 2")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = here + os.pathsep + env.get("PYTHONPATH", "")
    print(
        "  objects  trace        peak  per obj        kept  per obj     time  max RSS", flush=True
    )
    for n in args.n:
        code = subprocess.call(
            [sys.executable, "-c", CHILD, str(n), "1" if args.collect else "0"], env=env
        )
        if code:
            sys.exit(code)


if __name__ == "__main__":
    main()
