"""The shape of pyperformance's ``gc_collect`` program, for callgrind and
for a quick wall-clock comparison: make 100 rings of 21 objects (each
linked both ways), drop them, time one full ``gc.collect()``.  The rest of
the heap is whatever the interpreter and ``import pyperf`` (if installed,
as in the real benchmark) leave.

    python benchmarks/probe_gc_collect.py builtin|altgc [LOOPS]
    valgrind --tool=callgrind python benchmarks/probe_gc_collect.py altgc 20

Under ``altgc`` the collector is installed first (install mode), so
``gc.collect()`` is altgc's, as under ``ALTGC_INSTALL=1``.
"""

import contextlib
import gc
import sys
import time

from _common import import_altgc
from bench_pyperformance_shapes import CYCLES, LINKS, create_rings


def run(loops):
    """Mean seconds of the timed full collection over `loops` rounds."""
    total = 0.0
    for _ in range(loops):
        gc.collect()
        heads = create_rings(CYCLES, LINKS)
        del heads
        t0 = time.perf_counter()
        n = gc.collect()
        total += time.perf_counter() - t0
        if n < CYCLES * (LINKS + 1):
            raise SystemExit(f"collected {n}, expected the rings")
    return total / loops


def main(argv):
    who = argv[0] if argv else "altgc"
    loops = int(argv[1]) if len(argv) > 1 else 50
    with contextlib.suppress(ImportError):
        import pyperf  # noqa: F401  (the real benchmark's heap)
    if who == "altgc":
        import_altgc().install()
    elif who != "builtin":
        raise SystemExit("usage: probe_gc_collect.py builtin|altgc [LOOPS]")
    run(3)
    print(f"{who}: {run(loops) * 1e3:.3f} ms per full collection")


if __name__ == "__main__":
    main(sys.argv[1:])
