"""What ``%load_ext altgc`` adds to every notebook cell, same run.

An in-process IPython shell (no kernel: the cost measured is the
pre/post-cell hooks, not messaging) over a heap of 10^6 lists each
referencing another at random (about 2*10^6 objects with their ints).
The same cells run without the extension, with it (the per-cell log of
``%altgc cells``: output, traceback, figures, caches, young-generation
cycle analysis), and with auto-watch on (``%altgc watch-threshold 1MB``:
every new name weighed by what it holds); the rounds alternate.  A round
is 60 cells: a cell making 200 small lists, one showing a list (cached in
``Out``), one deleting the name -- the log then holds a few hundred
outputs, as a long session would.

Goal: <= 50 ms added per cell (the ``ms/cell`` rows); the ratio rows
compare the cell's wall time with and without.

    python benchmarks/bench_cells.py [--quick] [--repeat N]
"""

import gc
import random
import sys
import time

from _common import import_altgc, median, parse_args, ratio_row, run_main, value_row

altgc = import_altgc()

CELLS = [
    "y = [list(range(50)) for _ in range(200)]",
    "y[0] + [len(y)]",  # an output: Out[n], _, __
    "del y",
]


def shell_or_none():
    try:
        from IPython.core.interactiveshell import InteractiveShell
    except ImportError:  # pragma: no cover - IPython is in the notebook extra
        return None
    return InteractiveShell.instance()


def run_round(shell, ncells):
    """Seconds per cell over ``ncells`` cells."""
    t0 = time.perf_counter()
    for k in range(ncells):
        shell.run_cell(CELLS[k % len(CELLS)], store_history=True, silent=False)
    return (time.perf_counter() - t0) / ncells


def body(report):
    args = report.args
    shell = shell_or_none()
    if shell is None:
        report.warn("IPython is not installed (the 'notebook' extra): nothing measured")
        return
    n = 10**5 if args.quick else 10**6
    rnd = random.Random(5)
    heap = [[i] for i in range(n)]
    for node in heap:
        node.append(heap[rnd.randrange(n)])
    shell.user_ns["heap"] = heap
    del heap, node
    gc.collect()
    print(f"heap: {n} lists with a reference each, {len(gc.get_objects())} tracked objects")
    ncells = 30 if args.quick else 60
    reps = args.repeat or (3 if args.quick else 5)
    import io
    from contextlib import redirect_stdout

    base, logged, watched = [], [], []
    with redirect_stdout(io.StringIO()):
        run_round(shell, ncells)  # warm up IPython
        for _ in range(reps):
            base.append(run_round(shell, ncells))
            shell.run_line_magic("load_ext", "altgc")
            logged.append(run_round(shell, ncells))
            shell.run_line_magic("altgc", "watch-threshold 1MB")
            watched.append(run_round(shell, ncells))
            shell.run_line_magic("altgc", "watch --off")
            shell.run_line_magic("unload_ext", "altgc")
    from altgc._explain import leftovers

    entries = len(leftovers.log.entries)
    print(f"{ncells} cells a round, {reps} rounds; the cell log held {entries} entries at the end")
    b, lg, w = median(base), median(logged), median(watched)
    print(
        f"per cell: without altgc {b * 1e3:.2f} ms, with the cell log {lg * 1e3:.2f} ms "
        f"(+{(lg - b) * 1e3:.2f} ms), with auto-watch too {w * 1e3:.2f} ms "
        f"(+{(w - b) * 1e3:.2f} ms)"
    )
    report.add(ratio_row("cell_log", "cell with %load_ext altgc / without", base, logged))
    report.add(
        ratio_row("cell_autowatch", "cell with auto-watch (1MB) too / without", base, watched)
    )
    report.add(
        value_row(
            "cell_log_added_ms",
            "ms added per cell by the cell log (median with - median without)",
            "ms/cell",
            (lg - b) * 1e3,
            goal=50.0,
        )
    )
    report.add(
        value_row(
            "cell_autowatch_added_ms",
            "ms added per cell with auto-watch on too",
            "ms/cell",
            (w - b) * 1e3,
            goal=50.0,
        )
    )
    leftovers.log.clear()
    shell.user_ns.pop("heap", None)


def main(argv=None):
    args = parse_args(__doc__.split("\n")[0], argv)
    return run_main("bench_cells", "cost of %load_ext altgc per cell", args, body)


if __name__ == "__main__":
    sys.exit(main())
