"""Run every altgc benchmark and print a markdown table.

Each benchmark script runs in its own subprocess (same interpreter) and
ends its output with one JSON line; this script collects those lines and
prints one table (for benchmarks/RESULTS.md and ``python -m altgc bench``).

    python benchmarks/run_all.py            # full sizes, 5 repetitions
    python benchmarks/run_all.py --quick    # CI-speed smoke run
    python benchmarks/run_all.py --only bench_young --repeat 3
    python benchmarks/run_all.py --json results.json

Timings are printed, never asserted.  Exit status is non-zero only when a
benchmark fails to run (crash, exception, no JSON line).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import fmt_seconds, fmt_value, status  # noqa: E402

BENCHMARKS = [
    "bench_full",
    "bench_pyperformance_shapes",
    "bench_young",
    "bench_gen0",
    "bench_registry",
    "bench_install",
]


def run_one(name, passthrough, verbose=False):
    """Run benchmarks/<name>.py; return its parsed JSON result (a dict)."""
    cmd = [sys.executable, os.path.join(HERE, name + ".py"), *passthrough]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if verbose:
        for line in lines[:-1]:
            print("    " + line, file=sys.stderr)
    if proc.stderr.strip():
        sys.stderr.write(proc.stderr)
    result = None
    if lines:
        try:
            result = json.loads(lines[-1])
        except ValueError:
            result = None
    if not isinstance(result, dict):
        result = {"benchmark": name, "rows": [], "warnings": [], "error": "no JSON result line"}
    if proc.returncode != 0 and not result.get("error"):
        result["error"] = "exit status %d" % proc.returncode
    if proc.returncode < 0:
        result["error"] = "killed by signal %d (crash?)" % -proc.returncode
    result["wall_s"] = wall
    return result


def markdown_table(results):
    out = [
        "| benchmark | case | builtin gc (baseline) | altgc | value | goal | floor | status |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        name = res.get("benchmark", "?")
        if res.get("error"):
            out.append(
                "| {} | - | - | - | - | - | - | ERROR: {} |".format(
                    name, str(res["error"]).replace("|", "/")
                )
            )
        for row in res.get("rows", []):
            goal = row.get("goal")
            floor = row.get("floor")
            out.append(
                "| {} | {} | {} | {} | {} | {} | {} | {} |".format(
                    name,
                    row.get("case", "?"),
                    fmt_seconds(row.get("builtin_s")),
                    fmt_seconds(row.get("altgc_s")),
                    fmt_value(row),
                    f"<= {goal:g}" if goal is not None else "-",
                    f"<= {floor:g}" if floor is not None else "-",
                    status(row),
                )
            )
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI-speed smoke run (small sizes)")
    parser.add_argument(
        "--repeat",
        "-r",
        type=int,
        default=None,
        help="repetitions per measurement (default 5; 3 with --quick)",
    )
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", choices=BENCHMARKS, help="run only these"
    )
    parser.add_argument("--json", metavar="PATH", help="also write all results as JSON to PATH")
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="echo each benchmark's own output to stderr"
    )
    args = parser.parse_args(argv)

    passthrough = ["--json-only"]
    if args.quick:
        passthrough.append("--quick")
    if args.repeat is not None:
        passthrough += ["--repeat", str(args.repeat)]
    if args.verbose:
        passthrough.remove("--json-only")

    results = []
    for name in args.only or BENCHMARKS:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results.append(run_one(name, passthrough, verbose=args.verbose))

    repeat = args.repeat if args.repeat is not None else (3 if args.quick else 5)
    print(
        "altgc benchmarks: Python %s (%s), %s, repeat=%d%s\n"
        % (
            platform.python_version(),
            platform.python_implementation(),
            platform.machine(),
            repeat,
            ", quick" if args.quick else "",
        )
    )
    print("Ratios are altgc / builtin gc (medians, same run); value <= goal is better.\n")
    print(markdown_table(results))
    print("\nCases:")
    for res in results:
        for row in res.get("rows", []):
            print("- `{}`: {}".format(row.get("case"), row.get("description")))
    warnings = [(r.get("benchmark"), w) for r in results for w in r.get("warnings", [])]
    if warnings:
        print("\nWarnings:")
        for name, w in warnings:
            print(f"- {name}: {w}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "python": platform.python_version(),
                    "quick": args.quick,
                    "repeat": repeat,
                    "results": results,
                },
                f,
                indent=2,
            )
    return 1 if any(r.get("error") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
