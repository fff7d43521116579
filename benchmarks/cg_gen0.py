"""Where a generation-0 collection's instructions go: callgrind counts of
``bench_gen0.py --probe`` (200 collections of one collector), per
collection, altgc's phases beside the builtin gc's whole collection.

    python benchmarks/cg_gen0.py [SHAPE N ...]     # default: half_garbage 700

Needs valgrind.  Instruction counts do not depend on the machine's load, so
this is the measurement to compare before and after a change of the young
collection (wall-clock ratios: bench_gen0.py).  Each row is an inclusive
count (the function and everything it calls) divided by the number of
collections; rows nest as indented.
"""

import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTIONS = 200

# (label, function name in the callgrind output, indent)
ALTGC_ROWS = [
    ("altgc.collect(0), whole call", "agc_collect_fn", 0),
    ("adoption (register the new containers)", "agc_install_sync", 1),
    ("registry inserts", "agc_registry_add_batch", 2),
    ("the collection", "collect_main", 1),
    ("work arrays + young index", "work_init", 2),
    ("gc_refs, subtract, reachability", "deduce_unreachable", 2),
    ("garbage graph (cycle groups)", "garbage_subgraph", 2),
    ("weakrefs", "handle_weakrefs", 2),
    ("finalizers", "finalize_garbage", 2),
    # Deaths in a collection are removed at once; from the death queue
    # on (registry.h, I8) the others wait and are settled in batches.
    # An announced death comes through the tp_dealloc hook (lists, dicts)
    # or the free hook (instances): the two entry points, which do not call
    # each other, summed (a "+" joins the names).
    (
        "registry removals at once, all of the run",
        "agc_registry_discard+agc_registry_discard_block",
        0,
    ),
    ("registry removals queued, all of the run", "agc_registry_settle_queue", 0),
]
BUILTIN_ROWS = [("gc.collect(0), whole call", "gc_collect", 0)]


def inclusive_counts(path):
    """{function name: largest inclusive count} of a callgrind output."""
    out = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    counts = {}
    # GCC's clones keep the function's name before a suffix
    # (gc_collect.lto_priv.0 in Debian's LTO builds of 3.14 and 3.15).
    clone = r"(?:\.(?:lto_priv|part|constprop|isra)\.\d+)*"
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+\S*?:(\w+)" + clone + r"(?:'\d+)?(?: |$)", line)
        if m:
            n = int(m.group(1).replace(",", ""))
            counts[m.group(2)] = max(n, counts.get(m.group(2), 0))
    return counts


def probe(who, shape, n, outdir):
    path = os.path.join(outdir, f"{who}-{shape}-{n}.out")
    env = dict(os.environ, PYTHONHASHSEED="0")
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={path}",
            sys.executable,
            os.path.join(HERE, "bench_gen0.py"),
            "--probe",
            who,
            shape,
            str(n),
        ],
        check=True,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    return inclusive_counts(path)


def main(argv):
    specs = argv or ["half_garbage", "700"]
    pairs = list(zip(specs[::2], (int(x) for x in specs[1::2]), strict=True))
    print(
        f"Python {sys.version.split()[0]}; instructions per collection, "
        f"mean of {COLLECTIONS} (callgrind, inclusive)"
    )
    with tempfile.TemporaryDirectory() as outdir:
        for shape, n in pairs:
            alt = probe("altgc", shape, n, outdir)
            blt = probe("builtin", shape, n, outdir)
            base = blt.get("gc_collect", 0) / COLLECTIONS
            print(f"\n{shape}, {n} new containers")
            print(f"| {'phase':<44} | {'instructions':>12} | {'/ builtin':>9} |")
            print(f"|{'-' * 46}|{'-' * 14}:|{'-' * 10}:|")
            for label, fn, indent in BUILTIN_ROWS + ALTGC_ROWS:
                counts = blt if (label, fn, indent) in BUILTIN_ROWS else alt
                name = ("  " * indent + label)[:44]
                found = [counts[f] for f in fn.split("+") if f in counts]
                if not found:
                    # Not in the output: the compiler inlined it into its
                    # caller, whose row counts it.
                    print(f"| {name:<44} | {'inlined':>12} | {'-':>9} |")
                    continue
                per = sum(found) / COLLECTIONS
                print(f"| {name:<44} | {per:>12,.0f} | {per / base if base else 0:>8.2f}x |")


if __name__ == "__main__":
    main(sys.argv[1:])
