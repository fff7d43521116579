"""Runs the installed interpreter's own Lib/test/test_gc.py and
test_finalization.py with altgc installed as the cycle collector and
``sys.modules["gc"]`` pointing at altgc.  Prints one JSON line.

Used by tests/test_cpython_suite.py (in a subprocess); by hand:
    python tests/cpython_suite.py
"""

import json
import sys
import unittest

import altgc

MODULES = ["test.test_gc", "test.test_finalization"]

#: Tests that cannot apply to an alternative collector, by id suffix, with
#: the reason.  Empty: every test of 3.10-3.13 applies and passes.  (CPython
#: itself skips test_refcount_errors on release builds: "built with
#: -NDEBUG".)  Tests that start a child interpreter (assert_python_ok,
#: subprocess) exercise the child's builtin gc, not altgc: they are counted
#: separately in the output, under "child_interpreter".
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
    altgc.install()
    sys.modules["gc"] = altgc
    suite = unittest.TestSuite()
    loader = unittest.defaultTestLoader
    child = []
    for name in MODULES:
        for test in _flatten(loader.loadTestsFromName(name)):
            reason = next((r for k, r in SKIP.items()
                           if test.id().endswith(k)), None)
            if reason is not None:
                setattr(test, test._testMethodName,
                        unittest.skip(reason)(lambda *a: None))
            if _runs_child(test):
                child.append(test.id())
            suite.addTest(test)
    gc_module_ok = all(sys.modules[m].gc is altgc for m in MODULES)
    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=1).run(
        suite)
    info = altgc.install_info()
    print(json.dumps({
        "python": "%d.%d" % sys.version_info[:2],
        "run": result.testsRun,
        "failures": [t.id() for t, _ in result.failures],
        "errors": [t.id() for t, _ in result.errors],
        "skipped": {t.id(): r for t, r in result.skipped},
        "child_interpreter": child,
        "gc_module_is_altgc": gc_module_ok,
        "installed_at_end": altgc.is_installed(),
        "altgc_collections": sum(g.collections
                                 for g in altgc.stats().generations),
        "adopted": info.adopted,
    }))


def _flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t


if __name__ == "__main__":
    main()
