"""explain(): altgc's first answer and later answers vs objgraph, same run.

Three heap shapes, each next to 10^6 filler lists, each holding an int and
another filler picked at random (about 2*10^6 objects, a random graph):

  chain9   a module global -> 8 lists -> the target (a chain of 9 refs)
  fan50    the target has 50 referrers; one is on a 9-reference chain from
           a module global, the other 49 are held by a list that only a
           running function's local holds (no module on their way)
  fan300   the same with 300 referrers

For each: altgc.explain(target) with a fresh heap index ("first": the heap
is indexed in C, then the paths, dominators and retained size are worked
out), altgc.explain(target, refresh=False) ("later": the index is reused),
and objgraph.find_backref_chain(target, inspect.ismodule), which calls
gc.get_referrers -- a scan of the whole heap -- for every node it visits.
Both must find the same 10-object chain (checked).  objgraph is only in the
`bench` extra; without it the ratio rows are left out with a warning.

Goals: first <= 0.2 s in every shape and never slower than
objgraph on the same heap; later <= 1 ms; the heap index's memory (as
its C side accounts it) <= 16 bytes per indexed object.

    python benchmarks/bench_explain.py [--quick] [--repeat N]
"""

import gc
import inspect
import random
import sys
import time
import types

from _common import import_altgc, median, parse_args, ratio_row, run_main, value_row

altgc = import_altgc()

try:
    import objgraph
except ImportError:  # pragma: no cover - depends on the environment
    objgraph = None


def build(shape, mod):
    """Make the shape under module `mod`; return (target, decoys) where
    decoys must stay referenced by the caller's local only."""
    target = ["target"]
    node = target
    for _ in range(8):
        node = [node]
    mod.head = [node]  # module global -> 9 lists
    fan = {"chain9": 0, "fan50": 49, "fan300": 299}[shape]
    decoys = [[target, i] for i in range(fan)]
    # each decoy is itself referred to by a few containers, so a search
    # that does not know where roots are has to look at them all
    decoys = [[d] for d in decoys]
    return target, decoys


def body(report):
    args = report.args
    n = 10**5 if args.quick else 10**6
    report.log(f"filler: {n} lists, each referencing another at random")
    fillers = [[i] for i in range(n)]
    rng = random.Random(1)
    for f in fillers:
        f.append(fillers[rng.randrange(n)])
    mod = types.ModuleType("bench_explain_heap")
    sys.modules[mod.__name__] = mod
    gc.collect()
    for shape in ("chain9", "fan50", "fan300"):
        target, decoys = build(shape, mod)
        first, later = [], []
        e = None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            e = altgc.explain(target)
            first.append(time.perf_counter() - t0)
        for _ in range(max(5, args.repeat)):
            t0 = time.perf_counter()
            e2 = altgc.explain(target, refresh=False)
            later.append(time.perf_counter() - t0)
        # paths: the benchmark's own local `target`, and the module chain
        for x in (e, e2):
            [p] = [p for p in x.paths if p.root == "name"]
            assert (
                len(p.types) == 11
                and p.expr == "bench_explain_heap.head[0][0][0][0][0][0][0][0][0]"
            ), p
        idx = e.index
        report.add(
            value_row(
                f"{shape}_first",
                f"first explain ({shape}, {idx.nodes} objects indexed)",
                "ms",
                median(first) * 1e3,
                goal=200,
                extra={"samples": first, "nodes": idx.nodes, "edges": idx.edges},
            )
        )
        report.add(
            value_row(
                f"{shape}_later",
                f"later explain reusing the index ({shape})",
                "ms",
                median(later) * 1e3,
                goal=1,
                extra={"samples": later},
            )
        )
        if shape == "chain9":
            report.add(
                value_row(
                    "index_bytes_per_object",
                    "heap index memory per object",
                    "bytes/object",
                    idx.bytes_per_object,
                    goal=16,
                    extra={"bytes": idx.bytes, "nodes": idx.nodes},
                )
            )
        if objgraph is not None:
            sys.stderr.write(
                f"objgraph.find_backref_chain on {shape} "
                "(rescans the heap per node: up to ~10 s) ...\n"
            )
            sys.stderr.flush()
            reps = 1
            og = []
            for _ in range(reps):
                t0 = time.perf_counter()
                chain = objgraph.find_backref_chain(target, inspect.ismodule, max_depth=15)
                og.append(time.perf_counter() - t0)
            assert chain[0] is mod and chain[-1] is target and len(chain) == 12, [
                type(c) for c in chain
            ]
            del chain
            report.add(
                ratio_row(
                    f"{shape}_vs_objgraph",
                    f"first explain / objgraph find_backref_chain ({shape}); builtin_s is objgraph",
                    og,
                    first,
                    goal=1.0,
                )
            )
        del target, decoys, e, e2
        altgc._core._hg_clear()
    if objgraph is None:
        report.warn(
            "objgraph is not installed (pip install objgraph, or the "
            "'bench' extra): no comparison rows"
        )
    del sys.modules[mod.__name__]
    del fillers


def main(argv=None):
    args = parse_args(__doc__.split("\n")[0], argv)
    return run_main("bench_explain", "explain() vs objgraph", args, body)


if __name__ == "__main__":
    sys.exit(main())
