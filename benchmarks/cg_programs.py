"""Instructions per loop of pyperformance's programs, under the builtin gc
and under install mode: the callgrind counts that issue 15 asks for beside
``bench_programs.py``'s wall-clock ratios.

Each program runs as one pyperf worker process (``run_benchmark.py ARGS
--worker -n 1 -w 0 --loops L``), once with ``L`` loops and once with ``3L``,
under the builtin gc and with altgc installed at start-up (the
``ALTGC_INSTALL=1`` hook's own ``start()``, called before the program, so
a wheel install is not needed).  The difference of the two counts, per
loop, is the program's work: it takes out start-up, the import of altgc and
the adoption of the heap.  Every altgc run is checked to have had altgc as
its collector (``ALTGC_INSTALL_REPORT``'s line, as in
``bench_programs.py``).  ``L`` is chosen from one native run so that ``L``
loops take about ``--target-ms`` milliseconds.

Instruction counts do not depend on the machine's load: this can run
beside other work, where wall-clock ratios cannot.  Needs valgrind and
``pip install pyperformance pyperf``, and altgc importable (built in place
or installed).

    python benchmarks/cg_programs.py [--only NAME ...] [--target-ms 10]
"""

import argparse
import json
import math
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from bench_programs import (  # noqa: E402 - found through the sys.path entry above
    MISSING,
    PROGRAMS,
    check_reports,
    find_programs_dir,
    have_module,
    run_checked,
)

#: Runs the program as its own __main__ after the start-up hook's start():
#: argv[1] is the script, the rest its arguments.
WRAPPER = """\
import runpy, sys
if sys.argv[1] == "altgc":
    import _altgc_autoinstall
    _altgc_autoinstall.start()
del sys.argv[:2]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def command(args, loops, out):
    # --worker first: the report line names argv[:2], which check_reports
    # reads for it
    return ["--worker", *args, "-n", "1", "-w", "0", "--loops", str(loops), "-o", out]


def in_place_build():
    """Whether this checkout's altgc has its extension built in place for
    this interpreter (then it is the one measured)."""
    import sysconfig

    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    return os.path.exists(os.path.join(ROOT, "altgc", "_core" + suffix))


def run(who, script, args, loops, tmp, valgrind):
    """One worker process; returns (instructions or None, seconds per loop,
    report lines, its stderr)."""
    out = os.path.join(tmp, "out.json")
    report = os.path.join(tmp, "report")
    cg = os.path.join(tmp, "cg.out")
    for path in (out, report, cg):
        if os.path.exists(path):
            os.unlink(path)
    cmd = [sys.executable, "-c", WRAPPER, who, script, *command(args, loops, out)]
    if valgrind:
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={cg}", *cmd]
    extra = {"PYTHONHASHSEED": "0"}
    if in_place_build():
        extra["PYTHONPATH"] = ROOT  # else the installed altgc (and its hook)
    if who == "altgc":
        extra.update({"ALTGC_INSTALL": "1", "ALTGC_INSTALL_REPORT": report})
    proc = run_checked(cmd, extra, script, args, timeout=3600)
    with open(out) as f:
        data = json.load(f)
    value = data["benchmarks"][0]["runs"][-1]["values"][0]
    lines = []
    if os.path.exists(report):
        with open(report) as f:
            lines = f.read().splitlines()
    instructions = None
    if valgrind:
        with open(cg) as f:
            for line in f:
                if line.startswith("totals:") or line.startswith("summary:"):
                    instructions = int(line.split()[1])
    return instructions, value, lines, proc.stderr


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these programs only")
    parser.add_argument(
        "--target-ms", type=float, default=10.0, help="native time of L loops (default 10)"
    )
    args = parser.parse_args(argv)
    programs_dir = find_programs_dir()
    if programs_dir is None or not have_module("pyperf"):
        raise SystemExit("cg_programs: " + MISSING)
    chosen = [p for p in PROGRAMS if not args.only or p[0] in args.only]
    print(
        f"Python {sys.version.split()[0]}; instructions per loop, "
        "(count with 3L loops - count with L) / 2L, callgrind"
    )
    print()
    print(f"| {'program':<22} | {'L':>4} | {'builtin gc':>13} | {'altgc':>13} | {'ratio':>6} |")
    print(f"|{'-' * 24}|{'-' * 5}:|{'-' * 14}:|{'-' * 14}:|{'-' * 7}:|")
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, directory, extra_args, module in chosen:
            if module is not None and not have_module(module):
                print(f"| {name:<22} | skipped: {module} is not installed")
                continue
            script = os.path.join(programs_dir, directory, "run_benchmark.py")
            _, per_loop, _, _ = run("builtin", script, extra_args, 1, tmp, valgrind=False)
            loops = max(1, math.ceil(args.target_ms / 1000 / per_loop))
            per = {}
            for who in ("builtin", "altgc"):
                counts = []
                for n in (loops, 3 * loops):
                    ins, _, lines, err = run(who, script, extra_args, n, tmp, valgrind=True)
                    if who == "altgc":
                        ok, _, why = check_reports(lines)
                        if not ok:
                            raise SystemExit(f"cg_programs: {name}: {why}\n{err[-1500:]}")
                    counts.append(ins)
                per[who] = (counts[1] - counts[0]) / (2 * loops)
            ratio = per["altgc"] / per["builtin"]
            ratios.append(ratio)
            print(
                f"| {name:<22} | {loops:>4} | {per['builtin']:>13,.0f} | "
                f"{per['altgc']:>13,.0f} | {ratio:>5.3f}x |",
                flush=True,
            )
    if ratios:
        geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        print(f"| {'geometric mean':<22} | {'':>4} | {'':>13} | {'':>13} | {geo:>5.3f}x |")


if __name__ == "__main__":
    main(sys.argv[1:])
