"""Which interpreters altgc runs on, checked before its C core is loaded.

altgc's collector reproduces the builtin gc of each CPython release it
knows and reads interpreter internals (free lists, frames' stack
references) that change between releases.  On any other interpreter --
an older or newer CPython, a free-threaded build, PyPy -- loading the C
core could crash or half work, so ``import altgc`` refuses with an
ImportError that names the running version and the supported ones.

    >>> from altgc._version_check import unsupported_reason
    >>> unsupported_reason("cpython", (3, 16, 0), gil_disabled=False)
    'altgc supports CPython 3.11, 3.12, 3.13, 3.14 and 3.15 (default GIL builds); this is CPython 3.16.0'
"""  # noqa: E501 - a doctest's expected output is one line

from __future__ import annotations

import sys

#: The CPython minor versions altgc supports.
SUPPORTED = ((3, 11), (3, 12), (3, 13), (3, 14), (3, 15))


def _supported_text() -> str:
    names = ["%d.%d" % v for v in SUPPORTED]
    listed = names[0] if len(names) == 1 else "{} and {}".format(", ".join(names[:-1]), names[-1])
    return f"CPython {listed} (default GIL builds)"


def unsupported_reason(
    implementation: str, version: tuple[int, ...], gil_disabled: bool
) -> str | None:
    """Why altgc cannot run on this interpreter, or None if it can.

    `implementation` is ``sys.implementation.name``, `version` the
    ``sys.version_info`` numbers, `gil_disabled` whether this is a
    free-threaded build.
    """
    where = "{} {}{}".format(
        "CPython" if implementation == "cpython" else implementation,
        ".".join(str(v) for v in version[:3]),
        " (free-threaded build)" if gil_disabled else "",
    )
    if implementation != "cpython" or tuple(version[:2]) not in SUPPORTED or gil_disabled:
        return f"altgc supports {_supported_text()}; this is {where}"
    return None


def _gil_disabled_build() -> bool:
    """Whether this is a free-threaded build (without :mod:`sysconfig` where
    ``sys.abiflags`` tells: ``import altgc`` stays cheap)."""
    if sys.version_info < (3, 13):
        return False  # free-threaded builds start with 3.13
    abiflags = getattr(sys, "abiflags", None)
    if abiflags is not None:
        return "t" in abiflags
    import sysconfig

    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def current_reason() -> str | None:
    """unsupported_reason() for the running interpreter."""
    gil_disabled = _gil_disabled_build()
    return unsupported_reason(sys.implementation.name, tuple(sys.version_info[:3]), gil_disabled)


def _running_as_main() -> bool:
    """True while ``python -m altgc ...`` is locating altgc itself."""
    if sys.argv[:1] != ["-m"]:
        return False
    argv = list(getattr(sys, "orig_argv", []))
    for i, arg in enumerate(argv[:-1]):
        if arg == "-m":
            return bool(argv[i + 1] == "altgc" or argv[i + 1].startswith("altgc."))
    return False


def check() -> None:
    """Refuse an interpreter altgc cannot run on.

    Raises ImportError naming the running and the supported versions; for
    ``python -m altgc ...`` prints that one line to stderr and exits with
    status 2 instead of a traceback.
    """
    reason = current_reason()
    if reason is None:
        return
    if _running_as_main():
        print(reason, file=sys.stderr)
        raise SystemExit(2)
    raise ImportError(reason)
