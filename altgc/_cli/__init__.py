"""The commands of ``python -m altgc``, one module each: :mod:`.demo`,
:mod:`.run`, :mod:`.compare`, :mod:`.bench` and :mod:`.version`.  Each has
``add_parser(subparsers)`` and ``main(args)`` returning the exit status;
:mod:`altgc.__main__` dispatches."""

from __future__ import annotations

import os
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


def output_path_error(option: str, path: str) -> str | None:
    """Why ``option``'s file (compare's --json, --html, --png; bench's
    --json) cannot be written at ``path``, or None.  Checked before the
    runs, which may take minutes: the files are written only after them."""
    if not path:
        return f"{option}: the path is empty"
    if os.path.isdir(path):
        return f"{option}: {path} is a directory"
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        return f"{option}: cannot write {path}: the directory {parent} does not exist"
    if not os.access(parent, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        return f"{option}: cannot write {path}: permission denied"
    return None
