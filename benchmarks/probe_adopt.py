"""Install mode's adoption alone: ns per object to register the containers
created since the last adoption.

With altgc installed and its automatic collections off, each round creates
2,000 containers (lists and dicts, kept alive), then calls
``altgc.get_count()``, which adopts what is pending; the median round over
300 is reported in ns per object.  The registry grows to 400,000 entries
over the run (600,000 from 3.14, where a dict of ints stays tracked), so
the later rounds probe a table larger than the caches, as a program's
adoptions do.

    python benchmarks/probe_adopt.py
"""

import time

from _common import import_altgc

ROUNDS = 300
PER_ROUND = 2000


def main():
    altgc = import_altgc()
    altgc.install()
    altgc.disable()  # no automatic collections: adoption alone
    keep = []
    times = []
    for r in range(ROUNDS):
        batch = [{r: i} if i % 3 == 0 else [] for i in range(PER_ROUND)]
        keep.append(batch)
        t0 = time.perf_counter_ns()
        altgc.get_count()  # adopts what is pending
        times.append(time.perf_counter_ns() - t0)
    times.sort()
    per = times[len(times) // 2] / (PER_ROUND + 1)
    print(
        f"adoption of {PER_ROUND} new containers: median {per:.1f} ns per "
        f"object ({altgc.install_info().adopted} adopted in all)"
    )
    altgc.uninstall()


if __name__ == "__main__":
    main()
