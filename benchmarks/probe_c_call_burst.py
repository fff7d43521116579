"""One C call that builds many containers, with cyclic garbage waiting:
how many collections run during it, and the process's peak RSS, under the
builtin gc and under altgc's install mode (issue 15, item 6).

    python benchmarks/probe_c_call_burst.py [--pairs N] [--records N]

Each side runs in a fresh process (the two alternate, ``--pairs`` times):
it makes 600 two-list cycles holding 10 KB each (6 MB of garbage waiting
for a collection), drops them, then calls ``json.loads`` once on a document
of ``--records`` records (three containers each).  3.11's builtin gc
collects inside that call (in the allocation that passes threshold0), so
the 6 MB are freed early in it; from 3.12 the builtin gc waits for the
eval breaker, i.e. the call's end.  altgc collects where the builtin gc's
own trigger starts it.  Printed per side:
collections of generations 0/1/2 during the call, the call's time and
``ru_maxrss``, medians over the pairs.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def child(mode, records):
    import gc

    doc = json.dumps([{"a": [i, i + 1], "b": {"c": i}} for i in range(records)])
    if mode == "altgc":
        sys.path.insert(0, HERE)
        from _common import import_altgc  # the installed altgc, else the checkout's

        altgc = import_altgc()
        altgc.install()

        def counts():
            return [g.collections for g in altgc.stats().generations]
    else:

        def counts():
            return [s["collections"] for s in gc.get_stats()]

    for _ in range(600):
        a = [bytearray(10_000)]
        b = [a]
        a.append(b)
    del a, b
    c0 = counts()
    t0 = time.perf_counter()
    json.loads(doc)
    t1 = time.perf_counter()
    c1 = counts()
    print(
        json.dumps(
            {
                "collections": [y - x for x, y in zip(c0, c1, strict=True)],
                "ms": (t1 - t0) * 1e3,
                "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def run(mode, records):
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--records", str(records)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def median(values):
    s = sorted(values)
    return s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=5)
    p.add_argument("--records", type=int, default=70_000)
    p.add_argument("--child", choices=("builtin", "altgc"))
    args = p.parse_args()
    if args.pairs < 1 or args.records < 1:
        p.error("--pairs and --records must be >= 1")
    if args.child:
        child(args.child, args.records)
        return
    runs = {"builtin": [], "altgc": []}
    for i in range(args.pairs):
        for mode in ("builtin", "altgc") if i % 2 == 0 else ("altgc", "builtin"):
            runs[mode].append(run(mode, args.records))
    sys.path.insert(0, HERE)
    from _common import altgc_build_info

    print(f"altgc from {altgc_build_info()[0]}")
    print(
        f"Python {sys.version.split()[0]}: json.loads of {args.records} records "
        f"({3 * args.records} containers), 6 MB of cyclic garbage waiting; "
        f"medians of {args.pairs}"
    )
    print("| | collections gen 0/1/2 during the call | call | peak RSS |")
    print("|---|---|---:|---:|")
    for mode, rs in runs.items():
        gens = "/".join(str(median([r["collections"][g] for r in rs])) for g in range(3))
        ms = median([r["ms"] for r in rs])
        rss = median([r["maxrss_mib"] for r in rs])
        print(f"| {mode} | {gens} | {ms:.1f} ms | {rss:.1f} MiB |")


if __name__ == "__main__":
    main()
