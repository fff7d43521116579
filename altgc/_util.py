"""Helpers shared across altgc's Python layer; imports nothing of altgc.

- :func:`run_script_as_main`: run a Python file as ``python FILE ARGS``
  would, and the exit status the interpreter would give it;
- :func:`package_parent`: the directory that holds the ``altgc`` package.
"""

from __future__ import annotations

import builtins
import dataclasses
import os
import sys
import traceback
import types
from collections.abc import Callable, Sequence


def package_parent() -> str:
    """The directory that holds the ``altgc`` package (a checkout's root, or
    site-packages)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class ScriptExit:
    """How a script run by :func:`run_script_as_main` ended."""

    #: the exit status the interpreter would give the process
    status: int
    #: ``"TypeName: message"`` of an uncaught exception other than
    #: SystemExit, else None
    error: str | None = None


def run_script_as_main(
    script: str,
    args: Sequence[str],
    *,
    before_restore: Callable[[], None] | None = None,
) -> ScriptExit:
    """Run the Python file ``script`` as ``python script *args`` would.

    The script runs in a new module named ``__main__`` (its globals a real
    module's, which stays ``sys.modules["__main__"]`` until
    ``before_restore()`` returned; then the previous ``__main__`` is put
    back), with ``sys.argv = [script, *args]`` and the script's directory in
    place of ``sys.path[0]`` (as the interpreter puts it there).

    The exit status is the interpreter's for the same ending: ``0`` when
    the script returns or raises ``SystemExit(None)``, the code of
    ``SystemExit(int)``; any other ``SystemExit`` argument is written to
    stderr and gives ``1``; any other uncaught exception writes its
    traceback (from the script's own frames on, none of altgc's) to stderr
    and gives ``1``.  Nothing is raised.

    >>> import os, sys, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "s.py")
    >>> with open(path, "w") as f:
    ...     _ = f.write("import sys; print(__name__, sys.argv[1:]); sys.exit(3)")
    >>> saved = sys.argv, sys.path[0]
    >>> run_script_as_main(path, ["a", "b"])
    __main__ ['a', 'b']
    ScriptExit(status=3, error=None)
    >>> sys.argv, sys.path[0] = saved
    """
    path = os.path.abspath(script)
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=script, __builtins__=builtins)
    saved_main = sys.modules.get("__main__")
    sys.modules["__main__"] = main
    sys.argv = [script, *args]
    if sys.path:
        sys.path[0] = os.path.dirname(path)
    else:
        sys.path.insert(0, os.path.dirname(path))
    result = ScriptExit(0)
    try:
        with open(script, "rb") as f:
            source = f.read()
        exec(compile(source, script, "exec"), main.__dict__)
    except SystemExit as exc:
        result = ScriptExit(_exit_status(exc.code))
    except BaseException as exc:
        _print_script_traceback(exc, path)
        result = ScriptExit(1, f"{type(exc).__name__}: {exc}")
    finally:
        try:
            if before_restore is not None:
                before_restore()
        finally:
            if saved_main is not None:
                sys.modules["__main__"] = saved_main
    return result


def _exit_status(code: object) -> int:
    """The status the interpreter exits with for ``SystemExit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def _print_script_traceback(exc: BaseException, script: str) -> None:
    """The traceback Python would print, without the runner's frames."""
    tb = exc.__traceback__
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) != script:
        tb = tb.tb_next
    if tb is None:
        tb = exc.__traceback__
    sys.stderr.write("".join(traceback.format_exception(type(exc), exc, tb)))
