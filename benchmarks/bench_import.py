"""What ``import altgc`` costs a process, next to ``import gc`` and a bare
interpreter start-up, measured in the same run.

Each sample is a fresh interpreter (``sys.executable``), the three kinds
interleaved:

1. process: wall time of ``python -c pass``, ``python -c "import gc"`` and
   ``python -c "import altgc"`` (ratio altgc / gc);
2. in-process: ``import altgc`` timed inside the child with
   ``time.perf_counter`` (ms, goal <= 5), the number of modules it adds
   to ``sys.modules`` (the names are listed), and (Linux) the resident
   memory it adds over ``import gc``;
3. with the start-up hook (only where a wheel install put it in
   site-packages): ``ALTGC_INSTALL=1 python -c pass`` against ``python -c
   pass``, i.e. what making altgc the collector of any process costs it.

Bytecode is cached in a temporary ``PYTHONPYCACHEPREFIX`` (one warm-up run
first), as an installed package's would be: the figures are not the
compiler's.

    python benchmarks/bench_import.py [--quick] [--repeat N] [--altgc-dir DIR]

``--altgc-dir DIR`` measures the altgc package found in DIR (a checkout
with an in-place build), e.g. an older revision for a before/after table.
"""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import (  # noqa: E402 - found through the sys.path entry above
    import_altgc,
    median,
    parse_args,
    perf_counter,
    ratio_row,
    run_main,
    value_row,
)

IN_PROCESS = (
    "import sys, time, json\n"
    "before = set(sys.modules)\n"
    "t = time.perf_counter()\n"
    "import altgc\n"
    "t = time.perf_counter() - t\n"
    "print(json.dumps([t, sorted(set(sys.modules) - before)]))\n"
)

#: resident set size (KiB, Linux) of a child after `import MODULE`
RSS = (
    "import {}\n"
    "with open('/proc/self/status') as f:\n"
    "    print([line.split()[1] for line in f if line.startswith('VmRSS:')][0])\n"
)

HEAVY = ["inspect", "dataclasses", "json", "pickle", "tracemalloc", "html", "ast", "dis"]


def _env(altgc_dir, cache, extra=None):
    env = dict(os.environ)
    for name in ("PYTHONDONTWRITEBYTECODE", "ALTGC_INSTALL", "ALTGC_INSTALL_REPORT"):
        env.pop(name, None)
    env["PYTHONPYCACHEPREFIX"] = cache
    env["PYTHONPATH"] = altgc_dir + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


def _wall(code, env):
    t = perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=tempfile.gettempdir())
    return perf_counter() - t


def _child_stdout(code, env):
    """What a fresh interpreter running ``code`` prints (started outside
    the checkout, so that the installed altgc is the one imported)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    ).stdout


def _in_process(env):
    t, added = json.loads(_child_stdout(IN_PROCESS, env).splitlines()[-1])
    return t, added


def _hook_present(env):
    probe = "import sys; print('altgc' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env=dict(env, ALTGC_INSTALL="1"),
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    ).stdout
    return out.strip() == "True"


def body(report, args):
    altgc_dir = args.altgc_dir
    if altgc_dir is None:
        altgc = import_altgc()
        altgc_dir = os.path.dirname(os.path.dirname(os.path.abspath(altgc.__file__)))
    altgc_dir = os.path.abspath(altgc_dir)
    n = args.repeat * (4 if args.quick else 10)
    report.log(f"altgc measured from {altgc_dir}; {n} fresh interpreters of each kind")
    with tempfile.TemporaryDirectory(prefix="altgc-bench-import-") as cache:
        env = _env(altgc_dir, cache)
        _in_process(env)  # warm-up: compile and cache the bytecode
        bare, with_gc, with_altgc, inproc = [], [], [], []
        added = []
        for i in range(n):
            kinds = [("pass", bare), ("import gc", with_gc), ("import altgc", with_altgc)]
            for code, samples in kinds if i % 2 else kinds[::-1]:
                samples.append(_wall(code, env))
            t, added = _in_process(env)
            inproc.append(t)
        report.add(
            ratio_row(
                "process: import altgc",
                "wall time of `python -c 'import altgc'` / `python -c 'import gc'`",
                with_gc,
                with_altgc,
                extra={"bare_s": median(bare)},
            )
        )
        report.log(
            "  (bare interpreter %.1f ms, import gc %.1f ms, import altgc %.1f ms)"
            % (median(bare) * 1e3, median(with_gc) * 1e3, median(with_altgc) * 1e3)
        )
        report.add(
            value_row(
                "in-process: import altgc",
                "import altgc timed inside a fresh interpreter, median",
                "ms",
                median(inproc) * 1e3,
                goal=5.0,
            )
        )
        if sys.platform.startswith("linux"):
            rss = {}
            for module in ("gc", "altgc"):
                rss[module] = median(
                    [int(_child_stdout(RSS.format(module), env)) for _ in range(5)]
                )
            report.add(
                value_row(
                    "RSS added by import altgc",
                    "VmRSS after import altgc - after import gc, medians of 5",
                    "KiB",
                    float(rss["altgc"] - rss["gc"]),
                    extra={"gc_kib": rss["gc"], "altgc_kib": rss["altgc"]},
                )
            )
        heavy = sorted(set(added) & set(HEAVY))
        report.add(
            value_row(
                "modules added by import altgc",
                "len(sys.modules) after - before",
                "modules",
                float(len(added)),
                extra={"modules": added, "heavy": heavy},
            )
        )
        report.log("  modules: " + " ".join(added))
        if heavy:
            report.warn("import altgc imports " + ", ".join(heavy))
        if args.altgc_dir is None and _hook_present(_env(altgc_dir, cache)):
            plain, hooked = [], []
            hook_env = _env(altgc_dir, cache, {"ALTGC_INSTALL": "1"})
            for i in range(n):
                kinds = [(env, plain), (hook_env, hooked)]
                for e, samples in kinds if i % 2 else kinds[::-1]:
                    samples.append(_wall("pass", e))
            report.add(
                ratio_row(
                    "process: ALTGC_INSTALL=1",
                    "wall time of `ALTGC_INSTALL=1 python -c pass` / `python -c pass`",
                    plain,
                    hooked,
                )
            )
        else:
            report.log("  (start-up hook not measured: no wheel install, or --altgc-dir)")


def main(argv=None):
    args = parse_args(
        __doc__.splitlines()[0],
        argv,
        extra=lambda p: p.add_argument(
            "--altgc-dir", default=None, help="measure the altgc package found in this directory"
        ),
    )
    return run_main("bench_import", "import altgc: cost and modules", args, lambda r: body(r, args))


if __name__ == "__main__":
    sys.exit(main())
