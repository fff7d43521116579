"""Runs the installed interpreter's own Lib/test/test_gc.py and
test_finalization.py with altgc installed as the cycle collector and
``sys.modules["gc"]`` pointing at altgc.  Prints one JSON line.

Used by tests/test_cpython_suite.py (in a subprocess); by hand:
    python tests/cpython_suite.py                      # test_gc, test_finalization
    python tests/cpython_suite.py test.test_weakref    # any other CPython test modules
    python tests/cpython_suite.py --builtin            # under the builtin gc
"""

import json
import sys
import unittest

import altgc

MODULES = ["test.test_gc", "test.test_finalization"]

#: Tests that cannot apply to an alternative collector, by id suffix, with
#: the reason.  Empty: every test of 3.11-3.15 applies and passes.  (CPython
#: itself skips some, the same under the builtin gc: test_refcount_errors on
#: release builds, "built with -NDEBUG" / "built without C assertions";
#: from 3.15 test_tuple_untrack_counts, "requires free-threaded GC".  The
#: --builtin run lists them.)  Tests that start a child interpreter
#: (assert_python_ok, subprocess) exercise the child's builtin gc, not
#: altgc: they are counted separately in the output, under
#: "child_interpreter".
SKIP = {}

CHILD_MARKERS = ("assert_python_ok", "subprocess.Popen", "script_helper")


def _runs_child(test):
    import inspect

    try:
        src = inspect.getsource(getattr(test, test._testMethodName))
    except (OSError, TypeError):
        return False
    return any(m in src for m in CHILD_MARKERS)


def main():
    args = sys.argv[1:]
    builtin = "--builtin" in args
    modules = [a for a in args if a != "--builtin"] or MODULES
    if not builtin:
        altgc.install()
        sys.modules["gc"] = altgc
    suite = unittest.TestSuite()
    loader = unittest.defaultTestLoader
    child = []
    altgc_skips = []
    for name in modules:
        for test in _flatten(loader.loadTestsFromName(name)):
            reason = next((r for k, r in SKIP.items() if test.id().endswith(k)), None)
            if reason is not None and not builtin:
                setattr(test, test._testMethodName, unittest.skip(reason)(lambda *a: None))
                altgc_skips.append(test.id())
            if _runs_child(test):
                child.append(test.id())
            suite.addTest(test)
    gc_module_ok = not builtin and all(
        getattr(sys.modules[m], "gc", altgc) is altgc for m in modules
    )
    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=1).run(suite)
    info = altgc.install_info()
    print(
        json.dumps(
            {
                "python": "%d.%d" % sys.version_info[:2],
                "collector": "builtin" if builtin else "altgc",
                "run": result.testsRun,
                "failures": [t.id() for t, _ in result.failures],
                "errors": [t.id() for t, _ in result.errors],
                "skipped": {t.id(): r for t, r in result.skipped},
                "altgc_skips": altgc_skips,
                "child_interpreter": child,
                "gc_module_is_altgc": gc_module_ok,
                "installed_at_end": altgc.is_installed(),
                "altgc_collections": sum(g.collections for g in altgc.stats().generations),
                "adopted": info.adopted,
            }
        )
    )


def _flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t


if __name__ == "__main__":
    main()
