"""Program comparison: run a script under the builtin gc and under altgc
(installed as the process's collector), each in its own process, and
compare what the two collectors did.

Not to be confused with :mod:`altgc.compare` (the *heap* comparison: both
collectors asked about the live heap of this process).

Each run records every collection (generation, objects collected and
uncollectable, pause, when), the total GC time, wall time, peak RSS and
exit status, and whether the two runs printed the same thing.  The modules:
:mod:`.runner` starts the runs, :mod:`.child` is the harness the script runs
under, :mod:`.report` holds the record (JSON round-trip), and
:mod:`.text_report`, :mod:`.html_report` (with an SVG chart drawn here, no
external resources) and :mod:`.png_report` (matplotlib, the ``plot`` extra)
render it.  ``python -m altgc compare`` is the command line.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .html_report import render_html, render_svg
    from .png_report import MATPLOTLIB_MISSING, have_matplotlib, render_png
    from .report import (
        GEN_COLORS,
        SIDE_COLORS,
        SIDE_LABEL,
        SIDES,
        CompareError,
        CompareReport,
        RunResult,
        load_report,
        percentile,
        summarize,
        summarize_run,
    )
    from .runner import compare_program, parse_threshold, run_once
    from .text_report import format_table, table_rows

__all__ = [
    "GEN_COLORS",
    "MATPLOTLIB_MISSING",
    "SIDES",
    "SIDE_COLORS",
    "SIDE_LABEL",
    "CompareError",
    "CompareReport",
    "RunResult",
    "compare_program",
    "format_table",
    "have_matplotlib",
    "load_report",
    "parse_threshold",
    "percentile",
    "render_html",
    "render_png",
    "render_svg",
    "run_once",
    "summarize",
    "summarize_run",
    "table_rows",
]

#: name -> the module defining it
_HOME = {
    "render_html": "html_report",
    "render_svg": "html_report",
    "MATPLOTLIB_MISSING": "png_report",
    "have_matplotlib": "png_report",
    "render_png": "png_report",
    "format_table": "text_report",
    "table_rows": "text_report",
    "compare_program": "runner",
    "parse_threshold": "runner",
    "run_once": "runner",
}


def __getattr__(name: str) -> Any:
    """The API above, imported on first use: the child process imports this
    package too, and must not load the runner's imports (``subprocess``
    leaves garbage the script's first collection would count)."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f".{_HOME.get(name, 'report')}", __name__)
    return getattr(module, name)
