"""Real programs under install mode: pyperformance's benchmark programs run
under the builtin gc and with altgc as their collector (``ALTGC_INSTALL=1``,
the start-up hook of a wheel install), in the same environment.

The programs are the sources the ``pyperformance`` package ships
(``pyperformance/data-files/benchmarks/bm_*/run_benchmark.py``), run with
``pyperf`` as pyperformance runs them, but with fewer values: each run is
``run_benchmark.py ARGS -p 1 -w 1 -n VALUES --loops L`` (a worker process
under the ``pyperf`` runner; ``L`` calibrated once per program under the
builtin gc, so both sides do the same work).  Runs alternate builtin /
altgc (``--pairs`` pairs, the order flipped every pair); a program's figure
is the median over its runs of each run's median value, and the ratio is
altgc / builtin (also shown: the median of the per-pair ratios, which
resists a shared machine's slow spells better); the table ends with the
geometric means of both.

Every altgc run is checked to have had altgc as its collector: each of its
processes appends ``ALTGC_INSTALL_REPORT``'s line to a file, and the run
counts only if every line says ``installed=yes`` with ``builtin_collected=0``
(the builtin gc freed nothing) and a worker line is there; the table shows
altgc's collections per generation in the worker.

Needs ``pip install pyperformance pyperf`` (and ``genshi``, ``mako``,
``chameleon`` for the template engines, skipped when missing; the mako
program needs ``mako==1.1.4``, as pyperformance pins it: newer makos need
the markupsafe it blocks) and altgc
installed from a wheel (``pip install .``), which puts the start-up hook in
site-packages: an editable install has no hook, and the script says so.

    python benchmarks/bench_programs.py [--quick] [--pairs N] [--values N]
        [--only NAME ...] [--min-time S]
"""

import json
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import (  # noqa: E402 - found through the sys.path entry above
    median,
    parse_args,
    ratio_row,
    run_main,
    value_row,
)

#: (name, directory under data-files/benchmarks, extra arguments, module the
#: program needs besides pyperf): programs that allocate containers.
PROGRAMS = [
    ("gc_collect", "bm_gc_collect", [], None),
    ("gc_traversal", "bm_gc_traversal", [], None),
    ("deltablue", "bm_deltablue", [], None),
    ("richards", "bm_richards", [], None),
    ("raytrace", "bm_raytrace", [], None),
    ("go", "bm_go", [], None),
    ("hexiom", "bm_hexiom", [], None),
    ("chaos", "bm_chaos", [], None),
    ("deepcopy", "bm_deepcopy", [], None),
    ("json_loads", "bm_json_loads", [], None),
    ("json_dumps", "bm_json_dumps", [], None),
    ("pickle_pure_python", "bm_pickle", ["--pure-python", "pickle"], None),
    ("unpickle_pure_python", "bm_pickle", ["--pure-python", "unpickle"], None),
    ("nqueens", "bm_nqueens", [], None),
    ("xml_etree_process", "bm_xml_etree", ["process"], None),
    ("async_tree", "bm_async_tree", ["none"], None),
    ("float", "bm_float", [], None),
    ("genshi_xml", "bm_genshi", ["xml"], "genshi"),
    ("mako", "bm_mako", [], "mako"),
    ("chameleon", "bm_chameleon", [], "chameleon"),
]

MISSING = (
    "the programs come from pyperformance: pip install pyperformance pyperf "
    "(and genshi 'mako==1.1.4' chameleon for the template engines)"
)


def find_programs_dir():
    """pyperformance's data-files/benchmarks directory, or None."""
    try:
        import pyperformance
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(pyperformance.__file__), "data-files", "benchmarks")
    return path if os.path.isdir(path) else None


def have_module(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


def child_env(extra=None):
    env = dict(os.environ)
    for name in ("ALTGC_INSTALL", "ALTGC_INSTALL_REPORT", "PYTHONDEVMODE", "PYTHONTRACEMALLOC"):
        env.pop(name, None)
    env.update(extra or {})
    return env


def hook_installed():
    """Whether ALTGC_INSTALL=1 makes this interpreter install altgc at start-up."""
    out = subprocess.run(
        [sys.executable, "-c", "import altgc; print(altgc.is_installed())"],
        env=child_env({"ALTGC_INSTALL": "1"}),
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    )
    return out.returncode == 0 and out.stdout.strip() == "True"


def run_checked(cmd, extra, script, args, timeout):
    """Runs cmd, a process of the program `script` (args: its arguments),
    in the script's directory with child_env(extra); returns the completed
    process, or raises RuntimeError with its stderr's end if it failed."""
    proc = subprocess.run(
        cmd,
        env=child_env(extra),
        capture_output=True,
        text=True,
        cwd=os.path.dirname(script),
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            "{} failed ({}): {}".format(
                " ".join(args) or script, proc.returncode, proc.stderr[-1500:]
            )
        )
    return proc


def run_program(script, args, tmp, tag, loops, values, min_time, altgc):
    """One pyperf run; returns (median value in seconds, report lines)."""
    out = os.path.join(tmp, tag + ".json")
    report = os.path.join(tmp, tag + ".report")
    for path in (out, report):
        if os.path.exists(path):
            os.unlink(path)
    cmd = [sys.executable, script, *args, "-p", "1", "-q", "-o", out]
    cmd += ["--inherit-environ", "ALTGC_INSTALL,ALTGC_INSTALL_REPORT"]
    if loops is None:
        cmd += ["-n", "1", "-w", "0", "--min-time", str(min_time)]
    else:
        cmd += ["-n", str(values), "-w", "1", "--loops", str(loops)]
    extra = {"ALTGC_INSTALL": "1", "ALTGC_INSTALL_REPORT": report} if altgc else {}
    run_checked(cmd, extra, script, args, timeout=900)
    with open(out) as f:
        data = json.load(f)
    lines = []
    if os.path.exists(report):
        with open(report) as f:
            lines = f.read().splitlines()
    return data, lines


def run_values(data):
    """Every value of the run (seconds per loop), and its loops."""
    benchmarks = data.get("benchmarks") or [data]
    bench = benchmarks[0]  # one benchmark per program (see PROGRAMS' arguments)
    vals, loops = [], None
    for run in bench["runs"]:
        vals.extend(run.get("values", []))
        md = run.get("metadata", {})
        loops = md.get("loops", loops)
    if loops is None:
        loops = bench.get("metadata", {}).get("loops") or data.get("metadata", {}).get("loops")
    return vals, loops


def parse_report(line):
    return dict(f.split("=", 1) for f in line.split()[1:7])


def check_reports(lines):
    """(ok, worker collections 'g0/g1/g2', why not ok)."""
    if not lines:
        return False, "-", "no ALTGC_INSTALL_REPORT line"
    fields = [parse_report(line) for line in lines]
    bad = [f for f in fields if f.get("installed") != "yes" or f.get("builtin_collected") != "0"]
    if bad:
        return False, "-", f"not altgc's: {bad[0]}"
    workers = [f for line, f in zip(lines, fields, strict=True) if "--worker" in line]
    if not workers:
        return False, "-", "no worker process reported"
    gens = [sum(int(f["collections"].split("/")[i]) for f in workers) for i in range(3)]
    return True, "/".join(map(str, gens)), ""


def body(report, args):
    programs_dir = find_programs_dir()
    if programs_dir is None or not have_module("pyperf"):
        raise SystemExit("bench_programs: " + MISSING)
    if not hook_installed():
        raise SystemExit(
            "bench_programs: ALTGC_INSTALL=1 does not install altgc in this "
            "environment: install altgc from a wheel (pip install .), which puts "
            "its start-up hook (zz_altgc_autoinstall.pth) in site-packages; "
            "editable installs do not get it"
        )
    pairs = args.pairs or (2 if args.quick else args.repeat)
    import pyperformance

    report.log(
        "pyperformance %s programs from %s; pairs=%d, values=%d, min-time %.2f s"
        % (pyperformance.__version__, programs_dir, pairs, args.values, args.min_time)
    )
    names = [p[0] for p in PROGRAMS]
    wanted = args.only or names
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        raise SystemExit(
            "bench_programs: unknown program(s) {}; choose from {}".format(
                ", ".join(unknown), ", ".join(names)
            )
        )
    ratios = []
    with tempfile.TemporaryDirectory(prefix="altgc-bench-programs-") as tmp:
        for name, directory, extra_args, needs in PROGRAMS:
            if name not in wanted:
                continue
            script = os.path.join(programs_dir, directory, "run_benchmark.py")
            if needs and not have_module(needs):
                report.warn(f"{name} skipped: pip install {needs}")
                continue
            try:
                data, _ = run_program(
                    script, extra_args, tmp, name + "-cal", None, 1, args.min_time, False
                )
                _, loops = run_values(data)
                builtin_s, altgc_s, checks, gens = [], [], [], []
                for i in range(pairs):
                    order = (False, True) if i % 2 == 0 else (True, False)
                    for use_altgc in order:
                        tag = "%s-%d-%s" % (name, i, "altgc" if use_altgc else "builtin")
                        data, lines = run_program(
                            script,
                            extra_args,
                            tmp,
                            tag,
                            loops,
                            args.values,
                            args.min_time,
                            use_altgc,
                        )
                        vals, _ = run_values(data)
                        if use_altgc:
                            ok, g, why = check_reports(lines)
                            checks.append(ok)
                            gens.append(g)
                            if not ok:
                                report.warn(f"{name} pair {i}: {why}")
                            altgc_s.append(median(vals))
                        else:
                            builtin_s.append(median(vals))
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                report.warn(f"{name}: {exc}")
                continue
            row = ratio_row(
                name,
                f"pyperformance {name}: seconds per loop, altgc installed / builtin gc",
                builtin_s,
                altgc_s,
                goal=1.10,
                floor=1.25,
                extra={"loops": loops, "altgc_checked": all(checks), "altgc_collections": gens},
            )
            report.add(row)
            report.log(
                "  %-28s loops %-6s altgc was the collector in %d/%d runs; "
                "worker collections %s" % ("", loops, sum(checks), len(checks), gens[-1])
            )
            if all(checks) and row["value"] == row["value"]:
                ratios.append((row["value"], row["extra"]["pair_ratio_median"]))
    if ratios:
        for case, k, what in (
            ("geometric mean", 0, "ratios of medians"),
            ("geometric mean (pairs)", 1, "medians of the per-pair ratios"),
        ):
            geo = math.exp(sum(math.log(r[k]) for r in ratios) / len(ratios))
            report.add(
                value_row(
                    case,
                    f"geometric mean over {len(ratios)} programs of the {what}",
                    "ratio",
                    geo,
                    goal=1.02,
                    floor=1.10,
                    extra={"programs": len(ratios)},
                )
            )


def add_args(parser):
    parser.add_argument(
        "--pairs",
        type=int,
        default=None,
        help="interleaved builtin/altgc runs per program (default --repeat)",
    )
    parser.add_argument(
        "--values",
        type=int,
        default=3,
        help="pyperf values per run (default 3; pyperformance uses 20 x 3)",
    )
    parser.add_argument(
        "--min-time",
        type=float,
        default=0.1,
        help="seconds one value should take when calibrating loops",
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these programs")


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv, extra=add_args)
    return run_main(
        "bench_programs",
        "pyperformance programs under install mode (ALTGC_INSTALL=1)",
        args,
        lambda r: body(r, args),
    )


if __name__ == "__main__":
    sys.exit(main())
