"""``python -m altgc version``: print altgc's version."""

from __future__ import annotations

import argparse
from typing import Any

import altgc


def add_parser(sub: Any) -> None:
    sub.add_parser("version", help="print the version")


def main(args: argparse.Namespace) -> int:
    """Print the version."""
    print(altgc.__version__)
    return 0
