"""What ``import altgc`` costs, and altgc as any process's collector.

``import altgc`` loads the collector only (the C core and install mode); the
rest of the package loads on first use through ``altgc._LAZY``.  A wheel
install adds ``zz_altgc_autoinstall.pth`` to site-packages, whose line makes
``ALTGC_INSTALL=1 python ...`` install altgc at start-up and does nothing
else without the variable.  Every scenario runs in a fresh interpreter.
"""

import os
import subprocess
import sys
import textwrap

import pytest
from support import PKG_PARENT, run_python, subprocess_env

import altgc

#: Modules the collector does not need; none may come with ``import altgc``
#: or with ``ALTGC_INSTALL=1``.
HEAVY = [
    "inspect",
    "dataclasses",
    "json",
    "pickle",
    "tracemalloc",
    "html",
    "ast",
    "dis",
    "typing",
    "contextlib",
    "threading",
    "sysconfig",
]

PTH = os.path.join(PKG_PARENT, "zz_altgc_autoinstall.pth")

#: The variables of the hook, unset in every child unless a test sets them.
HOOK_VARS = ("ALTGC_INSTALL", "ALTGC_INSTALL_REPORT")


def _env(extra=None, pythonpath=True):
    env = subprocess_env() if pythonpath else dict(os.environ)
    for name in (*HOOK_VARS, "PYTHONDEVMODE", "PYTHONTRACEMALLOC"):
        env.pop(name, None)
    env.update(extra or {})
    return env


def _run(code, extra=None, args=(), cwd=PKG_PARENT, pythonpath=True):
    proc = subprocess.run(
        [sys.executable, *args, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=_env(extra, pythonpath),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _added_modules(args=(), extra=None):
    out = _run(
        """
        import sys
        before = set(sys.modules)
        import altgc
        print(" ".join(sorted(set(sys.modules) - before)))
        """,
        extra,
        args,
    ).stdout.split()
    return set(out)


# ---- import altgc ------------------------------------------------------------


def test_import_loads_no_heavy_module():
    added = _added_modules()
    assert "altgc._core" in added
    assert not added & set(HEAVY), sorted(added & set(HEAVY))
    # the explain/compare/stats/notebook code waits for its first use
    assert not {m for m in added if m.startswith("altgc.")} - {
        "altgc._core",
        "altgc._install",
        "altgc._stats",
        "altgc._version_check",
    }, sorted(added)


def test_lazy_names_resolve_once_and_are_the_submodules_objects():
    out = run_python("""
        import importlib, altgc
        assert set(altgc._LAZY) <= set(altgc.__all__)
        assert set(altgc.__all__) <= set(dir(altgc))
        for name, module in altgc._LAZY.items():
            assert name not in vars(altgc), name          # not loaded yet
            first = getattr(altgc, name)
            assert name in vars(altgc), name              # cached
            assert getattr(altgc, name) is first
            assert first is getattr(importlib.import_module("altgc." + module), name)
        from altgc import Stats, explain
        assert Stats is altgc.Stats and explain is altgc.explain
        for name in altgc.__all__:
            getattr(altgc, name)
        try:
            altgc.no_such_name
        except AttributeError as exc:
            assert "no_such_name" in str(exc)
        else:
            raise AssertionError("no AttributeError")
        s = altgc.stats()
        assert type(s) is altgc.Stats and type(s.generations[0]) is altgc.GenerationStats
        print("ok")
    """).stdout
    assert out.split() == ["ok"]


def test_stats_records_load_with_the_package():
    # Not on first use: a callback that reads them could otherwise run
    # while user code's first import of them is half done
    # (tests/test_records.py).  They import nothing.
    out = run_python("""
        import sys, altgc
        assert "altgc._stats" in sys.modules
        a = []; a.append(a); altgc.track(a); del a
        assert altgc.collect() == 1
        info = altgc.last_collection()
        print(type(info).__name__, type(altgc.install_info()).__name__,
              "dataclasses" in sys.modules, "typing" in sys.modules)
    """).stdout
    assert out.split() == ["CollectionInfo", "InstallInfo", "False", "False"]


def test_tracemalloc_imported_only_when_tracing():
    # Tracing from start-up (-X tracemalloc): altgc's hook sits on top of
    # tracemalloc's, so altgc imports tracemalloc to guard its stop().
    code = """
        import sys, altgc
        print("tracemalloc" in sys.modules)
        import tracemalloc
        print(getattr(tracemalloc.stop, "_altgc_guard", False))
    """
    assert _run(code).stdout.split() == ["False", "False"]
    assert _run(code, args=("-X", "tracemalloc")).stdout.split() == ["True", "True"]


def test_tracing_from_startup_then_stopped_keeps_the_death_hook():
    out = _run(
        """
        import gc, altgc, tracemalloc
        assert tracemalloc.is_tracing()
        tracemalloc.stop()
        class C:
            pass
        gc.disable()
        stale = 0
        for i in range(500):
            x = C(); altgc.track(x); del x
            y = C()
            stale += altgc.is_tracked(y)
            del y
        altgc._core._validate()
        print(stale, altgc.stats().registry_size)
        """,
        args=("-X", "tracemalloc"),
    ).stdout
    assert out.split() == ["0", "0"]


def test_free_threaded_check_agrees_with_sysconfig():
    import sysconfig

    from altgc import _version_check

    assert _version_check._gil_disabled_build() == bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


# ---- gc.collect() while installed ------------------------------------------------


def test_builtin_collect_returns_altgcs_count_while_installed():
    out = run_python("""
        import gc, altgc
        from gc import collect as bound_before    # the builtin function itself
        original = gc.collect
        altgc.install()
        gc.collect()
        class Node:
            pass
        def ring(n):
            nodes = [Node() for _ in range(n)]
            for a, b in zip(nodes, nodes[1:] + nodes[:1]):
                a.next = b
        ring(10)
        n = gc.collect()
        assert n == 10, n
        assert altgc.last_collection().unreachable == 10
        assert gc.collect(generation=0) == 0
        try:
            gc.collect(7)
        except ValueError:
            pass
        else:
            raise AssertionError("no ValueError")
        # bound before install: altgc collects, the builtin function returns 0
        ring(4)
        before = altgc.get_stats()[2]["collections"]
        assert bound_before() == 0
        assert altgc.get_stats()[2]["collections"] == before + 1
        # the ring, and whatever else is garbage by now (on 3.13 the lazy
        # import of altgc's records leaves garbage of its own)
        last = altgc.last_collection()
        assert last.unreachable >= 4, last
        assert [t for c in last.cycles for t, _ in c].count("Node") == 4, last
        altgc.uninstall()
        assert gc.collect is original
        ring(3)
        assert gc.collect() >= 3
        print("ok")
    """).stdout
    assert out.split() == ["ok"]


# ---- the start-up hook's module ----------------------------------------------------


def test_hook_module_does_nothing_without_the_variable():
    for value in (None, "", "0"):
        extra = {} if value is None else {"ALTGC_INSTALL": value}
        out = _run(
            """
            import sys, _altgc_autoinstall
            _altgc_autoinstall.start()
            print("altgc" in sys.modules)
            """,
            extra,
        ).stdout
        assert out.split() == ["False"], value


def test_hook_module_installs_and_reports(tmp_path):
    report = tmp_path / "report.txt"
    out = _run(
        """
        import _altgc_autoinstall, altgc
        _altgc_autoinstall.start()
        _altgc_autoinstall.start()        # a second .pth run: no second report
        print(altgc.is_installed())
        """,
        {"ALTGC_INSTALL": "1", "ALTGC_INSTALL_REPORT": str(report)},
    ).stdout
    assert out.split() == ["True"]
    lines = report.read_text().splitlines()
    assert len(lines) == 1 and "installed=yes" in lines[0], lines


def test_hook_report_to_an_unwritable_file_says_so_on_stderr(tmp_path):
    # Before, a report file in a missing directory printed a traceback from
    # the atexit handler and lost the report.
    target = tmp_path / "missing" / "report.txt"
    proc = _run(
        """
        import _altgc_autoinstall
        _altgc_autoinstall.start()
        """,
        {"ALTGC_INSTALL": "1", "ALTGC_INSTALL_REPORT": str(target)},
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    said, line = proc.stderr.splitlines()
    assert said.startswith("altgc: ALTGC_INSTALL_REPORT: cannot append to ")
    assert str(target) in said and "No such file or directory" in said
    assert line.startswith("altgc-report ") and "installed=yes" in line
    assert not target.parent.exists()


def test_hook_makes_the_gc_module_altgcs():
    # An unedited program's gc calls must act on the collector that runs.
    # Before, only gc.collect did: isenabled() read False, get_objects()
    # missed the adopted heap, DEBUG_SAVEALL saved nothing, and a library's
    # gc.disable(); ...; gc.enable() turned the builtin gc back on beside
    # altgc (with a RuntimeWarning).
    proc = _run(
        """
        import warnings
        warnings.simplefilter("error")
        import _altgc_autoinstall
        _altgc_autoinstall.start()
        import gc, altgc
        from altgc._install import builtin_api
        class M:
            pass
        m = M()
        print(gc is altgc, gc.isenabled(), any(o is m for o in gc.get_objects()))
        print(any(r is globals() for r in gc.get_referrers(m)))
        gc.disable(); gc.enable()
        print(builtin_api.isenabled(), altgc.isenabled())
        seen = []
        gc.callbacks.append(lambda phase, info: seen.append(phase))
        gc.set_debug(gc.DEBUG_SAVEALL)
        a = []; a.append(a); del a
        n = gc.collect()
        saved = any(type(o) is list and o and o[0] is o for o in gc.garbage)
        print(n >= 1, len(gc.garbage) == n, saved, seen)
        """,
        {"ALTGC_INSTALL": "1"},
    )
    # (the builtin gc stays enabled while installed, as the trigger of
    # altgc's collections)
    assert proc.stdout.split("\n")[:4] == [
        "True True True",
        "True",
        "True True",
        "True True True ['start', 'stop']",
    ], proc.stdout + proc.stderr


# ---- the .pth hook of a wheel install ---------------------------------------------


def _require_pth():
    if os.path.exists(PTH):
        return
    why = (
        f"no {os.path.basename(PTH)} next to the altgc under test ({PKG_PARENT}): "
        "editable installs and in-place builds do not get the start-up hook; "
        "a wheel install does"
    )
    if os.environ.get("ALTGC_REQUIRE_PTH") == "1":
        pytest.fail(why + " (ALTGC_REQUIRE_PTH=1)")
    pytest.skip(why)


CYCLES_SCRIPT = """
import gc, sys, weakref
assert "altgc" in sys.modules                # installed before the script ran
import altgc
assert altgc.is_installed()
class Node:
    pass
a = Node(); a.self = a
w = weakref.ref(a)
del a
gen0 = altgc.get_stats()[0]["collections"]
junk = []
while w() is not None:                       # altgc's automatic collections
    b = Node(); b.self = b; junk.append(len(junk))
assert altgc.get_stats()[0]["collections"] > gen0
print("collected by altgc", gc.collect() >= 0, "gc" in sys.modules)
"""


def test_pth_installs_altgc_when_the_variable_is_set(tmp_path):
    _require_pth()
    script = tmp_path / "script.py"
    script.write_text(CYCLES_SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=_env({"ALTGC_INSTALL": "1", "ALTGC_INSTALL_REPORT": "1"}, pythonpath=False),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[:4] == ["collected", "by", "altgc", "True"]
    reports = [line for line in proc.stderr.splitlines() if line.startswith("altgc-report")]
    assert len(reports) == 1, proc.stderr
    fields = dict(f.split("=", 1) for f in reports[0].split()[1:7])
    assert fields["installed"] == "yes"
    assert int(fields["collections"].split("/")[0]) > 0
    assert int(fields["collected"]) > 0
    # the builtin gc found nothing: the script's gc.collect() was altgc's
    assert fields["builtin_collected"] == "0", reports[0]


@pytest.mark.parametrize("value", [None, "0", ""])
def test_pth_without_the_variable_imports_nothing(value):
    _require_pth()
    extra = {} if value is None else {"ALTGC_INSTALL": value}
    out = _run(
        "import sys; print([m for m in sys.modules if 'altgc' in m])",
        extra,
        cwd=os.path.dirname(PTH),
        pythonpath=False,
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(("flag", "hooked"), [("-I", True), ("-S", False)])
def test_pth_under_isolated_and_no_site(flag, hooked):
    # -I skips only the user's site directory: site-packages' .pth files
    # still run (the docs said -I had no hook); -S runs none.
    _require_pth()
    out = _run(
        "import sys; m = sys.modules.get('altgc'); "
        "print(m is not None and m.is_installed(), m is not None and sys.modules.get('gc') is m)",
        {"ALTGC_INSTALL": "1"},
        args=(flag,),
        pythonpath=False,
    ).stdout
    assert out.split() == [str(hooked), str(hooked)]


def test_pth_install_mode_imports_no_heavy_module():
    _require_pth()
    code = "import sys; print(' '.join(sorted(sys.modules)))"
    plain = set(_run(code, pythonpath=False).stdout.split())
    installed = set(_run(code, {"ALTGC_INSTALL": "1"}, pythonpath=False).stdout.split())
    assert "altgc._core" in installed
    assert not (installed - plain) & set(HEAVY), sorted((installed - plain) & set(HEAVY))


def test_pth_runs_a_pytest_session_under_altgc(tmp_path):
    _require_pth()
    (tmp_path / "test_tiny.py").write_text(
        textwrap.dedent("""
        import gc, weakref
        import altgc

        def test_runs_under_altgc():
            assert altgc.is_installed()
            class Node:
                pass
            a = Node(); a.self = a
            w = weakref.ref(a)
            del a
            assert gc.collect() >= 1
            assert w() is None
        """)
    )
    report = tmp_path / "report.txt"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_tiny.py"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=_env({"ALTGC_INSTALL": "1", "ALTGC_INSTALL_REPORT": str(report)}, pythonpath=False),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "1 passed" in proc.stdout
    lines = report.read_text().splitlines()
    assert len(lines) == 1 and "installed=yes" in lines[0], lines


def test_this_process_altgc_is_the_one_the_hook_installs():
    # the hook imports the altgc these tests run against
    _require_pth()
    assert os.path.dirname(os.path.dirname(altgc.__file__)) == os.path.dirname(PTH)


def test_docstring_examples_of_the_new_modules():
    import doctest

    import _altgc_autoinstall
    from altgc import _stats

    # (altgc and altgc._install: tests/test_docs.py)
    for module in (_altgc_autoinstall, _stats):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted >= 1, module
