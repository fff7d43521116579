"""Install mode: a program-shaped workload under the builtin gc and with
altgc installed, and the cost of install(adopt=True) on a large heap.

1. program: instances with __dict__, dicts, lists, closures, a deque of
   long-lived records, some cyclic garbage every iteration, and every 100
   iterations pyperformance's gc_collect shape (rings of nodes, then an
   explicit gc.collect()).  Each run is a fresh child process, alternating
   builtin / altgc; the child records every collection through the
   collector's callbacks.  Reported: wall-time ratio (goal <= 1.2), total
   GC time ratio, the longest pause of each, peak RSS of each.
2. install: install(adopt=True) and uninstall() on a heap of 10**6 tracked
   containers (half lists, half instances), in ns per adopted object, next
   to one builtin full gc.collect() over the same heap.

    python benchmarks/bench_install.py [--quick] [--repeat N]
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import (  # noqa: E402 - found through the sys.path entry above
    REPO_ROOT,
    Report,
    import_altgc,
    median,
    parse_args,
    perf_counter,
    ratio_row,
    value_row,
)

CHILD = r"""
import json, resource, sys, time
from collections import deque
mode, iterations = sys.argv[1], int(sys.argv[2])
if mode == "altgc":
    import altgc
    altgc.install()
    sys.modules["gc"] = altgc
    collector = altgc
else:
    import gc as collector
import gc

pauses = []
_t = [0]
def cb(phase, info, _now=time.perf_counter_ns):
    if phase == "start":
        _t[0] = _now()
    else:
        pauses.append(_now() - _t[0])
collector.callbacks.append(cb)

class Record:
    def __init__(self, i):
        self.i = i
        self.tags = {"id": i, "kind": "r"}
        self.items = [i, str(i), (i, i + 1)]

class Node:
    def __init__(self):
        self.next = None

def closure(x):
    def get():
        return x
    return get

def ring(n):
    first = node = Node()
    for _ in range(n - 1):
        node.next = Node()
        node = node.next
    node.next = first

def program(iterations):
    keep = deque(maxlen=20000)
    total = 0
    for it in range(iterations):
        recs = [Record(i) for i in range(40)]
        index = {r.i: r for r in recs}
        getters = [closure(r) for r in recs[:10]]
        total += sum(g().i for g in getters) + len(index)
        keep.extend(recs[:4])
        a = Record(-1); b = Record(-2); a.peer = b; b.peer = a
        lst = [a]; lst.append(lst)
        if it % 100 == 0:
            for _ in range(100):
                ring(20)
            gc.collect()
    return total

t0 = time.perf_counter()
result = program(iterations)
wall = time.perf_counter() - t0
collector.callbacks.remove(cb)
extra = {}
if mode == "altgc":
    info = altgc.install_info()
    extra = {"adopted": info.adopted, "adopt_ns": info.adopt_ns,
             "polls": info.polls, "poll_ns": info.poll_ns}
print(json.dumps({**extra,
    "result": result, "wall": wall, "gc_ns": sum(pauses),
    "max_pause_ns": max(pauses) if pauses else 0,
    "collections": len(pauses),
    "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"""


def run_child(mode, iterations):
    env = dict(os.environ)
    altgc = import_altgc()
    env["PYTHONPATH"] = (
        os.path.dirname(os.path.dirname(os.path.abspath(altgc.__file__)))
        + os.pathsep
        + env.get("PYTHONPATH", "")
    )
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(iterations)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def bench_program(report, args):
    iterations = 3000 if args.quick else 20000
    runs = {"builtin": [], "altgc": []}
    for i in range(args.repeat):
        order = ("builtin", "altgc") if i % 2 == 0 else ("altgc", "builtin")
        for mode in order:
            runs[mode].append(run_child(mode, iterations))
    b, a = runs["builtin"], runs["altgc"]
    if {r["result"] for r in b} != {r["result"] for r in a}:
        report.warn("the program's result differs between the collectors")
    desc = "program-shaped workload, %d iterations (child processes)" % (iterations)
    report.add(
        ratio_row(
            "program wall",
            desc,
            [r["wall"] for r in b],
            [r["wall"] for r in a],
            goal=1.2,
            extra={
                "collections_builtin": median([r["collections"] for r in b]),
                "collections_altgc": median([r["collections"] for r in a]),
            },
        )
    )
    report.add(
        ratio_row(
            "program total GC time",
            desc,
            [r["gc_ns"] / 1e9 for r in b],
            [r["gc_ns"] / 1e9 for r in a],
        )
    )
    report.add(
        ratio_row(
            "program longest pause",
            desc,
            [r["max_pause_ns"] / 1e9 for r in b],
            [r["max_pause_ns"] / 1e9 for r in a],
        )
    )
    adopt = median([r["adopt_ns"] / max(1, r["adopted"]) for r in a])
    poll = median([r["poll_ns"] / max(1, r["polls"]) for r in a])
    report.add(
        value_row(
            "install: adoption per object",
            desc,
            "ns/object",
            adopt,
            extra={"polls_per_run": median([r["polls"] for r in a]), "ns_per_poll": poll},
        )
    )
    report.log(
        "    install mode bookkeeping: {:.0f} ns per adopted object, "
        "{:.0f} polls per run at {:.0f} ns each".format(
            adopt, median([r["polls"] for r in a]), poll
        )
    )
    rss_b = median([r["maxrss_kb"] for r in b]) / 1024
    rss_a = median([r["maxrss_kb"] for r in a]) / 1024
    report.add(
        value_row(
            "program peak RSS",
            desc,
            "ratio",
            rss_a / rss_b,
            extra={"builtin_mb": rss_b, "altgc_mb": rss_a},
        )
    )
    report.log(
        "    peak RSS: builtin %.1f MB, altgc %.1f MB; collections: "
        "builtin %d, altgc %d"
        % (
            rss_b,
            rss_a,
            median([r["collections"] for r in b]),
            median([r["collections"] for r in a]),
        )
    )


def bench_install_cost(report, args):
    altgc = import_altgc()
    import gc

    n = 100_000 if args.quick else 1_000_000

    class Obj:
        pass

    heap = [[] if i % 2 else Obj() for i in range(n)]
    gc.collect()
    t_builtin, t_install, t_uninstall, adopted = [], [], [], []
    for _ in range(args.repeat):
        t0 = perf_counter()
        gc.collect()
        t_builtin.append(perf_counter() - t0)
        before = altgc.install_info().adopted
        t0 = perf_counter()
        altgc.install()
        t_install.append(perf_counter() - t0)
        adopted.append(altgc.install_info().adopted - before)
        t0 = perf_counter()
        altgc.uninstall()
        t_uninstall.append(perf_counter() - t0)
    k = median(adopted)
    desc = "install(adopt=True) over %d containers (+ the interpreter's)" % n
    report.add(
        value_row(
            "install(adopt=True)",
            desc,
            "ns/object",
            median(t_install) / k * 1e9,
            extra={
                "seconds": median(t_install),
                "adopted": k,
                "builtin_full_collect_s": median(t_builtin),
            },
        )
    )
    report.add(
        value_row(
            "uninstall()",
            desc,
            "ns/object",
            median(t_uninstall) / k * 1e9,
            extra={"seconds": median(t_uninstall)},
        )
    )
    report.log(
        "    install %.3f s, uninstall %.3f s, builtin gc.collect() "
        "on the same heap %.3f s (%d objects adopted)"
        % (median(t_install), median(t_uninstall), median(t_builtin), k)
    )
    del heap


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv)
    report = Report("bench_install", args)
    report.header("install mode")
    bench_program(report, args)
    bench_install_cost(report, args)
    report.emit()


if __name__ == "__main__":
    main()
