"""The commands of ``python -m altgc``, one module each: :mod:`.demo`,
:mod:`.run`, :mod:`.compare`, :mod:`.bench` and :mod:`.version`.  Each has
``add_parser(subparsers)`` and ``main(args)`` returning the exit status;
:mod:`altgc.__main__` dispatches."""

from __future__ import annotations

import sys

#: the program name every command's messages start with, as argparse's
PROG = "python -m altgc"


def fail(command: str, msg: str) -> int:
    """Write ``python -m altgc COMMAND: error: MSG`` on stderr, as
    argparse words a usage error of the command, and return 2 (bad input).

    >>> fail("demo", "--size must be at least 1")  # doctest: +SKIP
    2
    """
    sys.stderr.write(f"{PROG} {command}: error: {msg}\n")
    return 2
