"""pytest plugin used by tox.ini (loaded with ``-p altgc_ci_plugin``).

It makes sure a tox run tests the *installed* altgc (the wheel tox built),
not the source tree's ``altgc/`` package, which has no compiled ``_core``:

* the report header says where ``altgc`` and ``altgc._core`` were imported from
  and whether the extension was built with ALTGC_DEBUG;
* after collection, it fails the run (pytest.UsageError, exit code 4) if
  ``altgc`` was imported from below ALTGC_SOURCE_TREE (tox sets it to
  {toxinidir}), or, when ALTGC_EXPECT_DEBUG_BUILD=1 (the tox ``debug`` env), if
  ``altgc._core._debug_build()`` is not true: that catches a stale non-debug
  build being reused for the debug env.
"""

import os
import sys
from pathlib import Path

import pytest


def _where(modname):
    mod = sys.modules.get(modname)
    if mod is None:
        try:
            __import__(modname)
        except Exception as exc:  # reported, the tests will show the real error
            return None, f"not importable: {exc!r}"
        mod = sys.modules[modname]
    path = getattr(mod, "__file__", None)
    return (Path(path).resolve() if path else None), None


def _problems():
    problems = []
    src = os.environ.get("ALTGC_SOURCE_TREE")
    pkg, err = _where("altgc")
    if err:
        return [f"altgc is {err}"]
    if src and pkg is not None:
        src_pkg = (Path(src) / "altgc").resolve()
        if pkg == src_pkg or src_pkg in pkg.parents:
            problems.append(
                f"altgc was imported from the source tree ({pkg}), not from the "
                f"installed wheel; run `pytest` (not `python -m pytest`) with "
                f"--import-mode=append, and do not put the repository root on sys.path"
            )
    if os.environ.get("ALTGC_EXPECT_DEBUG_BUILD") == "1":
        core = sys.modules.get("altgc._core")
        flag = getattr(core, "_debug_build", None)
        if flag is None:
            problems.append("ALTGC_EXPECT_DEBUG_BUILD=1 but altgc._core has no _debug_build()")
        elif not flag():
            problems.append(
                "ALTGC_EXPECT_DEBUG_BUILD=1 but altgc._core._debug_build() is false: "
                "the installed extension was not built with ALTGC_DEBUG=1 "
                "(stale build directory?)"
            )
    return problems


def pytest_report_header(config):
    pkg, err = _where("altgc")
    core, core_err = _where("altgc._core")
    lines = [f"altgc: {err or pkg}", f"altgc._core: {core_err or core}"]
    flag = getattr(sys.modules.get("altgc._core"), "_debug_build", None)
    if flag is not None:
        lines.append(f"altgc._core._debug_build(): {flag()}")
    return lines


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    problems = _problems()
    if problems:
        raise pytest.UsageError("altgc CI check failed:\n  " + "\n  ".join(problems))
