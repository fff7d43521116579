"""Registry cost: memory per entry, track cost, death-notification cost.

registry_bytes   altgc.stats().bytes_per_object with N = 10**6 lists
                 registered (registry_bytes / registry_size).  Goal <= 16
                 (issue 15; the brief asked <= 24).  One size: the figure
                 moves with the arrays' growth, registry_sweep.py sweeps.
track_ns         ns per altgc.track(obj) over N new lists, driven at C
                 speed (deque(map(altgc.track, objs))), minus the same
                 loop with id() (so call overhead is mostly excluded; the
                 raw figure is in extra).  Info only.
untrack_ns       the same for altgc.untrack.  Info only.
death_hook       time to create and drop 10**7 small containers (lists,
                 dicts, tuples, instances of a plain class) in a
                 subprocess WITH altgc imported and 10**5 objects
                 registered, over the same in a subprocess WITHOUT altgc
                 imported.  The two kinds run alternately; the workload
                 is timed inside the child (startup excluded).
                 Goal <= 1.15.
death_hook_empty info only: the same with altgc imported, nothing
                 registered.
death_hook_all_kinds  info only: the same with the 10**5 registered
                 objects split among lists, dicts and tuples, so that
                 all three free-list deallocators are interposed (as
                 in install mode); death_hook registers lists only,
                 which leaves the dict and tuple deallocators alone.
"""

import json
import subprocess
import sys

from _common import (
    REPO_ROOT,
    consume,
    import_altgc,
    median,
    parse_args,
    perf_counter,
    ratio_row,
    run_main,
    value_row,
)

BYTES_GOAL = 16
DEATH_GOAL = 1.15

CHILD = r"""
import gc, json, sys, time
mode, n_containers, n_registered, root = (
    sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])

if mode != "plain":
    try:
        import altgc
    except ImportError:
        sys.path.insert(0, root)
        import altgc
    if mode == "all_kinds":
        third = n_registered // 3
        keep = ([[] for _ in range(n_registered - 2 * third)]
                + [{"k": []} for _ in range(third)]
                + [([],) for _ in range(third)])
    else:
        keep = [[] for _ in range(n_registered)]
    if mode in ("registered", "all_kinds"):
        for obj in keep:
            altgc.track(obj)
    altgc.collect()      # nothing pending when the timed loop starts
    assert "altgc" in sys.modules
else:
    assert "altgc" not in sys.modules
    # the same heap as the other modes, so the builtin gc does the same work
    keep = [[] for _ in range(n_registered)]
    gc.collect()


class P:
    pass


def work(iterations):
    for i in range(iterations):
        a = [i]
        b = {"k": i}
        c = (i, a)
        d = P()


work(1000)               # warm up
t0 = time.perf_counter()
work(n_containers // 4)  # 4 containers per iteration
elapsed = time.perf_counter() - t0
extra = {}
if mode != "plain":
    extra["registry_size"] = altgc.stats().registry_size
    extra["interposed"] = sorted(altgc._core._interposed())
print(json.dumps({"elapsed": elapsed, "extra": extra}))
"""


def run_child(mode, n_containers, n_registered):
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(n_containers), str(n_registered), REPO_ROOT],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["elapsed"], result["extra"]


def bench_memory_and_track(report, args, altgc):
    n = 10**5 if args.quick else 10**6
    was_enabled = altgc.isenabled()
    altgc.disable()
    try:
        objs = [[] for _ in range(n)]
        base = altgc.stats().registry_size
        t_track, t_untrack, t_base = [], [], []
        bytes_per, reg_bytes, reg_size = [], [], []
        for _ in range(args.repeat):
            t0 = perf_counter()
            consume(map(id, objs))
            t_base.append(perf_counter() - t0)
            t0 = perf_counter()
            consume(map(altgc.track, objs))
            t_track.append(perf_counter() - t0)
            st = altgc.stats()
            bytes_per.append(st.bytes_per_object)
            reg_bytes.append(st.registry_bytes)
            reg_size.append(st.registry_size)
            t0 = perf_counter()
            consume(map(altgc.untrack, objs))
            t_untrack.append(perf_counter() - t0)
        if min(reg_size) < base + n:
            report.warn(
                "registry_size %d < %d after tracking %d objects" % (min(reg_size), base + n, n)
            )
        report.add(
            value_row(
                "registry_bytes",
                "registry bytes per registered object at %d objects" % n,
                "bytes/object",
                median(bytes_per),
                goal=BYTES_GOAL,
                extra={
                    "n": n,
                    "registry_bytes": median(reg_bytes),
                    "registry_size": median(reg_size),
                    "bytes_per_object_samples": bytes_per,
                },
            )
        )
        base_ns = median(t_base) * 1e9 / n
        track_raw = median(t_track) * 1e9 / n
        untrack_raw = median(t_untrack) * 1e9 / n
        report.add(
            value_row(
                "track_ns",
                "altgc.track() per object, minus an id() call loop",
                "ns/object",
                track_raw - base_ns,
                extra={"n": n, "raw_ns": track_raw, "id_loop_ns": base_ns},
            )
        )
        report.add(
            value_row(
                "untrack_ns",
                "altgc.untrack() per object, minus an id() call loop",
                "ns/object",
                untrack_raw - base_ns,
                extra={"n": n, "raw_ns": untrack_raw, "id_loop_ns": base_ns},
            )
        )
        del objs
    finally:
        if was_enabled:
            altgc.enable()


def bench_death_hook(report, args):
    n_containers = 10**6 if args.quick else 10**7
    n_registered = 10**4 if args.quick else 10**5
    modes = ("plain", "registered", "empty", "all_kinds")
    samples = {mode: [] for mode in modes}
    reg_sizes = []
    for i in range(args.repeat):
        # ABBA: each mode runs as often early as late in a round
        for mode in modes if i % 2 == 0 else modes[::-1]:
            elapsed, extra = run_child(mode, n_containers, n_registered)
            samples[mode].append(elapsed)
            if mode == "registered":
                reg_sizes.append(extra.get("registry_size"))
    if reg_sizes and min(reg_sizes) < n_registered:
        report.warn(
            "death_hook: registry held %r entries, expected >= %d" % (reg_sizes, n_registered)
        )
    report.add(
        ratio_row(
            "death_hook",
            "create+drop %d small containers; altgc imported with %d registered "
            "vs not imported (subprocesses)" % (n_containers, n_registered),
            samples["plain"],
            samples["registered"],
            goal=DEATH_GOAL,
            extra={
                "n_containers": n_containers,
                "n_registered": n_registered,
                "registry_size": reg_sizes,
            },
        )
    )
    report.add(
        ratio_row(
            "death_hook_empty",
            "as death_hook, altgc imported with an empty registry",
            samples["plain"],
            samples["empty"],
            extra={"n_containers": n_containers},
        )
    )
    report.add(
        ratio_row(
            "death_hook_all_kinds",
            "as death_hook, the registered objects lists, dicts and tuples "
            "(all three deallocators interposed)",
            samples["plain"],
            samples["all_kinds"],
            extra={"n_containers": n_containers},
        )
    )


def bench(report, args):
    altgc = import_altgc()
    if not args.no_memory:
        bench_memory_and_track(report, args, altgc)
    if not args.no_death:
        bench_death_hook(report, args)


def _extra_args(parser):
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the registry memory / track cost part"
    )
    parser.add_argument(
        "--no-death", action="store_true", help="skip the death-notification subprocess part"
    )


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv, extra=_extra_args)
    return run_main(
        "bench_registry",
        "Registry memory, track and death cost",
        args,
        lambda report: bench(report, args),
    )


if __name__ == "__main__":
    sys.exit(main())
