"""An interpreter altgc does not support is refused at import, with one
clear line, never a crash or a half-working collector."""

import os
import shutil
import subprocess
import sys

import pytest

import altgc
from altgc import _version_check
from altgc._version_check import SUPPORTED, unsupported_reason

SUPPORTED_TEXT = "CPython 3.11, 3.12, 3.13, 3.14 and 3.15 (default GIL builds)"


def test_supported_versions_are_the_documented_ones():
    assert SUPPORTED == ((3, 11), (3, 12), (3, 13), (3, 14), (3, 15))


@pytest.mark.parametrize("version", [(3, 11, 0), (3, 12, 9), (3, 13, 0), (3, 14, 10), (3, 15, 2)])
def test_supported_interpreters_pass(version):
    assert unsupported_reason("cpython", version, gil_disabled=False) is None


@pytest.mark.parametrize(
    "impl, version, ft, shown",
    [
        ("cpython", (3, 10, 19), False, "CPython 3.10.19"),
        ("cpython", (3, 16, 0), False, "CPython 3.16.0"),
        ("cpython", (4, 0, 0), False, "CPython 4.0.0"),
        ("cpython", (3, 14, 10), True, "CPython 3.14.10 (free-threaded build)"),
        ("cpython", (3, 15, 2), True, "CPython 3.15.2 (free-threaded build)"),
        ("pypy", (3, 11, 13), False, "pypy 3.11.13"),
    ],
)
def test_unsupported_interpreters_are_named(impl, version, ft, shown):
    reason = unsupported_reason(impl, version, gil_disabled=ft)
    assert reason == "altgc supports %s; this is %s" % (SUPPORTED_TEXT, shown)


def test_running_interpreter_is_supported():
    assert _version_check.current_reason() is None


@pytest.fixture
def package_refusing_this_version(tmp_path):
    """A copy of the installed package whose table leaves out the running
    version: what a user on an unsupported interpreter gets."""
    dst = tmp_path / "altgc"
    shutil.copytree(
        os.path.dirname(altgc.__file__), dst, ignore=shutil.ignore_patterns("__pycache__")
    )
    vc = dst / "_version_check.py"
    text = vc.read_text()
    others = tuple(v for v in SUPPORTED if v != sys.version_info[:2])
    text = text.replace("SUPPORTED = %r" % (SUPPORTED,), "SUPPORTED = %r" % (others,))
    assert "SUPPORTED = %r" % (others,) in text
    vc.write_text(text)
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    return env, tmp_path


def test_import_on_unsupported_interpreter_raises_importerror(package_refusing_this_version):
    env, where = package_refusing_this_version
    code = (
        "import sys\n"
        "try:\n"
        "    import altgc\n"
        "except ImportError as e:\n"
        "    print('ImportError:', e)\n"
        "    print('core loaded:', 'altgc._core' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=where, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    running = "CPython %d.%d.%d" % sys.version_info[:3]
    lines = out.stdout.splitlines()
    assert lines[0].startswith("ImportError: altgc supports CPython ")
    assert lines[0].endswith("this is " + running)
    assert lines[1] == "core loaded: False"


def test_demo_on_unsupported_interpreter_prints_one_line_exits_2(package_refusing_this_version):
    env, where = package_refusing_this_version
    out = subprocess.run(
        [sys.executable, "-m", "altgc", "demo"],
        env=env,
        cwd=where,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    supported, this = lines[0].split("; this is ")
    assert this == "CPython %d.%d.%d" % sys.version_info[:3]
    assert supported.startswith("altgc supports CPython 3.")
    assert "%d.%d" % sys.version_info[:2] not in supported
