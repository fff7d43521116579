"""Command line: ``python -m altgc demo|run|compare|bench|version``.

Each command is a module of :mod:`altgc._cli`; this one only dispatches.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ._cli import PROG, bench, compare, demo, run, version


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the command, and
    return the process exit status (2 with the help when no command is
    given)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="altgc: an inspectable second cycle collector for CPython.",
    )
    if sys.version_info >= (3, 14):
        # "maybe you meant 'compare'?" for a mistyped command (3.15's default)
        parser.suggest_on_error = True
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo.add_parser(sub)
    version.add_parser(sub)
    run.add_parser(sub)
    compare.add_parser(sub)
    bench.add_parser(sub)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # An option the command does not have: the command's own usage
        # error, not the program's.
        command = sub.choices.get(args.command) if args.command else None
        (command or parser).error("unrecognized arguments: " + " ".join(unknown))
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


def _main_closing_a_broken_pipe() -> int | str | None:
    """:func:`main`, ending quietly with status 1 when stdout is a pipe its
    reader closed (``python -m altgc compare ... | head``): the interpreter
    would print a traceback, and another one at exit flushing stdout."""
    try:
        try:
            status: int | str | None = main()
        except SystemExit as exc:  # argparse: --help, a usage error
            status = exc.code
        out = sys.stdout  # (what a script under ``run`` left there)
        if out is not None and not getattr(out, "closed", False):
            out.flush()
    except BrokenPipeError:
        # Python's documented idiom (the signal module's "Note on SIGPIPE"):
        # stdout goes to /dev/null so the flush at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return status


if __name__ == "__main__":
    sys.exit(_main_closing_a_broken_pipe())
