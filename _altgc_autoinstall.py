"""``ALTGC_INSTALL=1``: altgc as the cycle collector of any Python process.

A wheel install of altgc puts ``zz_altgc_autoinstall.pth`` in site-packages.
Its one line runs at every interpreter start-up (as ``site`` processes
``.pth`` files) and imports this module only when ``ALTGC_INSTALL`` is set
to something other than ``""`` or ``"0"``; otherwise it costs one
environment lookup and altgc is not imported at all.  This module then calls
:func:`altgc.install` (the whole heap adopted) and makes ``import gc`` give
altgc, so ``ALTGC_INSTALL=1 python -m pytest`` runs a test suite under
altgc, subprocesses included (they inherit the variable), and its ``gc``
calls act on altgc.

``ALTGC_INSTALL_REPORT=1`` prints one line to stderr at exit saying that
altgc was the collector and what it collected; any other value but ``0`` is
a file to append that line to (for processes whose stderr is not seen, such
as benchmark workers; a file that cannot be written gets the line on
stderr instead, with a note).  Interpreters started with ``-S`` do not process
``.pth`` files: no hook there (``-I`` still processes those of
site-packages, so the hook runs).  (``import`` lines in ``.pth`` files
keep working, without a warning, until Python 3.18, which PEP 829's
``.start`` files are to replace.)

    >>> import _altgc_autoinstall
    >>> _altgc_autoinstall.wanted({"ALTGC_INSTALL": "1"}), _altgc_autoinstall.wanted({})
    (True, False)
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def wanted(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether ``ALTGC_INSTALL`` asks for install mode."""
    return environ.get("ALTGC_INSTALL", "") not in ("", "0")


#: What the builtin gc had collected (plus found uncollectable) when
#: :func:`start` installed altgc (None until then; also the guard against a second start: a venv's
#: ``lib64 -> lib`` link makes ``site`` run the ``.pth`` line twice).
_builtin_at_start: int | None = None


def _found(collector: Any) -> int:
    """Objects a collector (gc or altgc) found so far: collected plus
    uncollectable, over its generations."""
    return sum(g["collected"] + g["uncollectable"] for g in collector.get_stats())


def report_line() -> str:
    """The line ``ALTGC_INSTALL_REPORT`` writes: whether altgc is installed,
    its collections per generation and what they found, and what the
    builtin gc found since :func:`start` (0 when altgc was the collector: the
    builtin gc still runs after altgc's full collections, to empty the free
    lists, but finds nothing)."""
    import altgc

    # (builtin_api: while installed the module's get_stats is altgc's)
    from altgc._install import builtin_api

    gens = altgc.get_stats()
    builtin = _found(builtin_api) - (_builtin_at_start or 0)
    return (
        "altgc-report pid=%d installed=%s collections=%s collected=%d uncollectable=%d "
        "builtin_collected=%d argv=%r"
        % (
            os.getpid(),
            "yes" if altgc.is_installed() else "no",
            "/".join(str(g["collections"]) for g in gens),
            sum(g["collected"] for g in gens),
            sum(g["uncollectable"] for g in gens),
            builtin,
            sys.argv[:2],
        )
    )


def _report(target: str) -> None:
    """Write the report line to stderr (*target* ``"1"``) or append it to the
    file *target*; a file that cannot be written is said on stderr, with the
    line, never as a traceback at exit."""
    line = report_line()
    if target != "1":
        try:
            with open(target, "a", encoding="utf-8") as f:
                f.write(line + "\n")
            return
        except OSError as exc:
            print(
                f"altgc: ALTGC_INSTALL_REPORT: cannot append to {target!r} "
                f"({exc.strerror or exc}); the report follows",
                file=sys.stderr,
            )
    print(line, file=sys.stderr, flush=True)


def start() -> None:
    """Install altgc if ``ALTGC_INSTALL`` asks for it (the ``.pth`` line's
    call).  A failure is one line on stderr, never a failed start-up."""
    global _builtin_at_start
    if not wanted() or _builtin_at_start is not None:
        return
    try:
        import altgc
        from altgc._install import builtin_api

        _builtin_at_start = _found(builtin_api)
        altgc.install()
        # What install()'s docs ask of a program that wants the whole gc
        # module to be altgc's: from here on `import gc` gives altgc, so
        # gc.disable()/enable(), isenabled(), get_objects(), callbacks,
        # garbage and the rest steer and read the collector that runs.
        # (The builtin module's collect was made altgc's by install().)
        sys.modules["gc"] = altgc
    except Exception as exc:
        print(f"altgc: ALTGC_INSTALL is set but install failed: {exc!r}", file=sys.stderr)
        return
    target = os.environ.get("ALTGC_INSTALL_REPORT", "")
    if target not in ("", "0"):
        import atexit

        # registered after install(): runs first at exit, while installed
        atexit.register(_report, target)
