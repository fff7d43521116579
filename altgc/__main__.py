"""Command line: ``python -m altgc demo|run|compare|bench|version``.

Each command is a module of :mod:`altgc._cli`; this one only dispatches.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._cli import bench, compare, demo, run, version


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the command, and
    return the process exit status (2 with the help when no command is
    given)."""
    parser = argparse.ArgumentParser(
        prog="python -m altgc",
        description="altgc: an inspectable second cycle collector for CPython.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo.add_parser(sub)
    version.add_parser(sub)
    run.add_parser(sub)
    compare.add_parser(sub)
    bench.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo.main(args, parser)
    if args.command == "version":
        return version.main(args)
    if args.command == "run":
        return run.main(args)
    if args.command == "compare":
        return compare.main(args)
    if args.command == "bench":
        return bench.main(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
