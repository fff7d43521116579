"""Helpers shared across altgc's Python layer; imports nothing of altgc.

- :func:`run_script_as_main`: run a Python file as ``python FILE ARGS``
  would, and the exit status the interpreter would give it;
- :func:`exit_as_interpreter`: end the process as the interpreter ends it
  after such a script;
- :func:`package_parent`: the directory that holds the ``altgc`` package.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import os
import signal
import sys
import traceback
import types
from collections.abc import Callable, Sequence
from typing import NoReturn

#: The exit status a shell shows for a process killed by SIGINT (128 + 2):
#: how the interpreter ends after an uncaught KeyboardInterrupt.
INTERRUPTED_STATUS = 128 + signal.SIGINT


def package_parent() -> str:
    """The directory that holds the ``altgc`` package (a checkout's root, or
    site-packages)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class ScriptExit:
    """How a script run by :func:`run_script_as_main` ended."""

    #: the exit status the interpreter would give the process
    #: (:data:`INTERRUPTED_STATUS` when ``interrupted``)
    status: int
    #: ``"TypeName: message"`` of an uncaught exception other than
    #: SystemExit, else None
    error: str | None = None
    #: whether an uncaught KeyboardInterrupt ended the script: the
    #: interpreter then ends the process by SIGINT (see
    #: :func:`exit_as_interpreter`)
    interrupted: bool = False


def unsupported_script(script: str) -> str | None:
    """Why ``script`` cannot be run as a Python file (None when it can): a
    directory or zip file (the interpreter runs its ``__main__.py``; altgc's
    commands run Python source files only), or no such file."""
    if os.path.isdir(script):
        return f"{script} is a directory; give the Python file to run (such as its __main__.py)"
    if not os.path.isfile(script):
        return f"no such script: {script}"
    import zipimport  # loaded at start-up: nothing new in the process

    try:
        # what the interpreter tries first for a file it is given
        zipimport.zipimporter(script)
    except (zipimport.ZipImportError, OSError):
        return None
    return f"{script} is a zip file; give the Python file to run (such as its __main__.py)"


def run_script_as_main(
    script: str,
    args: Sequence[str],
    *,
    before_restore: Callable[[], None] | None = None,
    around_traceback: Callable[[Callable[[], None]], None] | None = None,
) -> ScriptExit:
    """Run the Python file ``script`` as ``python script *args`` would.

    The script runs in a new module named ``__main__`` (its globals a real
    module's, which stays ``sys.modules["__main__"]`` until
    ``before_restore()`` returned; then the previous ``__main__`` is put
    back), with ``sys.argv = [script, *args]`` (the path as given), its
    ``__file__`` and code's file name the path made absolute as the
    interpreter makes it (joined to the current directory, not normalized),
    and the script's directory (symbolic links resolved) in place of
    ``sys.path[0]``, as the interpreter puts it there.

    The exit status is the interpreter's for the same ending: ``0`` when
    the script returns or raises ``SystemExit(None)``, the code of
    ``SystemExit(int)``; any other ``SystemExit`` argument is written to
    stderr and gives ``1``; an uncaught KeyboardInterrupt writes its
    traceback and gives :data:`INTERRUPTED_STATUS` with ``interrupted``
    set; any other uncaught exception writes its traceback (from the
    script's own frames on, none of altgc's) to stderr and gives ``1``.
    Nothing is raised.

    When ``before_restore()`` runs, the objects this function made for the
    run are gone (the open file, the result), but for the script's
    ``__main__`` module: a count of live objects taken then shows what the
    script left.  ``around_traceback(print_it)``, if given, is called
    instead of printing an uncaught exception's traceback, and must call
    ``print_it()``: what printing makes (3.13+ imports the traceback module
    for it) is then the caller's to tell apart from the script's objects.

    >>> import os, sys, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "s.py")
    >>> with open(path, "w") as f:
    ...     _ = f.write("import sys; print(__name__, sys.argv[1:]); sys.exit(3)")
    >>> saved = sys.argv, sys.path[0]
    >>> run_script_as_main(path, ["a", "b"])
    __main__ ['a', 'b']
    ScriptExit(status=3, error=None, interrupted=False)
    >>> sys.argv, sys.path[0] = saved
    """
    # Since Python 3.9 the interpreter makes the __main__ script's path
    # absolute by joining it to the current directory, without normalizing
    # it; sys.argv[0] stays as given.
    filename = script if os.path.isabs(script) else os.path.join(os.getcwd(), script)
    path = os.path.abspath(filename)
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=filename, __builtins__=builtins)
    saved_main = sys.modules.get("__main__")
    sys.modules["__main__"] = main
    sys.argv = [script, *args]
    directory = os.path.dirname(os.path.realpath(filename))
    if sys.path:
        sys.path[0] = directory
    else:
        sys.path.insert(0, directory)
    # The result as plain values, made into a ScriptExit only after
    # before_restore() has run.
    status, error, interrupted = 0, None, False
    try:
        exec(_compile_file(filename), main.__dict__)
    except SystemExit as exc:
        status = _exit_status(exc.code)
    except KeyboardInterrupt as exc:
        _report_uncaught(exc, path, around_traceback)
        status, error, interrupted = INTERRUPTED_STATUS, f"{type(exc).__name__}: {exc}", True
    except BaseException as exc:
        _report_uncaught(exc, path, around_traceback)
        status, error = 1, f"{type(exc).__name__}: {exc}"
    finally:
        try:
            if before_restore is not None:
                before_restore()
        finally:
            if saved_main is not None:
                sys.modules["__main__"] = saved_main
    return ScriptExit(status, error, interrupted)


def _compile_file(filename: str) -> types.CodeType:
    """The code of the Python file ``filename`` (the file closed again)."""
    with open(filename, "rb") as f:
        return compile(f.read(), filename, "exec")


def exit_as_interpreter(ended: ScriptExit) -> NoReturn:
    """End the process as the interpreter ends it after the script that
    ended as ``ended`` says.

    Raises ``SystemExit(ended.status)``; when an uncaught KeyboardInterrupt
    ended the script, raises a new KeyboardInterrupt instead, which the
    interpreter treats as it treats the script's own: it runs the atexit
    handlers, finalizes, then kills the process with SIGINT (a shell shows
    status 130).  ``sys.excepthook`` is made to pass over that one
    exception, whose traceback would show altgc's frames: the script's was
    written already.
    """
    if not ended.interrupted:
        sys.exit(ended.status)
    interrupt = KeyboardInterrupt()
    previous = sys.excepthook

    def excepthook(
        exc_type: type[BaseException], exc: BaseException, tb: types.TracebackType | None
    ) -> None:
        if exc is not interrupt:
            previous(exc_type, exc, tb)

    sys.excepthook = excepthook
    raise interrupt


def _exit_status(code: object) -> int:
    """The status the interpreter exits with for ``SystemExit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def _report_uncaught(
    exc: BaseException,
    script: str,
    around: Callable[[Callable[[], None]], None] | None,
) -> None:
    """Print ``exc``'s traceback (see :func:`_print_script_traceback`),
    through ``around`` when given."""
    if around is None:
        _print_script_traceback(exc, script)
    else:
        around(functools.partial(_print_script_traceback, exc, script))


def _print_script_traceback(exc: BaseException, script: str) -> None:
    """The traceback Python would print, without the runner's frames."""
    tb = exc.__traceback__
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) != script:
        tb = tb.tb_next
    # A SyntaxError in the script itself (from compiling it) has no frame
    # of the script: the interpreter shows none, only the error's place.
    if tb is None and not isinstance(exc, SyntaxError):
        tb = exc.__traceback__
    # Through sys.excepthook, as the interpreter reports it (the default
    # hook prints the exception's own traceback: the one cut above).
    exc.__traceback__ = tb
    try:
        sys.excepthook(type(exc), exc, tb)
    except BaseException:
        sys.stderr.write("".join(traceback.format_exception(type(exc), exc, tb)))
