"""Registry bytes per registered object across heap sizes.

    python benchmarks/registry_sweep.py [--max 10000000] [--steps 8]

Tracks N fresh lists with ``altgc.track`` for N log-spaced from 10**5 to
--max (--steps sizes per decade), prints ``stats().registry_bytes /
registry_size`` at each, then the mean, range and the values at 10**6 and
10**7.  The figure depends on where each size falls in the growth of the
entry array and of the table, hence the sweep: one size alone can be
anywhere in that range.  Deterministic (memory accounting, not time).
"""

import argparse
import statistics
from collections import deque

from _common import import_altgc


def sweep(altgc, sizes):
    """{size: registry bytes per registered object}."""
    per = {}
    for n in sizes:
        objs = [[] for _ in range(n)]
        deque(map(altgc.track, objs), 0)
        st = altgc.stats()
        per[n] = st.registry_bytes / st.registry_size
        deque(map(altgc.untrack, objs), 0)
        del objs
    return per


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=10**7, help="largest size (default 10**7)")
    parser.add_argument("--steps", type=int, default=8, help="sizes per decade (default 8)")
    args = parser.parse_args(argv)
    if args.max < 10**5 or args.steps < 1:
        parser.error("--max must be at least 10**5 and --steps at least 1")
    altgc = import_altgc()
    altgc.disable()
    sizes = []
    k = 0
    while int(10 ** (5 + k / args.steps)) <= args.max:
        sizes.append(int(10 ** (5 + k / args.steps)))
        k += 1
    per = sweep(altgc, sizes)
    for n, v in per.items():
        print(f"{n:>10,}  {v:6.2f} bytes/object")
    vals = list(per.values())
    print(
        f"mean {statistics.mean(vals):.2f}, range {min(vals):.2f}-{max(vals):.2f}"
        + "".join(f"; at {n:.0e} {per[n]:.2f}" for n in (10**6, 10**7) if n in per)
    )


if __name__ == "__main__":
    main()
