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

Goal: <= 50 ms added per cell (the ``ms/cell`` rows: the CPU time of
altgc's pre/post-cell hooks, timed around them); the ratio rows compare
the whole cell's CPU time with and without.  CPU (process) time, not wall
time, so a shared machine blurs the figures less.

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
    """CPU seconds per cell over ``ncells`` cells (process time: the
    machine may be shared)."""
    t0 = time.process_time()
    for k in range(ncells):
        shell.run_cell(CELLS[k % len(CELLS)], store_history=True, silent=False)
    return (time.process_time() - t0) / ncells


def timed_hooks(shell, acc):
    """Replace altgc's pre/post-cell callbacks by wrappers adding their CPU
    time to ``acc``; return a function putting the originals back."""
    import altgc._ipython as ip

    def wrap(fn):
        def hook(*args):
            t0 = time.process_time()
            fn(*args)
            acc.append(time.process_time() - t0)

        return hook

    pairs = [("pre_run_cell", ip._pre_run_cell), ("post_run_cell", ip._post_run_cell)]
    wrappers = []
    for name, fn in pairs:
        shell.events.unregister(name, fn)
        w = wrap(fn)
        shell.events.register(name, w)
        wrappers.append((name, fn, w))

    def restore():
        for name, fn, w in wrappers:
            shell.events.unregister(name, w)
            shell.events.register(name, fn)

    return restore


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

    base, logged, watched, hooks_log, hooks_watch = [], [], [], [], []
    with redirect_stdout(io.StringIO()):
        run_round(shell, ncells)  # warm up IPython
        for _ in range(reps):
            base.append(run_round(shell, ncells))
            shell.run_line_magic("load_ext", "altgc")
            acc = []
            restore = timed_hooks(shell, acc)
            logged.append(run_round(shell, ncells))
            hooks_log.append(sum(acc) / ncells)
            shell.run_line_magic("altgc", "watch-threshold 1MB")
            acc.clear()
            watched.append(run_round(shell, ncells))
            hooks_watch.append(sum(acc) / ncells)
            restore()
            shell.run_line_magic("altgc", "watch --off")
            shell.run_line_magic("unload_ext", "altgc")
    from altgc._explain import leftovers

    entries = len(leftovers.log.entries)
    print(f"{ncells} cells a round, {reps} rounds; the cell log held {entries} entries at the end")
    b, lg, w = median(base), median(logged), median(watched)
    hl, hw = median(hooks_log), median(hooks_watch)
    print(
        f"CPU per cell: without altgc {b * 1e3:.2f} ms, with the cell log {lg * 1e3:.2f} ms, "
        f"with auto-watch too {w * 1e3:.2f} ms; altgc's hooks: {hl * 1e3:.2f} ms "
        f"(cell log), {hw * 1e3:.2f} ms (with auto-watch)"
    )
    report.add(ratio_row("cell_log", "cell CPU with %load_ext altgc / without", base, logged))
    report.add(
        ratio_row("cell_autowatch", "cell CPU with auto-watch (1MB) too / without", base, watched)
    )
    for case, what, samples in (
        ("cell_log_hooks_ms", "cell log", hooks_log),
        ("cell_autowatch_hooks_ms", "cell log and auto-watch", hooks_watch),
    ):
        report.add(
            value_row(
                case,
                f"CPU ms of altgc's pre/post-cell hooks per cell ({what})",
                "ms/cell",
                median(samples) * 1e3,
                goal=50.0,
                extra={"samples_ms": [x * 1e3 for x in samples]},
            )
        )
    leftovers.log.clear()
    shell.user_ns.pop("heap", None)


def main(argv=None):
    args = parse_args(__doc__.split("\n")[0], argv)
    return run_main("bench_cells", "cost of %load_ext altgc per cell", args, body)


if __name__ == "__main__":
    sys.exit(main())
